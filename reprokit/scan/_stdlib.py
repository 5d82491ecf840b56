"""The standard library of each Python: the shipped lists (from real interpreters, see
``tools/build_stdlib_lists.py``), which other Pythons have a module the target lacks, and
what to say of an import that needs one of them.
"""

from __future__ import annotations

import functools
import re
import sys

from reprokit import data
from reprokit.errors import UsageError


def parse_python(text: str) -> tuple[int, int]:
    """``"3.11"`` -> ``(3, 11)``."""
    m = re.fullmatch(r"(\d+)\.(\d+)", text.strip())
    if not m:
        raise UsageError(f"--python takes a version like 3.11, not {text!r}")
    return int(m.group(1)), int(m.group(2))


@functools.cache
def stdlib_names(python: str) -> frozenset[str]:
    """Top-level stdlib module names of Python ``X.Y``."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if python == running:
        return frozenset(sys.stdlib_module_names) | {"__main__", "__future__"}
    versions = _stdlib_lists()
    if python not in versions:
        raise UsageError(f"no standard library list for Python {python} (known: {', '.join(versions)})")
    return frozenset(versions[python])


@functools.cache
def _stdlib_lists() -> dict[str, list[str]]:
    """The shipped standard library lists, by Python version, oldest first."""
    versions: dict[str, list[str]] = data.load_json("stdlib.json")["versions"]
    return {v: versions[v] for v in sorted(versions, key=parse_python)}


# Modules only type checkers import (typeshed's private stub package).
TYPE_CHECKER_ONLY = frozenset({"_typeshed"})


@functools.cache
def _stdlib_versions() -> dict[str, tuple[str, ...]]:
    """Each module name of any known Python's standard library -> the versions that have it."""
    out: dict[str, list[str]] = {}
    for version, names in _stdlib_lists().items():
        for name in names:
            out.setdefault(name, []).append(version)
    return {name: tuple(vs) for name, vs in out.items()}


def other_stdlib(top: str, python: str) -> tuple[str, ...]:
    """The Python versions whose standard library has ``top`` though ``python``'s does not
    (``urllib2`` -> 2.7; ``imp`` -> 2.7 ... 3.11): empty for every other name."""
    return tuple(v for v in _stdlib_versions().get(top, ()) if v != python)


def _version_ranges(versions: tuple[str, ...]) -> str:
    """``("2.7", "3.6", "3.7", "3.9")`` -> ``"2.7 to 3.7 and 3.9"``: runs of the known versions."""
    known = list(_stdlib_lists())
    runs: list[list[str]] = []
    for i, v in enumerate(known):
        if v in versions:
            if runs and known[i - 1] == runs[-1][-1]:
                runs[-1].append(v)
            else:
                runs.append([v])
    return " and ".join(r[0] if len(r) == 1 else f"{r[0]} to {r[-1]}" for r in runs)


def other_stdlib_message(top: str, python: str, elsewhere: tuple[str, ...]) -> str:
    """What a scan says of a required import that only the standard library of the
    Pythons ``elsewhere`` has (see :func:`other_stdlib`): which ones, and what to do."""
    if elsewhere[-1].startswith("2."):
        hint = "this is Python 2 code"
    elif all(parse_python(v) > parse_python(python) for v in elsewhere):
        hint = "choose one with --python, unless a version check the scan cannot read guards it"
    else:
        hint = "choose one with --python"
    return f"{top} is in the standard library of Python {_version_ranges(elsewhere)}, not {python}: {hint}"
