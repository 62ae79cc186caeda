"""venvflow's task runner: imports one callable and runs it in this interpreter (CPython 3.8 to 3.13).

Started by src/runtime as `<python> runner.py` (or forked by zygote.py, which calls `run_attempt`). Protocol
version 2 (docs/runtime.md):
- the control object arrives on stdin (spawn; stdin is /dev/null once it is read) or in the fork request:
  {"protocol", "token", "callable", "serializer", "args", "kwargs", "stringArgs", "maxResultBytes", "logFd"};
- the result leaves as the last frame on fd `logFd`, one JSON line:
  {"__venvflow_result__": {"protocol", "ok": true, "value"} | {"protocol", "ok": false, "error": {"type",
  "message", "traceback", "code"?, "fix"?}}, "token"};
- exits 0 on success, 1 when the callable (or the runner on its behalf) raised, n on `sys.exit(n)`;
- `logging` records go as JSON lines {"level", "logger", "msg"} to fd `logFd`, so their levels survive.
No files: a temporary directory per attempt cost the host 1.5 ms (mkdtemp, write, rm on this ext4) and the
child ~0.5 ms more, a third of a forked attempt (measured). Values cross as JSON; tagged objects
{"__venvflow__": "datetime" | "pickle", ...} carry what JSON cannot.
"""
from __future__ import annotations

import sys

# Before anything else is imported: the user's tree must not get __pycache__ directories.
sys.dont_write_bytecode = True

import __future__ as _future  # noqa: E402
import base64  # noqa: E402
import datetime  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import types  # noqa: E402

PROTOCOL = 2
RESULT_FRAME = "__venvflow_result__"
TAG = "__venvflow__"
INLINE_FILENAME = "<venvflow inline source>"
# Inline source runs as __main__, like Airflow's generated script: dill and cloudpickle then pickle its functions
# and classes by value, so a later task can load them.
INLINE_MODULE = "__main__"
# For a file whose name is taken (e.g. json.py): never shadow a loaded module, never run its __main__ block.
FALLBACK_MODULE = "__venvflow_task__"
PICKLE_FAMILY = ("pickle", "cloudpickle", "dill")
# JavaScript numbers are doubles: larger integers would silently lose precision in TypeScript.
MAX_SAFE_INTEGER = 2**53 - 1
_THIS_FILE = os.path.abspath(__file__)
# Where the host listens for logging records and the result (the same fd in both launchers).
LOG_FD = 3


