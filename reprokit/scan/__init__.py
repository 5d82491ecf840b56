"""``reprokit scan``: every import of a paper, classified and mapped to a distribution.

Reads each ``.py`` and ``.ipynb`` file (in parallel on large trees), extracts imports,
classifies their top-level module as stdlib, local or third-party for the target Python,
and maps third-party ones to PyPI distributions. Unreadable files are warnings.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reprokit import declared as declared_mod
from reprokit import tree
from reprokit.errors import UsageError
from reprokit.mapping import Mapper, platform_only
from reprokit.scan._files import MAX_FILE_BYTES, PARALLEL_BYTES, PARALLEL_FILES, FileImports, Warning_, scan_file, scan_files, warning_at
from reprokit.scan._imports import FoundImport, has_main_guard
from reprokit.scan._stdlib import TYPE_CHECKER_ONLY, other_stdlib_message, other_stdlib, parse_python, stdlib_names

__all__ = [
    "MAX_FILE_BYTES", "PARALLEL_BYTES", "PARALLEL_FILES", "SUPPORT_DIRS", "TYPE_CHECKER_ONLY", "VENDORED_DIRS",
    "DeclaredReq", "Distribution", "FileImports", "FoundImport", "Import", "Kind", "ScanResult", "ScanSettings",
    "Warning_", "counted", "has_main_guard", "in_package", "is_support_code", "is_vendored", "local_names",
    "marker_environment", "module_name", "other_stdlib", "package_dirs", "parse_python", "render_table", "scan",
    "scan_file", "scan_files", "stdlib_names", "unimported_modules",
]

Kind = Literal["stdlib", "local", "third-party"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Import:
    module: str
    top: str
    kind: Kind
    optional: bool
    distribution: str | None
    locations: tuple[str, ...]  # "path:line"
    # Optional only because its uses are lazy: inside functions of a package, in package
    # modules nothing imports, or in vendored code.
    lazy: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Distribution:
    name: str
    imports: tuple[str, ...]
    optional: bool
    declared: bool
    how: str  # declared | installed | table | declared-only
    lazy: bool = False


@dataclass(kw_only=True, slots=True)
class _Uses:
    """How a module is used across the tree (mutable while the scan collects)."""

    required: bool = False
    lazy: bool = False
    locations: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeclaredReq:
    requirement: str
    source: str
    optional: bool = False
    conda: bool = False  # from a conda environment file (see declared.Declared.conda)
    url: str | None = None  # installed from a VCS or URL by the author, not from an index


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanResult:
    root: str
    python: str
    files_scanned: int
    files_failed: int
    files: tuple[str, ...]
    imports: tuple[Import, ...]
    distributions: tuple[Distribution, ...]
    unresolved: tuple[str, ...]
    declared: tuple[DeclaredReq, ...]
    warnings: tuple[Warning_, ...]
    project_names: tuple[str, ...] = field(default=())
    # Scripts and modules with ``if __name__ == "__main__":``: the paper runs them.
    run_by_name: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {
            "reprokit_scan": 1,
            "root": self.root,
            "python": self.python,
            "files": {"scanned": self.files_scanned, "failed": self.files_failed},
            "imports": [
                {"module": i.module, "top": i.top, "kind": i.kind, "optional": i.optional,
                 "lazy": i.lazy, "distribution": i.distribution, "locations": list(i.locations)}
                for i in self.imports
            ],
            "distributions": [
                {"name": d.name, "imports": list(d.imports), "optional": d.optional,
                 "lazy": d.lazy, "declared": d.declared, "how": d.how}
                for d in self.distributions
            ],
            "unresolved": list(self.unresolved),
            "declared": [{"requirement": d.requirement, "source": d.source, "optional": d.optional, "conda": d.conda} for d in self.declared],
            "warnings": [{"path": w.path, "line": w.line, "message": w.message} for w in self.warnings],
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanSettings:
    path: Path
    python: str | None = None
    # An environment (its Python) whose installed distributions map imports too; never
    # the one reprokit runs in, unless named: a lock must not depend on reprokit's machine.
    from_env: str | None = None
    jobs: int | None = None


# --- the target Python ----------------------------------------------------------------

def marker_environment(python: str, platform: str = "linux") -> dict[str, str]:
    """PEP 508 marker values for the target interpreter (CPython on x86_64 Linux)."""
    return {
        "python_version": python, "python_full_version": f"{python}.0", "sys_platform": platform,
        "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
        "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
    }



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
    # Compiled extension modules next to the code.
    for folder in folders:
        try:
            for entry in os.scandir(root / folder):
                if entry.name.endswith((".so", ".pyd")):
                    names.add(entry.name.split(".")[0])
        except OSError:
            continue
    return frozenset(n for n in names if n.isidentifier())


def _modules_of(f: FoundImport, mapper: Mapper) -> list[str]:
    """The modules an import statement uses. ``from google.cloud import storage`` uses
    ``google.cloud.storage`` where that is a module some distribution provides on its own
    (a namespace package's portion), not the namespace ``google.cloud``."""
    if f.names and f.module:
        portions = []
        for name in f.names:
            sub = f"{f.module}.{name}"
            match = mapper.lookup(sub)
            if match is not None and match.key == sub:
                portions.append(sub)
        if portions and len(portions) == len(f.names):
            return portions
        if portions:
            return [f.module, *portions]
    return [f.module]


def _names_in(folder: str, rels: Iterable[str]) -> set[str]:
    """Top-level module names a folder holds (``x.py``, ``x/``, ``x.so``)."""
    prefix = folder + "/" if folder else ""
    out = set()
    for rel in rels:
        if rel.startswith(prefix):
            first = rel[len(prefix):].split("/", 1)[0]
            out.add(first[:-3] if first.endswith(".py") and "/" not in rel[len(prefix):] else first.split(".")[0])
    return {n for n in out if n.isidentifier()}


def _visible_folders(results: list[FileImports], sources: Iterable[str], python2: bool) -> dict[str, frozenset[str]]:
    """For each file, the module names it can import from the paper: its own folder's
    where that folder is on sys.path when it runs (a script's folder; a package's only
    for a script run by name, ``python pkg/`` or a main guard, or in Python 2, which
    imports siblings implicitly) and those of the folders it adds to sys.path."""
    rels = list(sources)
    packages = package_dirs(rels)
    cache: dict[str, set[str]] = {}
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
            if folder not in cache:
                cache[folder] = _names_in(folder, rels)
            names |= cache[folder]
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


def _declarations(
    decl: declared_mod.DeclaredSet, results: list[FileImports], python: str, warnings: list[Warning_]
) -> tuple[list[DeclaredReq], set[str], set[str]]:
    """Declared requirements (files and notebook installs), their names, and the names of
    the base ones (not optional, markers true for the target)."""
    declared = [DeclaredReq(requirement=d.requirement, source=d.source, optional=d.optional, conda=d.conda, url=d.url) for d in decl.requirements]
    installs = [(r, inst) for r in results for inst in r.installs]
    if not declared and not installs:
        return [], set(), set()
    # packaging is imported here, not at the top: a tree that declares nothing (most
    # library trees, many papers) is scanned without paying for it at startup.
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for r, inst in installs:
        try:
            req = Requirement(inst.requirement)
        except InvalidRequirement:
            warnings.append(Warning_(path=r.path, line=inst.line, message=f"{inst.tool} install of {inst.requirement!r}: not a requirement"))
            continue
        name = declared_mod.CONDA_TO_PYPI.get(req.name.lower(), req.name) if inst.tool == "conda" else req.name
        if inst.tool == "conda" and name.lower() in declared_mod.CONDA_NON_PYTHON:
            continue
        req.name = name
        declared.append(DeclaredReq(requirement=str(req), source=f"{r.location(inst.line)} ({inst.tool} install)", conda=inst.tool == "conda"))
    env = marker_environment(python)
    names: set[str] = set()
    base: set[str] = set()
    for d in declared:
        req = Requirement(d.requirement)
        names.add(canonicalize_name(req.name))
        # A conda package nobody imports is a C library or a tool, not a requirement.
        if not d.optional and not d.conda and (req.marker is None or req.marker.evaluate(env)):
            base.add(canonicalize_name(req.name))
    return declared, names, base


def scan(settings: ScanSettings) -> ScanResult:
    path = settings.path
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    python = settings.python or f"{sys.version_info[0]}.{sys.version_info[1]}"
    target = parse_python(python)
    std = stdlib_names(python)

    # One walk serves both the sources and the declaration files (a single file given on
    # the command line is scanned whatever its name).
    everything = tree.walk(path, suffixes=None)
    root = everything.root
    sources = everything.files if path.is_file() else tuple(f for f in everything.files if f.endswith(tree.SOURCE_SUFFIXES))
    decl_files = [f for f in everything.files if declared_mod.is_declaration_file(f.rsplit("/", 1)[-1])]
    decl = declared_mod.read_declared(root, decl_files)

    results = scan_files(root, list(sources), target, settings.jobs)
    warnings: list[Warning_] = [Warning_(path=p, line=None, message=f"skipped: {why}") for p, why in everything.skipped]
    warnings += [Warning_(path=p, line=n, message=why) for p, n, why in everything.bad_ignores]
    warnings += [Warning_(path=p.path, line=p.line, message=p.message) for p in decl.problems]
    for r in results:
        warnings.extend(r.warnings)

    declared, declared_names, base_declared = _declarations(decl, results, python, warnings)

    local = local_names(sources, root, decl.project_names)
    if path.is_dir() and (path / "src").is_dir():
        local |= local_names(tree.walk(path / "src").files, path / "src", ())
    mapper = Mapper(declared_names, from_env=settings.from_env)

    # Group by module. A use is required unless it is guarded (optional), in support
    # code, or lazy: inside a function of an importable package (the idiom of libraries
    # for optional features), in a module of a package nothing imports (a plugin or
    # backend), or in vendored code. A module is optional only if no use of it is
    # required.
    packages = package_dirs(sources)
    unimported = unimported_modules(results, packages, root.name) if path.is_dir() else frozenset()
    by_module: dict[str, _Uses] = {}
    for r in results:
        support = is_support_code(r.path)
        package_code = in_package(r.path, packages)
        lazy_file = is_vendored(r.path) or r.path in unimported
        for f in r.imports:
            if f.relative or not f.module:
                continue
            lazy = (lazy_file or (f.in_function and package_code)) and not support and not f.optional
            for module in _modules_of(f, mapper):
                uses = by_module.setdefault(module, _Uses())
                uses.required = uses.required or not (f.optional or support or lazy)
                uses.lazy = uses.lazy or lazy
                uses.locations.append(r.location(f.line))
                uses.files.add(r.path)
    beside = _visible_folders(results, sources, target[0] == 2)

    imports: list[Import] = []
    dist_imports: dict[str, list[str]] = {}
    dist_optional: dict[str, bool] = {}
    dist_lazy: dict[str, bool] = {}
    dist_how: dict[str, str] = {}
    unresolved: set[str] = set()
    stdlib_moved: list[Warning_] = []  # required imports of another Python's standard library
    for module in sorted(by_module):
        uses = by_module[module]
        top = module.split(".")[0]
        optional = not uses.required
        lazy = optional and uses.lazy
        locations = tuple(dict.fromkeys(uses.locations))
        kind: Kind
        dist: str | None = None
        if top in std:
            kind = "stdlib"
        elif top in local or any(top in beside.get(f, ()) for f in uses.files):
            kind = "local"
        else:
            kind = "third-party"
            match = mapper.lookup(module)
            elsewhere = other_stdlib(top, python) if match is None else ()
            if top in TYPE_CHECKER_ONLY or (elsewhere and optional):
                # Behind a guard, another Python's standard library is a compatibility
                # shim (``try: import cPickle``): nothing to install.
                kind = "stdlib"
            elif match is None:
                unresolved.add(top if top not in mapper.table else module)
                if elsewhere:
                    stdlib_moved.append(warning_at(locations[0], other_stdlib_message(top, python, elsewhere)))
            else:
                dist = match.distribution
                # A Windows- or macOS-only distribution cannot be part of a Linux
                # environment: its imports sit behind platform checks in working code.
                if platform_only().get(dist, "linux") != "linux":
                    optional, lazy = True, False
                dist_imports.setdefault(dist, []).append(module)
                dist_optional[dist] = dist_optional.get(dist, True) and optional
                dist_lazy[dist] = dist_lazy.get(dist, False) or lazy
                dist_how.setdefault(dist, match.how)
        imports.append(Import(module=module, top=top, kind=kind, optional=optional, lazy=lazy, distribution=dist, locations=locations))

    distributions = [
        Distribution(
            name=d, imports=tuple(sorted(dist_imports[d])), optional=dist_optional[d],
            lazy=dist_optional[d] and dist_lazy[d], declared=d in declared_names, how=dist_how[d],
        )
        for d in sorted(dist_imports)
    ]
    # Declared base requirements nobody imports (plugins, kernels, CLI tools) still count.
    for d in sorted(base_declared - set(dist_imports)):
        distributions.append(Distribution(name=d, imports=(), optional=False, declared=True, how="declared-only"))
    distributions.sort(key=lambda d: d.name)
    return ScanResult(
        root=str(path),
        python=python,
        files_scanned=len(results),
        files_failed=sum(1 for r in results if r.failed),
        files=sources,
        imports=tuple(imports),
        distributions=tuple(distributions),
        unresolved=tuple(sorted(unresolved)),
        declared=tuple(declared),
        warnings=tuple(sorted(warnings + stdlib_moved, key=lambda w: (w.path, w.line or 0))),
        project_names=decl.project_names,
        run_by_name=tuple(r.path for r in results if r.main_guard),
    )


def counted(n: int, noun: str) -> str:
    """``1 file``, ``3 files``: a count as a person reads it."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def render_table(result: ScanResult) -> str:
    """The scan as a person reads it: distributions, unresolved imports, warnings."""
    out: list[str] = []
    n_third = sum(1 for i in result.imports if i.kind == "third-party")
    out.append(f"Scanned {counted(result.files_scanned, 'file')} under {result.root} for Python {result.python}"
               + (f" ({result.files_failed} could not be read)" if result.files_failed else ""))
    out.append(f"{counted(len(result.imports), 'module')} imported: "
               f"{sum(1 for i in result.imports if i.kind == 'stdlib')} stdlib, "
               f"{sum(1 for i in result.imports if i.kind == 'local')} local, {n_third} third-party")
    out.append("")
    if result.distributions:
        # "not declared" matters when the paper declares its requirements and forgot one.
        declares = bool(result.declared)
        rows = [("DISTRIBUTION", "IMPORTS", "FOUND BY", "NOTES")]
        for d in result.distributions:
            kind = "lazy" if d.lazy else "optional" if d.optional else ""
            notes = ", ".join(f for f in (kind, "not declared" if declares and not d.declared else "") if f)
            rows.append((d.name, ", ".join(d.imports) or "-", d.how, notes))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            out.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    else:
        out.append("No third-party distributions.")
    if result.unresolved:
        out.append("")
        out.append("Unresolved imports (no known distribution; declare them in requirements.txt):")
        for name in result.unresolved:
            locs = [loc for i in result.imports if i.kind == "third-party" and i.distribution is None and (i.top == name or i.module == name) for loc in i.locations]
            out.append(f"  {name}  ({', '.join(locs[:3])}{', …' if len(locs) > 3 else ''})")
    if result.warnings:
        out.append("")
        out.append(f"{len(result.warnings)} warning(s):")
        for w in result.warnings:
            out.append(f"  {w.path}{':' + str(w.line) if w.line else ''}: {w.message}")
    return "\n".join(out) + "\n"
