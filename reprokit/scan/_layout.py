"""The paper's layout: which files are support code (tests, docs, build scripts) or
vendored copies, which folders are packages, and which module names are the paper's own,
seen from each file (its folder, what it puts on ``sys.path``) or by nothing at all.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path

from reprokit.scan._files import FileImports

# Tests, documentation (and Sphinx extensions), benchmarks and build helpers.
SUPPORT_DIRS = frozenset({"tests", "test", "testing", "docs", "doc", "benchmarks", "asv_bench", "sphinxext", "_build_utils"})
_SUPPORT_FILE = re.compile(r"^(test_.*|.*_test|conftest|_testing|setup|setup_package)\.py$")
# Copies of other projects kept inside a package: their imports are theirs.
VENDORED_DIRS = frozenset({"extern", "externals", "_vendor", "vendor", "_vendored", "vendored", "third_party"})


def is_support_code(rel: str) -> bool:
    """Tests, documentation, benchmarks and build scripts: their imports are not needed
    to rerun a paper."""
    parts = rel.split("/")
    return bool(_SUPPORT_FILE.match(parts[-1])) or any(p in SUPPORT_DIRS or _is_test_dir(p) for p in parts[:-1])


# Words that make a folder test code when they are one of the "-"/"_"-separated parts of
# its name: test-examples/, unit_tests/, _test_common/, test_utils/, testdata/.
_TEST_WORDS = frozenset({"test", "tests", "testing", "testdata"})


def _is_test_dir(name: str) -> bool:
    return not _TEST_WORDS.isdisjoint(re.split(r"[-_]+", name.lower()))


def is_vendored(rel: str) -> bool:
    """Code under ``extern/``, ``_vendor/``, ``third_party/`` and the like."""
    return any(p in VENDORED_DIRS for p in rel.split("/")[:-1])


def package_dirs(rels: Iterable[str]) -> frozenset[str]:
    """Folders (relative, "" for the root) that are importable packages: they hold an
    ``__init__.py``."""
    return frozenset(rel[: -len("/__init__.py")] if "/" in rel else "" for rel in rels if rel == "__init__.py" or rel.endswith("/__init__.py"))


def in_package(rel: str, packages: frozenset[str]) -> bool:
    """Whether the file ``rel`` sits in one of the package folders."""
    return rel.rpartition("/")[0] in packages


def local_names(rels: Iterable[str], root: Path, project_names: Iterable[str]) -> frozenset[str]:
    """Top-level names that resolve to the paper's own code.

    A name is local when a module or package of that name sits in a folder that is not
    itself a package: that folder is on ``sys.path`` when a script or notebook in it runs
    (or when the paper adds it, as papers do with their root and ``src/``). Modules inside
    packages (``pkg/compat/numpy.py``) do not shadow top-level names in Python 3.
    """
    rels = list(rels)
    packages = package_dirs(rels)
    names: set[str] = set()
    if "" in packages:  # the folder scanned is itself a package: its name is local
        names.add(root.resolve().name)
    folders: set[str] = set()
    for rel in rels:
        parts = rel.split("/")
        for i in range(len(parts)):
            folder = "/".join(parts[:i])
            if folder in packages:
                continue
            name = parts[i]
            if i == len(parts) - 1:
                if not name.endswith(".py"):
                    break
                name = name[:-3]
            names.add(name)
            folders.add(folder)
    for n in project_names:
        names.add(re.sub(r"[-.]+", "_", n))
        names.add(re.sub(r"[-.]+", "_", n).lower())
    # Compiled extension modules next to the code, built or still Cython source (a paper's
    # ``setup.py build_ext --inplace`` makes ``algorithms.*.so`` from ``algorithms.pyx``).
    for folder in folders:
        try:
            for entry in os.scandir(root / folder):
                if entry.name.endswith((".so", ".pyd", ".pyx")):
                    names.add(entry.name.split(".")[0])
        except OSError:
            continue
    return frozenset(n for n in names if n.isidentifier())


def _names_by_folder(rels: Iterable[str]) -> dict[str, set[str]]:
    """For every folder, the top-level module names it holds (``x.py``, ``x/``, ``x.so``),
    all in one pass over the paths."""
    out: dict[str, set[str]] = {}
    for rel in rels:
        parts = rel.split("/")
        for depth in range(len(parts)):
            folder, first = "/".join(parts[:depth]), parts[depth]
            last = depth == len(parts) - 1
            name = first[:-3] if last and first.endswith(".py") else first.split(".")[0]
            out.setdefault(folder, set()).add(name)
    return {folder: {n for n in names if n.isidentifier()} for folder, names in out.items()}


def visible_folders(results: list[FileImports], sources: Iterable[str], python2: bool) -> dict[str, frozenset[str]]:
    """For each file, the module names it can import from the paper: its own folder's
    where that folder is on sys.path when it runs (a script's folder; a package's only
    for a script run by name, ``python pkg/`` or a main guard, or in Python 2, which
    imports siblings implicitly) and those of the folders it adds to sys.path."""
    rels = list(sources)
    packages = package_dirs(rels)
    by_folder = _names_by_folder(rels)
    out: dict[str, frozenset[str]] = {}
    for r in results:
        own = posixpath.dirname(r.path)
        sees_own = own not in packages or python2 or r.main_guard or posixpath.basename(r.path) == "__main__.py"
        names: set[str] = set()
        for extra in ("", *r.path_additions) if sees_own else r.path_additions:
            folder = posixpath.normpath(posixpath.join(own, extra)) if (own or extra) else ""
            folder = "" if folder == "." else folder
            if folder.startswith(".."):
                continue  # outside the paper: not the paper's code
            names |= by_folder.get(folder, set())
        names.discard(posixpath.basename(r.path).rsplit(".", 1)[0])  # a module does not import itself
        out[r.path] = frozenset(names)
    return out


def module_name(rel: str, packages: frozenset[str], root_name: str) -> str | None:
    """The dotted module name of a ``.py`` file: its path below the outermost package
    folder that holds it (``src/pkg/sub/mod.py`` -> ``pkg.sub.mod``)."""
    parts = rel[: -len(".py")].split("/")
    i = len(parts) - 1
    while i > 0 and "/".join(parts[:i]) in packages:
        i -= 1
    mod = parts[i:]
    if i == 0 and "" in packages:
        mod = [root_name, *mod]
    if mod[-1] == "__init__":
        mod = mod[:-1]
    return ".".join(mod) if mod and all(m.isidentifier() for m in mod) else None


def unimported_modules(results: list[FileImports], packages: frozenset[str], root_name: str) -> frozenset[str]:
    """Files of packages that nothing else in the tree imports: plugins, backends,
    optional feature modules and maintenance scripts, which run only when a user loads
    or runs them by name.

    An ``__init__.py`` or ``__main__.py`` is always in use; imports from tests and docs
    do not count. (A paper's own main-guarded modules are entry points: the lock keeps
    what they import, see :func:`reprokit.resolve.requirements_for`.)
    """
    names: dict[str, str] = {}
    for r in results:
        if r.path.endswith(".py"):
            name = module_name(r.path, packages, root_name)
            if name:
                names[r.path] = name
    imported: set[str] = set()
    for r in results:
        if is_support_code(r.path):
            continue
        own = names.get(r.path)
        package = None if own is None else own if r.path.endswith("__init__.py") else own.rpartition(".")[0]
        for f in r.imports:
            if f.relative:
                if package is None:
                    continue
                up = package.split(".")
                if f.level - 1 >= len(up):
                    continue
                base = ".".join(up[: len(up) - (f.level - 1)] + ([f.module] if f.module else []))
            else:
                base = f.module
            parts = base.split(".")
            imported.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            imported.update(f"{base}.{n}" for n in f.names)
    out = set()
    for r in results:
        if not in_package(r.path, packages) or r.path.rsplit("/", 1)[-1] in ("__init__.py", "__main__.py"):
            continue
        name = names.get(r.path)
        if name and name not in imported:
            out.add(r.path)
    return frozenset(out)



def module_folders(rels: Iterable[str]) -> dict[str, list[str]]:
    """For each top-level module name, the folders that hold it as ``name.py``,
    ``name/__init__.py`` or an extension module (``name.*.so``), shallowest first; folders
    that are themselves packages hold submodules, not top-level names."""
    rels = list(rels)
    packages = package_dirs(rels)
    found: dict[str, set[str]] = {}
    for rel in rels:
        folder, _, base = rel.rpartition("/")
        if folder in packages:
            if base == "__init__.py":  # the package itself, held by its parent folder
                parent, _, name = folder.rpartition("/")
                if parent not in packages and name.isidentifier():
                    found.setdefault(name, set()).add(parent)
            continue
        name = base[:-3] if base.endswith(".py") else base.split(".")[0] if base.endswith((".so", ".pyd")) else ""
        if name.isidentifier():
            found.setdefault(name, set()).add(folder)
    return {n: sorted(fs, key=lambda f: (f.count("/") + bool(f), f)) for n, fs in found.items()}


def import_roots(imports: Iterable[tuple[str, str]], rels: Iterable[str]) -> tuple[str, ...]:
    """The folders to put on ``sys.path`` so that every ``(file, top-level name)`` import
    of the paper's own code resolves, as ``pip install -e .`` of a paper that is a
    package (or its ``src/`` layout) makes them: a name a file cannot see from its own
    folder is found in the shallowest folder that holds it. ``""`` is the paper's root."""
    folders = module_folders(rels)
    packages = package_dirs(list(rels))
    roots: list[str] = []
    for file, top in imports:
        own = posixpath.dirname(file)
        holders = folders.get(top)
        if not holders or (own in holders and own not in packages):
            continue
        if holders[0] not in roots:
            roots.append(holders[0])
    return tuple(f or "." for f in sorted(roots, key=lambda f: (f.count("/") + bool(f), f)))


