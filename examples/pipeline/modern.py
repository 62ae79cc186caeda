def forecast(readings, horizon=3):
    """A step that needs numpy 2: np.long and np.unstack only exist from 2.0 / 2.1."""
    import numpy as np

    values = np.asarray(readings, dtype=np.float64)
    slope, intercept = np.polyfit(np.arange(values.size), values, 1)
    future = [float(intercept + slope * (values.size + i)) for i in range(horizon)]
    pairs = np.unstack(np.stack([np.arange(horizon), np.asarray(future)]))
    return {
        "numpy": np.__version__,
        "long_bits": np.dtype(np.long).itemsize * 8,
        "forecast": [round(v, 3) for v in pairs[1].tolist()],
    }