class RunnerError(Exception):
    """A failure the runner detected on the callable's behalf (bad result, missing serializer...)."""

    def __init__(self, code: str, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.fix = fix


def type_name(value: object) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", "builtins")
    qualname = getattr(cls, "__qualname__", cls.__name__)
    # Python's own tracebacks name these without a module too.
    return qualname if module in ("builtins", "__main__") else module + "." + qualname


def serializer_module(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise RunnerError(
            "serializer_missing",
            "serializer '%s' is not installed in %s" % (name, sys.executable),
            "add %s to the requirements (venvflow adds it itself when systemSitePackages is false), "
            "or install it into that interpreter" % name,
        ) from None


def safe_repr(value: object, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not hide the value itself
        text = "<%s (repr failed: %s)>" % (type_name(value), type_name(exc))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode(value: object) -> object:
    """JSON from TypeScript to Python values: tagged datetimes and opaque pickles are restored."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get(TAG)
        if tag == "datetime":
            # fromisoformat() before 3.11 does not accept a trailing "Z".
            iso = str(value["iso"]).replace("Z", "+00:00")
            return datetime.datetime.fromisoformat(iso)
        if tag == "pickle":
            name = str(value.get("serializer", "pickle"))
            if name not in PICKLE_FAMILY:
                raise RunnerError("invalid_argument", "opaque value names unknown serializer '%s'" % name)
            return serializer_module(name).loads(base64.b64decode(str(value["b64"])))
        if tag is not None:
            raise RunnerError("invalid_argument", "unknown tagged value kind '%s'" % tag)
        return {key: decode(item) for key, item in value.items()}
    return value


def describe_path(path: str) -> str:
    return "the return value" + path


def a_type(value: object) -> str:
    name = type_name(value)
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def encode(value: object, serializer: str, lib: types.ModuleType | None, path: str = "") -> object:
    """Python values to JSON for TypeScript; what JSON cannot carry is pickled (or refused with "json")."""
    cls = type(value)
    if value is None or cls is bool or cls is str:
        return value
    if cls is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
        return value
    if cls is float and value == value and value not in (float("inf"), float("-inf")):
        return value
    if cls is list or cls is tuple:
        return [encode(item, serializer, lib, "%s[%d]" % (path, i)) for i, item in enumerate(value)]  # type: ignore[arg-type]
    if cls is dict and all(type(key) is str for key in value) and TAG not in value:  # type: ignore[attr-defined]
        return {key: encode(item, serializer, lib, "%s[%r]" % (path, key)) for key, item in value.items()}  # type: ignore[attr-defined]
    if serializer == "json":
        if cls is float:
            raise RunnerError(
                "not_json_serializable",
                "%s is %r, which JSON cannot represent (only finite floats are JSON numbers)" % (describe_path(path), value),
                "return None (or a string such as 'nan') in its place, e.g. `None if math.isnan(x) or math.isinf(x) else x`, "
                "or set serializer to 'pickle'",
            )
        if cls is datetime.datetime and value.tzinfo is not None and value.utcoffset() is not None:  # type: ignore[attr-defined]
            return {TAG: "datetime", "iso": value.isoformat()}  # type: ignore[attr-defined]
        raise RunnerError(
            "not_json_serializable",
            "%s is %s, which the 'json' serializer cannot carry" % (describe_path(path), a_type(value)),
            "return JSON data (dict with str keys, list, str, int, float, bool, None, tz-aware datetime), "
            "or set serializer to 'pickle', 'cloudpickle' or 'dill'",
        )
    assert lib is not None
    try:
        data = lib.dumps(value)
    except Exception as exc:
        raise RunnerError(
            "not_serializable",
            "%s is %s, which %s cannot serialize: %s" % (describe_path(path), a_type(value), serializer, exc),
            "return plain data, or try serializer 'cloudpickle' or 'dill'",
        ) from None
    return {
        TAG: "pickle",
        "serializer": serializer,
        "b64": base64.b64encode(data).decode("ascii"),
        "type": type_name(value),
        "repr": safe_repr(value),
    }


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


class PipeHandler(logging.Handler):
    """Writes each record as one JSON line to the log fd, keeping the level the host would lose on stderr. Straight
    to the fd (one write per record, as the flush after each did anyway): no file object to set up per attempt."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.dumps({"level": record.levelname, "logger": record.name, "msg": self.format(record)})
            write_all(self.fd, (line + "\n").encode("ascii"))
        except Exception:
            self.handleError(record)


def install_log_pipe(fd: int | None) -> None:
    if fd is None:
        return
    try:
        os.fstat(fd)
    except OSError:
        return  # started by hand without the pipe: records go to stderr as usual
    root = logging.getLogger()
    root.addHandler(PipeHandler(fd))
    # Airflow's task log level; Python's own default (WARNING) would drop the callable's logging.info().
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)


def fix_sys_path(file_dir: str | None) -> None:
    """Behave like `python file.py`: the callable's directory, not the runner's, is sys.path[0]."""
    runner_dir = os.path.dirname(_THIS_FILE)
    if sys.path and os.path.abspath(sys.path[0] or ".") == runner_dir:
        del sys.path[0]
    if file_dir is not None:
        sys.path.insert(0, file_dir)


def load_callable(spec: dict, string_args: list) -> object:
    name = str(spec["name"])
    if spec["kind"] == "file":
        path = str(spec["path"])
        stem = os.path.splitext(os.path.basename(path))[0]
        # The file's own name keeps pickled classes importable by a later task; never shadow a loaded module.
        module_name = stem if stem.isidentifier() and stem not in sys.modules else FALLBACK_MODULE
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise RunnerError("callable_not_found", "cannot import %s" % path)
        module = importlib.util.module_from_spec(module_spec)
        module.virtualenv_string_args = string_args  # type: ignore[attr-defined]
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    else:
        source = str(spec["source"])
        linecache.cache[INLINE_FILENAME] = (len(source), None, source.splitlines(True), INLINE_FILENAME)
        module = types.ModuleType(INLINE_MODULE)
        module.virtualenv_string_args = string_args  # type: ignore[attr-defined]
        sys.modules[INLINE_MODULE] = module
        # As Airflow's generated script does: annotations are never evaluated in the task's interpreter.
        code = compile(source, INLINE_FILENAME, "exec", flags=_future.annotations.compiler_flag, dont_inherit=True)
        exec(code, module.__dict__)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise RunnerError("callable_not_found", "%s is not a function after importing the module" % name)
    return fn


PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


_libc_prctl: list = []


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        if not _libc_prctl:
            import ctypes

            _libc_prctl.append(ctypes.CDLL(None, use_errno=True).prctl)
        return _libc_prctl[0](option, value, 0, 0, 0) == 0
    except Exception:
        return False


def bind_to_parent() -> None:
    """Linux: die when the process that started this one dies (a killed worker leaves no task running), and become the
    reaper of every orphaned descendant, so a daemon that escaped into its own session can still be found and ended."""
    import signal

    if _prctl(PR_SET_PDEATHSIG, signal.SIGKILL) and os.getppid() == 1:
        os._exit(1)  # the parent died before the kernel was told
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def child_pids() -> list:
    pids = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open("/proc/self/task/%s/children" % tid) as handle:
                pids.extend(int(pid) for pid in handle.read().split())
    except OSError:
        return []
    return pids


def end_descendants() -> None:
    """Kills and reaps whatever the callable left running, sessions it escaped into included (we are their reaper)."""
    try:
        os.waitpid(-1, os.WNOHANG)  # reaps at most one that already ended; the loop below ends the rest
    except ChildProcessError:
        return  # none at all, orphans included: one syscall instead of reading /proc (0.12 ms per attempt, measured)
    import signal

    for _ in range(100):
        pids = child_pids()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass


class ResultFrame:
    """Sends the attempt's result to the host: one line on the log fd, tagged with the attempt's token."""

    def __init__(self, fd: int, token: str) -> None:
        self.fd = fd
        self.token = token

    def send(self, payload: dict) -> None:
        payload["protocol"] = PROTOCOL
        self.write(json.dumps(payload, ensure_ascii=False, allow_nan=False))

    def send_value(self, value_json: str) -> None:
        """Success: the value is JSON already (its size was checked on that text); it is not encoded twice."""
        self.write('{"protocol": %d, "ok": true, "value": %s}' % (PROTOCOL, value_json))

    def write(self, payload_json: str) -> None:
        frame = '{"%s": %s, "token": %s}\n' % (RESULT_FRAME, payload_json, json.dumps(self.token))
        write_all(self.fd, frame.encode("utf-8"))


def user_traceback(exc: BaseException) -> str:
    import traceback  # only on failure (logging usually brings it in anyway)

    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == _THIS_FILE:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def fail(result: ResultFrame, exc: BaseException) -> int:
    text = user_traceback(exc)
    error = {"type": type_name(exc), "message": str(exc), "traceback": text}
    if isinstance(exc, RunnerError):
        error["type"] = "VenvflowError"
        error["code"] = exc.code
        if exc.fix:
            error["fix"] = exc.fix
        sys.stderr.write("venvflow: %s\n" % exc)
    else:
        sys.stderr.write(text)
    sys.stderr.flush()
    result.send({"ok": False, "error": error})
    return 1


def run(control: dict, result: ResultFrame) -> int:
    if control.get("protocol") != PROTOCOL:
        raise RunnerError(
            "protocol_mismatch",
            "runner speaks protocol %d, the host sent %r" % (PROTOCOL, control.get("protocol")),
            "use the runner.py that ships with this venvflow version",
        )
    install_log_pipe(control.get("logFd"))
    spec = control["callable"]
    fix_sys_path(os.path.dirname(str(spec["path"])) if spec["kind"] == "file" else None)
    serializer = str(control["serializer"])
    # Imported up front so a missing serializer fails before the callable runs, not after.
    lib = serializer_module(serializer) if serializer in PICKLE_FAMILY else None
    string_args = [str(line).strip() for line in control.get("stringArgs", [])]
    args = decode(control.get("args", []))
    kwargs = decode(control.get("kwargs", {}))
    fn = load_callable(spec, string_args)
    value = fn(*args, **kwargs)  # type: ignore[operator]
    if isinstance(value, types.CoroutineType):
        import asyncio

        value = asyncio.run(value)
    try:
        encoded = encode(value, serializer, lib)
        text = json.dumps(encoded, ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise RunnerError(
            "result_too_deep",
            "the return value is nested deeper than Python's recursion limit (%d) allows to serialize" % sys.getrecursionlimit(),
            "return a flatter structure (e.g. a list of rows instead of a nested chain), or write it to a file and return its path",
        ) from None
    size = len(text.encode("utf-8"))
    limit = int(control["maxResultBytes"])
    if size > limit:
        raise RunnerError(
            "result_too_large",
            "the return value is %d bytes once serialized, over the %d-byte limit" % (size, limit),
            "return something smaller (write large data to a file and return its path), "
            "or raise VENVFLOW_MAX_RESULT_BYTES",
        )
    result.send_value(text)
    return 0


def read_control() -> dict:
    """The control object, from stdin; then stdin is /dev/null, as the callable would have had it."""
    chunks = []
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return json.loads(b"".join(chunks).decode("utf-8"))


def main() -> int:
    if len(sys.argv) != 1:
        sys.stderr.write("usage: runner.py < control.json (the host sends it; see docs/runtime.md)\n")
        return 2
    return run_attempt(read_control())


def run_attempt(control: dict) -> int:
    """One attempt: spawned (`main`) or in a child forked by zygote.py."""
    bind_to_parent()
    result = ResultFrame(int(control.get("logFd") or LOG_FD), str(control.get("token", "")))
    try:
        return run(control, result)
    except SystemExit:
        raise  # sys.exit(n) from the callable: its code is the task's exit code
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the host as a structured error
        return fail(result, exc)
    finally:
        end_descendants()
        logging.shutdown()


if __name__ == "__main__":
    sys.exit(main())