def reachable_files(starts: Iterable[str], imports: Iterable[tuple[str, str]], rels: Iterable[str]) -> frozenset[str]:
    """The files the ``starts`` (entry points) run or import, following the paper's own
    imports (``(file, top-level name)``): a module's file, or every file of a package (a
    package's modules import each other in ways a name alone does not tell)."""
    rels = list(rels)
    packages = package_dirs(rels)
    folders = module_folders(rels)
    by_file: dict[str, set[str]] = {}
    for file, top in imports:
        by_file.setdefault(file, set()).add(top)

    def package_of(rel: str) -> str | None:
        """The outermost package folder ``rel`` is in, if any."""
        parts = rel.split("/")[:-1]
        outer = None
        for i in range(len(parts), 0, -1):
            folder = "/".join(parts[:i])
            if folder in packages:
                outer = folder
            elif outer is not None:
                break
        return outer

    def files_of(top: str) -> list[str]:
        out = []
        for holder in folders.get(top, ()):
            base = f"{holder}/{top}" if holder else top
            if base in packages:
                out += [r for r in rels if r.startswith(base + "/")]
            else:
                out += [r for r in rels if r.rsplit(".", 1)[0] == base or r.startswith(base + ".")]
        return out

    seen: set[str] = set()
    todo = [s for s in starts if s in set(rels)]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        package = package_of(rel)
        more = [r for r in rels if package is not None and r.startswith(package + "/")]
        for top in by_file.get(rel, ()):
            more += files_of(top)
        todo += [r for r in more if r not in seen]
    return frozenset(seen)
