"""Static check of a task callable, run by venvflow with the base interpreter before any environment is built.

Reads {"kind": "file", "path"} or {"kind": "inline", "source"} plus an optional "name" as JSON on stdin,
parses the source with `ast` (nothing is imported or executed) and prints one JSON object on stdout:
{"ok": true, "name", "positional", "keywordOnly", "varArgs", "varKwargs", "isAsync", "functions", "python"}
or {"ok": false, "code", "message", "line"?, "functions"}. Runs on any Python 3, so that an interpreter
older than the runner supports gets a clear answer instead of a syntax error.
"""
import ast
import json
import os
import sys


def own_nodes(fn: ast.AST):
    """Nodes of a function body, not descending into nested functions, lambdas or classes."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def locate(request: dict):
    """Parses the callable's source (never importing it) and finds its function.

    Returns (tree, fn, names, where), or a failure dict {"ok": False, "code", "message", ...}. Shared with
    venvflow doctor's analyze.py, so both name a callable the same way.
    """
    if request["kind"] == "file":
        where = request["path"]
        with open(where, "rb") as handle:
            source = handle.read()  # bytes: ast honours a PEP 263 coding line
    else:
        where = "inline source"
        source = request["source"]
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as exc:
        return {"ok": False, "code": "callable_syntax_error", "line": exc.lineno,
                "message": "%s in %s, line %s: %s" % (exc.msg, where, exc.lineno, (exc.text or "").strip())}
    defs = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    names = sorted({node.name for node in defs})
    name = request.get("name")
    if not name:
        if len(names) != 1:
            return {"ok": False, "code": "callable_ambiguous" if names else "callable_not_found", "functions": names,
                    "message": "%s defines %s top-level functions" % (where, len(names) if names else "no")}
        name = names[0]
    matching = [node for node in defs if node.name == name]
    if not matching:
        return {"ok": False, "code": "callable_not_found", "functions": names,
                "message": "%s has no top-level function named %s" % (where, name)}
    return tree, matching[-1], names, where  # the last definition is the one the module ends up with


def check(request: dict) -> dict:
    located = locate(request)
    if isinstance(located, dict):
        return located
    _tree, fn, names, where = located
    name = fn.name
    if any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in own_nodes(fn)):
        return {"ok": False, "code": "callable_is_generator", "functions": names, "line": fn.lineno,
                "message": "%s in %s uses 'yield': a task callable must return its result" % (name, where)}
    args = fn.args
    positional = [a.arg for a in getattr(args, "posonlyargs", [])] + [a.arg for a in args.args]
    return {
        "ok": True,
        "name": name,
        "positional": positional,
        "keywordOnly": [a.arg for a in args.kwonlyargs],
        "varArgs": args.vararg is not None,
        "varKwargs": args.kwarg is not None,
        "isAsync": isinstance(fn, ast.AsyncFunctionDef),
        "functions": names,
        "python": {"executable": sys.executable, "prefix": sys.prefix,
                   "version": "%d.%d.%d" % sys.version_info[:3]},
    }


def main() -> None:
    request = json.load(sys.stdin)
    if sys.version_info < (3, 8):
        version = "%d.%d.%d" % sys.version_info[:3]
        sys.stdout.write(json.dumps({"ok": False, "code": "python_unsupported",
                                     "message": "%s is Python %s; venvflow runs callables on Python 3.8 or newer" % (sys.executable, version)}))
        return
    try:
        result = check(request)
    except OSError as exc:
        result = {"ok": False, "code": "callable_not_found", "message": "cannot read %s: %s" % (request.get("path"), os.strerror(exc.errno or 0))}
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
