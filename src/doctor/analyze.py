"""venvflow doctor's static analysis, run once per interpreter with every callable that uses it batched.

Reads {"callables": [{"id", "kind": "file", "path", "name"} | {"id", "kind": "inline", "source", "name"?}]} as JSON
on stdin. Nothing is imported or executed: sources are parsed with `ast`. Prints one JSON object:
{"python": {"executable", "version", "stdlib", "sitePaths", "purelib", "platlib"},
 "results": {id: {"ok": true, "name", "imports": [...], "freeNames": [...], "envReads": [...]} | {"ok": false, "code", "message", "line"?}}}
where an import is {"module", "line", "optional", "relative", "scope", "fallbackFor"?, "unusedByCallable"?} ("fallbackFor":
the modules of the try body whose ImportError handler holds it; "unusedByCallable": a module-level import whose names
the callable never reaches), a free name is {"name", "line"} and an env read is {"name", "line", "required"} (an
environment variable the callable, its helpers or its module read without a default).
Runs on Python 3.8 to 3.13.
"""
import ast
import builtins
import json
import os
import sys
import sysconfig

# The runtime's own callable lookup, so doctor and the runtime name a callable the same way
# (imported without leaving a __pycache__ next to it).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "runtime"))
from check_callable import locate  # noqa: E402

# sys.stdlib_module_names exists from 3.10; for 3.8/3.9 this is 3.10's list plus what 3.10 removed.
STDLIB_3_9 = """
__future__ _abc _aix_support _ast _asyncio _bisect _blake2 _bootsubprocess _bz2 _codecs _codecs_cn _codecs_hk
_codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw _collections _collections_abc _compat_pickle _compression
_contextvars _crypt _csv _ctypes _curses _curses_panel _datetime _dbm _decimal _elementtree _frozen_importlib
_frozen_importlib_external _functools _gdbm _hashlib _heapq _imp _io _json _locale _lsprof _lzma _markupbase
_md5 _msi _multibytecodec _multiprocessing _opcode _operator _osx_support _overlapped _pickle _posixshmem
_posixsubprocess _py_abc _pydecimal _pyio _queue _random _scproxy _sha1 _sha256 _sha3 _sha512 _signal
_sitebuiltins _socket _sqlite3 _sre _ssl _stat _statistics _string _strptime _struct _symtable _thread
_threading_local _tkinter _tracemalloc _uuid _warnings _weakref _weakrefset _winapi _zoneinfo abc aifc
antigravity argparse array ast asynchat asyncio asyncore atexit audioop base64 bdb binascii binhex bisect
builtins bz2 cProfile calendar cgi cgitb chunk cmath cmd code codecs codeop collections colorsys compileall
concurrent configparser contextlib contextvars copy copyreg crypt csv ctypes curses dataclasses datetime dbm
decimal difflib dis distutils doctest email encodings ensurepip enum errno faulthandler fcntl filecmp
fileinput fnmatch fractions ftplib functools gc genericpath getopt getpass gettext glob graphlib grp gzip
hashlib heapq hmac html http idlelib imaplib imghdr imp importlib inspect io ipaddress itertools json keyword
lib2to3 linecache locale logging lzma mailbox mailcap marshal math mimetypes mmap modulefinder msilib msvcrt
multiprocessing netrc nis nntplib nt ntpath nturl2path numbers opcode operator optparse os ossaudiodev
pathlib pdb pickle pickletools pipes pkgutil platform plistlib poplib posix posixpath pprint profile pstats
pty pwd py_compile pyclbr pydoc pydoc_data pyexpat queue quopri random re readline reprlib resource
rlcompleter runpy sched secrets select selectors shelve shlex shutil signal site smtpd smtplib sndhdr socket
socketserver spwd sqlite3 sre_compile sre_constants sre_parse ssl stat statistics string stringprep struct
subprocess sunau symtable sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios textwrap this
threading time timeit tkinter token tokenize trace traceback tracemalloc tty turtle turtledemo types typing
unicodedata unittest urllib uu uuid venv warnings wave weakref webbrowser winreg winsound wsgiref xdrlib xml
xmlrpc zipapp zipfile zipimport zlib zoneinfo
formatter parser symbol _dummy_thread dummy_threading
"""

# What the runner (and Python itself) puts in the callable's module namespace.
RUNNER_GLOBALS = {"virtualenv_string_args", "__name__", "__file__", "__doc__", "__builtins__", "__spec__",
                  "__loader__", "__package__", "__annotations__", "__dict__"}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def stdlib_names():
    names = getattr(sys, "stdlib_module_names", None)
    base = set(names) if names else set(STDLIB_3_9.split())
    return sorted(base | set(sys.builtin_module_names))


