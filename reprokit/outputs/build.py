"""Build products among what a run wrote: object code, libraries, executables, and the
generated sources and makefiles of the build trees they were compiled in.

Papers that compile at run time (Brian's standalone mode, Cython's inline builds, numba's
caches, a Makefile a script calls) write a build tree beside their results. Its files are
no results: their bytes follow the compiler, and the order a code generator walks a set
in, so they differ between runs a scientist would call the same. They are left out of the
record unless the author gives them a rule in ``reprokit.toml``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable

# Compiled code, by name: objects, archives, libraries, precompiled headers, the
# dependency files compilers write beside them.
OBJECT_SUFFIXES = (".o", ".obj", ".a", ".lib", ".so", ".dylib", ".dll", ".pyd", ".exe", ".gch", ".pch")
# Executables and libraries without a telling name: ELF and Mach-O (both byte orders, and
# universal); a Windows executable is named .exe.
MAGICS = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce", b"\xca\xfe\xba\xbe")
# What a build tree holds besides compiled code: sources and the files that drive the build.
SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".cu", ".f", ".f90", ".pyx", ".pxd")
BUILD_FILES = frozenset({"makefile", "Makefile", "GNUmakefile", "make.deps", "CMakeCache.txt", "build.ninja", "compile_commands.json"})


def is_compiled(path: str, head: bytes) -> bool:
    """Object code, a library or an executable, by its name or its first bytes."""
    name = posixpath.basename(path)
    return name.endswith(OBJECT_SUFFIXES) or ".so." in name or head.startswith(MAGICS)


def build_products(paths: Iterable[str], head: Callable[[str], bytes]) -> frozenset[str]:
    """The build products among ``paths`` (what one entry point wrote; ``head(path)``: a
    file's first bytes): compiled files, and the sources and build files written into a
    folder a compiled file was written to, or into a folder below it."""
    paths = list(paths)
    compiled = {p for p in paths if is_compiled(p, head(p))}
    trees = {posixpath.dirname(p) for p in compiled}
    out = set(compiled)
    for p in paths:
        name = posixpath.basename(p)
        if not (name.endswith(SOURCE_SUFFIXES) or name in BUILD_FILES):
            continue
        folder = posixpath.dirname(p)
        if any(folder == t or (t and folder.startswith(f"{t}/")) for t in trees):
            out.add(p)
    return frozenset(out)
