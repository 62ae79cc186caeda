"""Differential-test oracle: answers venvflow's pep tests with what Python's `packaging` does.

Reads one JSON object on stdin (sections below, all optional) and prints one JSON object with the same keys.
Errors are reported as {"error": <exception class name>, "message": str(exc)} instead of raising.
"""

import json
import sys

import packaging
from packaging import _manylinux, _musllinux, tags
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import (
    canonicalize_name,
    canonicalize_version,
    is_normalized_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

PRE_MODES = {"none": None, "true": True, "false": False}


def err(exc):
    return {"error": type(exc).__name__, "message": str(exc)}


def version_info(text):
    try:
        v = Version(text)
    except Exception as exc:  # noqa: BLE001 - every failure is an answer
        return err(exc)
    return {
        "str": str(v),
        "public": v.public,
        "baseVersion": v.base_version,
        "epoch": v.epoch,
        "release": list(v.release),
        "pre": list(v.pre) if v.pre else None,
        "post": v.post,
        "dev": v.dev,
        "local": v.local,
        "isPrerelease": v.is_prerelease,
        "isPostrelease": v.is_postrelease,
        "isDevrelease": v.is_devrelease,
        "major": v.major,
        "minor": v.minor,
        "micro": v.micro,
        "canonical": canonicalize_version(v),
        "canonicalKeepZeros": canonicalize_version(v, strip_trailing_zero=False),
    }


def ranks(texts):
    """Rank of each valid version (invalid ones are left out) among the distinct PEP 440 values (equal versions share a rank)."""
    valid = {}
    for t in texts:
        try:
            valid[t] = Version(t)
        except ValueError:
            pass
    index = {v: i for i, v in enumerate(sorted(set(valid.values())))}
    return {t: index[v] for t, v in valid.items()}


def contains_row(spec, items, pre, installed=False):
    out = []
    for item in items:
        try:
            if installed:
                ok = spec.contains(item, prereleases=pre, installed=True)
            else:
                ok = spec.contains(item, prereleases=pre)
            out.append("1" if ok else "0")
        except Exception:  # noqa: BLE001
            out.append("E")
    return "".join(out)


def specifier_info(cls, text, items):
    try:
        spec = cls(text)
    except Exception as exc:  # noqa: BLE001
        return err(exc)
    info = {"str": str(spec), "prereleases": spec.prereleases, "contains": {}}
    for mode, pre in PRE_MODES.items():
        info["contains"][mode] = contains_row(spec, items, pre)
    if cls is SpecifierSet:
        info["contains"]["installed"] = contains_row(spec, items, None, installed=True)
        info["len"] = len(spec)
        info["unsatisfiable"] = [
            cls(text).is_unsatisfiable(),
            cls(text, prereleases=False).is_unsatisfiable(),
            cls(text, prereleases=True).is_unsatisfiable(),
        ]
    else:
        info["operator"] = spec.operator
        info["version"] = spec.version
    return info


def filter_case(case):
    try:
        spec = SpecifierSet(case["spec"], prereleases=case.get("setPrereleases"))
        return {"result": list(spec.filter(case["items"], prereleases=case.get("prereleases")))}
    except Exception as exc:  # noqa: BLE001
        return err(exc)


def env_value(value):
    return frozenset(value) if isinstance(value, list) else value


def marker_info(text, environments):
    try:
        marker = Marker(text)
    except Exception as exc:  # noqa: BLE001
        return err(exc)
    results = []
    for env in environments:
        context = env.get("context", "metadata")
        values = {k: env_value(v) for k, v in env["values"].items()}
        try:
            results.append(marker.evaluate(values, context))
        except Exception as exc:  # noqa: BLE001
            results.append(err(exc))
    return {"str": str(marker), "evaluate": results}


def requirement_info(text):
    try:
        req = Requirement(text)
    except Exception as exc:  # noqa: BLE001
        return err(exc)
    return {
        "str": str(req),
        "name": req.name,
        "url": req.url,
        "extras": sorted(req.extras),
        "specifier": str(req.specifier),
        "marker": str(req.marker) if req.marker is not None else None,
    }


def wheel_info(filename):
    try:
        name, version, build, tag_set = parse_wheel_filename(filename)
    except Exception as exc:  # noqa: BLE001
        return err(exc)
    return {"name": name, "version": str(version), "build": list(build), "tags": sorted(str(t) for t in tag_set)}


def sdist_info(filename):
    try:
        name, version = parse_sdist_filename(filename)
    except Exception as exc:  # noqa: BLE001
        return err(exc)
    return {"name": name, "version": str(version)}


def tags_info(case):
    """cpython_tags/compatible_tags (and the Linux platform list) for a described interpreter."""
    platforms = case.get("platforms")
    if "linux" in case:
        linux = case["linux"]
        glibc = linux.get("glibc")
        musl = linux.get("musl")
        # Describe the target instead of inspecting this machine: the same seams packaging's own tests patch.
        _manylinux._get_glibc_version = lambda: _manylinux._GLibCVersion(*glibc) if glibc else _manylinux._GLibCVersion(-1, -1)
        _manylinux._have_compatible_abi = lambda executable, archs: True
        _musllinux._get_musl_version = lambda executable: _musllinux._MuslVersion(*musl) if musl else None
        tags.sysconfig.get_platform = lambda: "linux-" + linux["arch"]
        platforms = list(tags._linux_platforms(is_32bit=False))
    version = case["pythonVersion"]
    out = {"platforms": platforms}
    if "build" in case:
        build = case["build"]
        config = {
            "Py_DEBUG": int(build.get("debug", False)),
            "Py_GIL_DISABLED": int(build.get("freeThreaded", False)),
            "WITH_PYMALLOC": int(build.get("pymalloc", True)),
            "Py_UNICODE_SIZE": 4 if build.get("ucs4", True) else 2,
        }
        tags._get_config_var = lambda name, warn=False: config.get(name)
        abis = tags._cpython_abis(version)
        out["abis"] = abis
    else:
        abis = case["abis"]
    if case.get("implementation", "cpython") == "cpython":
        interp = "cp" + "".join(map(str, version[:2]))
        out["tags"] = [str(t) for t in tags.cpython_tags(version, abis, platforms)] + [
            str(t) for t in tags.compatible_tags(version, interp, platforms)
        ]
    else:
        interp = tags.INTERPRETER_SHORT_NAMES.get(case["implementation"], case["implementation"])
        name = interp + "".join(map(str, version[:2]))
        out["tags"] = [str(t) for t in tags.generic_tags(name, abis, platforms)] + [
            str(t) for t in tags.compatible_tags(version, "pp3" if interp == "pp" else None, platforms)
        ]
    return out


def main():
    request = json.load(sys.stdin)
    out = {"packagingVersion": packaging.__version__}
    if "versions" in request:
        out["versions"] = [version_info(t) for t in request["versions"]]
    if "ranks" in request:
        out["ranks"] = ranks(request["ranks"])
    items = request.get("items", [])
    if "specifiers" in request:
        out["specifiers"] = [specifier_info(Specifier, t, items) for t in request["specifiers"]]
    if "specifierSets" in request:
        out["specifierSets"] = [specifier_info(SpecifierSet, t, items) for t in request["specifierSets"]]
    if "filters" in request:
        out["filters"] = [filter_case(c) for c in request["filters"]]
    if "markers" in request:
        out["markers"] = [marker_info(t, request.get("environments", [])) for t in request["markers"]]
    if "requirements" in request:
        out["requirements"] = [requirement_info(t) for t in request["requirements"]]
    if "names" in request:
        out["names"] = [
            {"canonical": canonicalize_name(n), "isNormalized": is_normalized_name(n)} for n in request["names"]
        ]
    if "wheels" in request:
        out["wheels"] = [wheel_info(f) for f in request["wheels"]]
    if "sdists" in request:
        out["sdists"] = [sdist_info(f) for f in request["sdists"]]
    if "tags" in request:
        out["tags"] = [tags_info(c) for c in request["tags"]]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