def is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def catches_import_error(handler):
    kinds = handler.type
    if kinds is None:
        return True
    nodes = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any((isinstance(n, ast.Name) and n.id in IMPORT_ERRORS) or
               (isinstance(n, ast.Attribute) and n.attr in IMPORT_ERRORS) for n in nodes)


def dynamic_import(call):
    """importlib.import_module("x") and __import__("x") with a literal name."""
    fn = call.func
    named = (isinstance(fn, ast.Attribute) and fn.attr == "import_module") or (
        isinstance(fn, ast.Name) and fn.id in ("import_module", "__import__"))
    if not named or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value and not first.value.startswith("."):
        return first.value
    return None


STATIC_NAMES = {"sys": sys, "os": os}
STATIC_ATTRS = {"version_info", "platform", "name", "major", "minor", "startswith", "implementation"}


def static_truth(test):
    """True/False for a test about this interpreter (sys.version_info, sys.platform, os.name), else None."""
    for node in ast.walk(test):
        if isinstance(node, ast.Name) and node.id not in STATIC_NAMES:
            return None
        if isinstance(node, ast.Attribute) and node.attr not in STATIC_ATTRS:
            return None
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Attribute) and node.func.attr == "startswith"):
            return None
    if not any(isinstance(node, ast.Name) for node in ast.walk(test)):
        return None
    try:
        return bool(eval(compile(ast.Expression(test), "<test>", "eval"), {"__builtins__": {}}, dict(STATIC_NAMES)))
    except Exception:
        return None


