def sensor_stats(readings):
    """A step pinned to numpy 1.26: np.float_ and np.product were removed in numpy 2."""
    import numpy as np

    values = np.array(readings, dtype=np.float_)
    return {
        "numpy": np.__version__,
        "mean": float(values.mean()),
        "product": float(np.product(values)),
        "count": int(values.size),
    }
