"""venvflow's warm interpreter ("zygote"): imports the runner and the tasks' modules once, then forks one child per
task attempt. Started by src/runtime/warm.ts as `<python> zygote.py <host-pid> <socket> <deny-json>` in the
environment's interpreter, with the attempts' environment variables and cwd.

Protocol (JSON lines): requests on stdin, replies on the original stdout (fd 1 is pointed at stderr, so nothing an
import prints can corrupt them).
  {"op": "env", "env"} -> (first, once) the attempts' environment variables: a zygote serves one exact set, so fork
      requests do not carry them; os.environ is not it (Python adds LC_CTYPE when it coerces the C locale);
  {"op": "fork", "id", "control", "cwd", "preload"}
      -> {"id", "pid", "streams"} once a child has the attempt ("streams": the token its three connections to the
         host's socket carry), later {"id", "exit", "signal"} when it ended (the child itself also ends its log
         stream with {"__venvflow_exit__": code, "token": streams} just before it exits);
      -> {"id", "unsafe": module} when importing `module` started a thread: forking is no longer safe, and this
         zygote exits (the host starts a new one without that module);
  {"op": "preload", "id", "callable", "preload"} -> {"id", "preloaded": true} (or "unsafe" as above): imports what the
      task's attempts will and forks its spares, running nothing (a worker pre-warming the DAGs it serves);
  {"op": "retire"} -> exits once its running children ended.
Children are forked ahead of the attempts ("spares", see make_spare): each becomes a new session, connects three
times to the host's socket (stdout, stderr, log), sets itself up and waits on a pipe; handed an attempt, it runs
runner.run_attempt(control) exactly as `python runner.py` does with the control object on its stdin.
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import ast  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402  (reseeded in every child: imported once here, not per child — 1.5 ms measured)
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import warnings  # noqa: E402

import runner  # noqa: E402  (this file's directory is sys.path[0])

LOG_FD = 3
EXIT_REPORT = "__venvflow_exit__"
PR_SET_PDEATHSIG = 1
# Children kept forked and set up ahead of the attempts (see make_spare). Two: a worker's slots ask in bursts.
SPARES = 2
_PRISTINE_PATH = list(sys.path)
_PREFIXES = tuple(
    os.path.realpath(p) + os.sep
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, getattr(sys, "base_exec_prefix", sys.exec_prefix)}
)


def _load_prctl() -> object:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


_prctl = _load_prctl()
if _prctl is not None:
    runner._libc_prctl.append(_prctl)  # the runner's own prctl handle, loaded once here instead of in every child


def die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL when the process that started this one dies (kill -9 included)."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # type: ignore[operator]


def python_threads() -> int:
    import threading

    return threading.active_count()


def openblas_loaded() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as handle:
            return "openblas" in handle.read().lower()
    except OSError:
        return False


def thread_count() -> int:
    """Every OS thread, native ones (BLAS, gRPC) included; threading only knows Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


_imports_by_file: dict = {}
_imports_by_source: dict = {}


def listed_imports(spec: dict) -> list:
    """Absolute imports anywhere in the callable's source (the static analysis doctor does, in small)."""
    if spec.get("kind") == "file":
        path = str(spec["path"])
        try:
            st = os.stat(path)
        except OSError:
            return []
        key = (path, st.st_mtime_ns, st.st_size)
        if key not in _imports_by_file:
            try:
                with open(path, "rb") as handle:
                    _imports_by_file[key] = imports_in(handle.read())
            except (OSError, SyntaxError, ValueError):
                _imports_by_file[key] = []
        return _imports_by_file[key]
    source = str(spec.get("source", ""))
    if source not in _imports_by_source:
        if len(_imports_by_source) >= 256:
            _imports_by_source.clear()
        try:
            _imports_by_source[source] = imports_in(source)
        except (SyntaxError, ValueError):
            _imports_by_source[source] = []
    return _imports_by_source[source]


def imports_in(source: object) -> list:
    names = []
    for node in ast.walk(ast.parse(source)):  # type: ignore[arg-type]
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def installed(name: str) -> bool:
    """Only modules of the interpreter or its environment are preloaded: the user's own code may change between tasks."""
    try:
        spec = importlib.util.find_spec(name.split(".")[0])
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    origin = spec.origin if spec.has_location and spec.origin else None
    if origin is None:
        locations = list(spec.submodule_search_locations or [])
        if not locations:
            return True  # built-in or frozen
        origin = locations[0]
    return os.path.realpath(origin).startswith(_PREFIXES)


