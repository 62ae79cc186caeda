import platform
import sys


def greet(name):
    """Runs in the task's own environment: note the interpreter path is inside venvflow's cache."""
    return {
        "greeting": f"Hello, {name}!",
        "python": platform.python_version(),
        "interpreter": sys.executable,
    }