class ImportCollector:
    def __init__(self, scope):
        self.scope = scope
        self.found = []
        # Modules of the enclosing try bodies: an import in their ImportError handler runs only if one is missing.
        self.fallback_for = None

    def add(self, module, line, optional, relative=False):
        entry = {"module": module, "line": line, "optional": optional, "relative": relative, "scope": self.scope}
        if self.fallback_for is not None:
            entry["fallbackFor"] = self.fallback_for
        self.found.append(entry)

    def statements(self, body, optional, module_level):
        for stmt in body:
            self.statement(stmt, optional, module_level)

    def statement(self, stmt, optional, module_level):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                self.add(alias.name, stmt.lineno, optional)
            return
        if isinstance(stmt, ast.ImportFrom):
            if stmt.module == "__future__":
                return
            if stmt.level:
                self.add("." * stmt.level + (stmt.module or ""), stmt.lineno, optional, relative=True)
            elif stmt.module:
                self.add(stmt.module, stmt.lineno, optional)
            return
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # At module level only the task's own function runs (collected separately); nested defs inside it do.
            if not module_level:
                self.statements(stmt.body, optional, module_level)
            return
        if isinstance(stmt, ast.If):
            self.expressions(stmt.test, optional)
            # Version and platform checks are decided by the interpreter this runs in: the task's own.
            truth = False if is_type_checking(stmt.test) else static_truth(stmt.test)
            if truth is not False:
                self.statements(stmt.body, optional, module_level)
            if truth is not True:
                self.statements(stmt.orelse, optional, module_level)
            return
        if type(stmt).__name__ in ("Try", "TryStar"):
            guarded = any(catches_import_error(h) for h in stmt.handlers)
            before = len(self.found)
            self.statements(stmt.body, optional or guarded, module_level)
            tried = [entry["module"] for entry in self.found[before:] if not entry["relative"]]
            for handler in stmt.handlers:
                outer = self.fallback_for
                if guarded and catches_import_error(handler) and tried:
                    self.fallback_for = tried
                self.statements(handler.body, optional, module_level)
                self.fallback_for = outer
            self.statements(stmt.orelse, optional, module_level)
            self.statements(stmt.finalbody, optional, module_level)
            return
        if isinstance(stmt, ast.ClassDef):
            # A class body runs when the module is imported; its methods do not.
            self.statements(stmt.body, optional, module_level)
            return
        for field in ("body", "orelse", "finalbody", "cases"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                for item in inner:
                    if isinstance(item, ast.stmt):
                        self.statement(item, optional, module_level)
                    elif hasattr(item, "body"):  # match_case
                        self.statements(item.body, optional, module_level)
        for field, value in ast.iter_fields(stmt):
            if field in ("body", "orelse", "finalbody", "cases"):
                continue
            for node in value if isinstance(value, list) else [value]:
                if isinstance(node, ast.AST):
                    self.expressions(node, optional)

    def expressions(self, node, optional):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                name = dynamic_import(sub)
                if name:
                    self.add(name, sub.lineno, optional)


def annotation_nodes(tree):
    """Ids of nodes inside annotations: never evaluated for inline callables, and rarely at run time otherwise."""
    skip = set()
    for node in ast.walk(tree):
        roots = []
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
        for root in roots:
            skip.update(id(sub) for sub in ast.walk(root))
    return skip


def bound_names(nodes):
    bound = set()
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif type(node).__name__ in ("MatchAs", "MatchStar") and getattr(node, "name", None):
            bound.add(node.name)
        elif type(node).__name__ == "MatchMapping" and getattr(node, "rest", None):
            bound.add(node.rest)
    return bound


def module_level_nodes(tree):
    """Nodes that run at import time: everything outside function bodies (def/class names themselves included)."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, FUNCTION_NODES):
            continue
        stack.extend(ast.iter_child_nodes(node))


def free_names(tree, fn):
    module_nodes = list(module_level_nodes(tree))
    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in module_nodes):
        return []  # a star import could define anything
    known = bound_names(module_nodes) | bound_names(ast.walk(fn)) | set(dir(builtins)) | RUNNER_GLOBALS
    skip = annotation_nodes(fn)
    first = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in known and id(node) not in skip:
            if node.id not in first or node.lineno < first[node.id]:
                first[node.id] = node.lineno
    return [{"name": name, "line": line} for name, line in sorted(first.items(), key=lambda item: item[1])]


def loaded_names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def names_reached(tree, fn):
    """Module-level names the callable reads, directly or through the module's functions, classes and assignments."""
    definitions = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            definitions.setdefault(stmt.name, []).append(stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        definitions.setdefault(name.id, []).append(stmt)
    reached = set()
    pending = list(loaded_names(fn))
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        for node in definitions.get(name, []):
            if node is not fn:
                pending.extend(loaded_names(node))
    return reached


def mark_unused_module_imports(tree, fn, found):
    """Marks module-level imports whose names the callable never reaches: they run, and can fail, for nothing."""
    bound_at = {}
    for node in module_level_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound_at.setdefault(node.lineno, set()).update(
                alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name != "*")
    reached = names_reached(tree, fn)
    for entry in found:
        names = bound_at.get(entry["line"])
        if names and not (names & reached):
            entry["unusedByCallable"] = True


def constant_str(node):
    if type(node).__name__ == "Index":  # Python 3.8 wraps subscripts
        node = node.value
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def is_environ(node):
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (isinstance(node, ast.Name) and node.id == "environ")


def env_reads(nodes):
    """os.environ["X"] (required), os.environ.get("X") / os.getenv("X") without a default: the names a callable reads."""
    found = {}
    for root in nodes:
        for node in ast.walk(root):
            name, required = None, False
            if isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
                name, required = constant_str(node.slice), True
            elif isinstance(node, ast.Call) and node.args and len(node.args) == 1 and not node.keywords:
                fn = node.func
                if (isinstance(fn, ast.Attribute) and fn.attr == "get" and is_environ(fn.value)) or (
                        isinstance(fn, ast.Attribute) and fn.attr == "getenv") or (isinstance(fn, ast.Name) and fn.id == "getenv"):
                    name = constant_str(node.args[0])
            if name and (name not in found or node.lineno < found[name]["line"]):
                found[name] = {"name": name, "line": node.lineno, "required": required or found.get(name, {}).get("required", False)}
    return sorted(found.values(), key=lambda item: item["line"])


def analyze(request):
    located = locate(request)
    if isinstance(located, dict):
        return located
    tree, fn, _names, _where = located
    module_imports = ImportCollector("module")
    module_imports.statements(tree.body, False, True)
    mark_unused_module_imports(tree, fn, module_imports.found)
    function_imports = ImportCollector("function")
    function_imports.statements(fn.body, False, False)
    for default in fn.args.defaults + [d for d in fn.args.kw_defaults if d is not None]:
        function_imports.expressions(default, False)
    reached = names_reached(tree, fn)
    module_code = [stmt for stmt in tree.body if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    helpers = [stmt for stmt in tree.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name in reached and stmt is not fn]
    return {"ok": True, "name": fn.name, "line": fn.lineno, "imports": module_imports.found + function_imports.found,
            "freeNames": free_names(tree, fn), "envReads": env_reads([fn] + helpers + module_code)}


def main():
    request = json.load(sys.stdin)
    paths = sysconfig.get_paths()
    site_paths = [p for p in sys.path if p and os.path.isdir(p) and os.path.basename(p) in ("site-packages", "dist-packages")]
    results = {}
    for item in request["callables"]:
        try:
            results[item["id"]] = analyze(item)
        except OSError as exc:
            results[item["id"]] = {"ok": False, "code": "callable_not_found",
                                   "message": "cannot read %s: %s" % (item.get("path"), os.strerror(exc.errno or 0))}
    sys.stdout.write(json.dumps({
        "python": {"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3],
                   "stdlib": stdlib_names(), "sitePaths": site_paths,
                   "purelib": paths.get("purelib"), "platlib": paths.get("platlib")},
        "results": results,
    }))


if __name__ == "__main__":
    main()
