"""What builds of the years before PEP 518 (2016) took for granted: a ``setup.py`` that
imports numpy or Cython at build time without declaring it, since every user of its day
had them installed. A build that fails for want of one of these modules gets its
distribution (uv's metadata builds, the build tools' backends, pip's rebuild); any other
missing module stays an error.
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