class Zygote:
    def __init__(self, host_pid: int, socket_path: str, denied: list) -> None:
        self.host_pid = host_pid
        self.socket_path = socket_path
        self.denied = set(denied)
        self.tried: set = set()
        self.running: dict = {}
        self.retiring = False
        self.attempt_env: dict = {}
        self.spares: list = []  # (pid, streams token, hand-over pipe) of children waiting for an attempt
        # Threads forking may leave: only OpenBLAS's pool (numpy's), which parks itself around fork (pthread_atfork).
        self.tolerated_threads = 1
        self.ctl_in = os.dup(0)
        self.ctl_out = os.dup(1)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(2, 1)
        os.close(devnull)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(runner.__file__))]

    def send(self, message: dict) -> None:
        data = (json.dumps(message) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.ctl_out, data):]

    def preload(self, names: list) -> str | None:
        """Imports what is not loaded yet; returns the module whose import started a thread, if one did."""
        for name in names:
            if name in sys.modules or name in self.tried or name in self.denied or name.split(".")[0] in self.denied:
                continue
            self.tried.add(name)
            if not installed(name):
                continue
            had_openblas = openblas_loaded() if self.tolerated_threads == 1 else True
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - the task's own import will report it, in its own process
                continue
            threads = thread_count()
            if threads > self.tolerated_threads:
                if python_threads() == 1 and not had_openblas and openblas_loaded():
                    self.tolerated_threads = threads
                else:
                    return name
        return None

    def prepare(self, request: dict, callable_spec: dict) -> bool:
        """Imports what the attempt imports; False (and the host told, and this zygote retiring) when that started a thread."""
        loaded = len(sys.modules)
        unsafe = self.preload(list(request.get("preload", [])) + listed_imports(callable_spec))
        if unsafe is not None:
            self.send({"id": request["id"], "unsafe": unsafe})
            self.retiring = True
            self.discard_spares()
            return False
        if len(sys.modules) != loaded:
            self.discard_spares()  # forked before these imports: they would import them again
        return True

    def fork(self, request: dict) -> None:
        if not self.prepare(request, request["control"]["callable"]):
            return
        # The spare is set up already (session, streams, environment): it only reads this and runs the attempt.
        data = json.dumps({"cwd": request["cwd"], "control": request["control"]}).encode("utf-8")
        for tries_left in (2, 1, 0):
            if not self.spares:
                self.make_spare()
            pid, streams, handover = self.spares.pop(0)
            try:
                rest = data
                while rest:
                    rest = rest[os.write(handover, rest):]
                break
            except OSError:
                # That spare died (killed from outside): the next one takes the attempt. After three, children
                # die as they start (their stderr says why): the host hears of this one's exit as the attempt's.
                if tries_left == 0:
                    break
            finally:
                os.close(handover)
        self.running[pid] = request["id"]
        self.send({"id": request["id"], "pid": pid, "streams": streams})
        self.top_up()

    def top_up(self) -> None:
        while len(self.spares) < SPARES and not self.retiring:
            self.make_spare()

    def make_spare(self) -> None:
        """Forks a child that sets itself up for an attempt (all that does not depend on which one) and waits for it:
        the fork, three connections and the set-up were 2 ms of a 5 ms attempt on the critical path (measured)."""
        gc.freeze()  # preloaded objects stay out of the collector: their pages stay shared with the children
        sys.stdout.flush()
        sys.stderr.flush()
        streams = os.urandom(12).hex()
        handover_r, handover_w = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns about forking with threads alive; the only ones left are OpenBLAS's (see preload).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            code = 70  # EX_SOFTWARE: the child could not be set up (the reason is on its stderr)
            try:
                os.close(handover_w)
                code = self.spare(handover_r, streams)
            except BaseException:  # noqa: BLE001 - reported on the task's stderr, never raised into the zygote's loop
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(handover_r)
        self.running[pid] = None  # not an attempt's yet
        self.spares.append((pid, streams, handover_w))

    def discard_spares(self) -> None:
        """Spares that must not run an attempt: closing their hand-over pipe makes them exit, running nothing."""
        for _pid, _streams, handover in self.spares:
            os.close(handover)
        self.spares = []

    def spare(self, handover: int, streams_token: str) -> int:
        os.setsid()  # its own session and process group: a timeout kills everything it starts
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        die_with_parent()
        streams = []
        for name in ("stdout", "stderr", "log"):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(self.socket_path)
            conn.sendall(("%s %s\n" % (streams_token, name)).encode("ascii"))
            streams.append(conn.detach())
        for fd, target in zip(streams, (1, 2, LOG_FD)):
            os.dup2(fd, target)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        close_inherited_fds(keep=handover)
        apply_environment(self.attempt_env)
        sys.path[:] = _PRISTINE_PATH
        sys.argv[:] = [runner.__file__]
        reset_process_state()
        chunks = []
        while True:
            chunk = os.read(handover, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(handover)
        if not chunks:
            return 0  # discarded: it never ran anything
        request = json.loads(b"".join(chunks).decode("utf-8"))
        os.chdir(request["cwd"])
        code = run_like_main(request["control"])
        # The runner reports its end itself: the host need not wait for this zygote to reap the child, nor (its
        # streams shut down here) for the kernel to tear the child down (0.6 ms per attempt, measured).
        end_stream(1)
        end_stream(2)
        os.write(LOG_FD, ('{"%s": %d, "token": "%s"}\n' % (EXIT_REPORT, code, streams_token)).encode("ascii"))
        end_stream(LOG_FD)
        return code

    def reap(self) -> None:
        while self.running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.running and self.running[pid] is None:
                del self.running[pid]  # a spare that died unused: no attempt to tell of it
                for spare in [spare for spare in self.spares if spare[0] == pid]:
                    os.close(spare[2])
                    self.spares.remove(spare)
                continue
            ident = self.running.pop(pid, None)
            if ident is None:
                continue
            if os.WIFSIGNALED(status):
                self.send({"id": ident, "exit": None, "signal": os.WTERMSIG(status)})
            else:
                self.send({"id": ident, "exit": os.WEXITSTATUS(status), "signal": None})

    def serve(self) -> int:
        die_with_parent()
        if os.getppid() != self.host_pid:
            return 0  # the host died before the kernel could be told
        self.send({"ready": True, "pid": os.getpid()})
        pending = b""
        while True:
            readable, _, _ = select.select([self.ctl_in, self.wake_r], [], [], 1.0)
            if self.wake_r in readable:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            self.reap()
            if os.getppid() != self.host_pid:
                return 0  # the host is gone (no prctl on this platform): never outlive it
            if self.ctl_in in readable:
                data = os.read(self.ctl_in, 1 << 16)
                if not data:
                    return 0  # the host closed the pipe: it is exiting
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    request = json.loads(line)
                    if request.get("op") == "env":
                        self.attempt_env = request["env"]
                    elif request.get("op") == "fork" and not self.retiring:
                        self.fork(request)
                    elif request.get("op") == "preload" and not self.retiring:
                        if self.prepare(request, request["callable"]):
                            self.send({"id": request["id"], "preloaded": True})
                            self.top_up()
                    elif request.get("op") == "retire":
                        self.retiring = True
                        self.discard_spares()
            if self.retiring and not self.running:
                return 0


def end_stream(fd: int) -> None:
    """The host sees the end of this stream now (everything written to it arrived), while the fd stays open."""
    try:
        conn = socket.socket(fileno=fd)
    except OSError:
        return  # the callable closed or replaced it: its end comes with the process's
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.detach()


def close_inherited_fds(keep: int) -> None:
    """Nothing of the zygote's (control pipes, other children's sockets and pipes) reaches the task."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        os.closerange(LOG_FD + 1, keep)
        os.closerange(keep + 1, 65536)
        return
    for fd in fds:
        if fd > LOG_FD and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own fd, already closed


def apply_environment(env: dict) -> None:
    """Exactly the attempt's variables: only what a preloaded import changed is set back (clearing and refilling
    os.environ cost 0.8 ms per child, measured)."""
    for name in [name for name in os.environ if name not in env]:
        del os.environ[name]
    for name, value in env.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def reset_process_state() -> None:
    """What a fresh interpreter would have: a new random state, no logging configured."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:
            pass
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def run_like_main(control: dict) -> int:
    """runner.run_attempt(), then what interpreter shutdown does: join non-daemon threads, run atexit, flush."""
    try:
        code = runner.run_attempt(control)
    except SystemExit as exc:
        code = exit_code(exc.code)
    import atexit
    import threading

    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except Exception:
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return code


def exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    sys.stderr.write("%s\n" % value)
    return 1


if __name__ == "__main__":
    sys.exit(Zygote(int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])).serve())
