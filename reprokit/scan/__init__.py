"""``reprokit scan``: every import of a paper, classified as stdlib, local or third-party
for the target Python, and third-party ones mapped to PyPI distributions.

:func:`scan` walks the tree once and reads each ``.py`` and ``.ipynb`` file (in parallel on
large trees: :mod:`._files`), whose imports :mod:`._imports` finds in the source's
:mod:`._skeleton`; it classifies them by the standard library lists (:mod:`._stdlib`) and
the paper's layout (:mod:`._layout`). Unreadable files are warnings; :mod:`._render`
draws the table a person reads.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from reprokit.errors import UsageError
from reprokit.scan import declared as declared_mod
from reprokit.scan import readmes, tree
from reprokit.scan._files import (
    MAX_FILE_BYTES,
    PARALLEL_BYTES,
    PARALLEL_FILES,
    FileImports,
    Warning_,
    scan_file,
    scan_files,
    warning_at,
)
from reprokit.scan._imports import FoundImport, has_main_guard
from reprokit.scan._layout import (
    SUPPORT_DIRS,
    VENDORED_DIRS,
    import_roots,
    in_package,
    is_support_code,
    is_vendored,
    local_names,
    module_folders,
    module_name,
    package_dirs,
    reachable_files,
    unimported_modules,
    visible_folders,
)
from reprokit.scan._stdlib import TYPE_CHECKER_ONLY, other_stdlib, other_stdlib_message, parse_python, stdlib_names
from reprokit.scan.mapping import Mapper, known_distributions, platform_only
from reprokit.wording import counted

__all__ = [
    "MAX_FILE_BYTES", "PARALLEL_BYTES", "PARALLEL_FILES", "SUPPORT_DIRS", "TYPE_CHECKER_ONLY", "VENDORED_DIRS",
    "DeclaredReq", "Distribution", "FileImports", "FoundImport", "Import", "Kind", "ScanResult", "ScanSettings",
    "Warning_", "counted", "has_main_guard", "import_roots", "in_package", "is_support_code", "is_vendored", "local_names",
    "marker_environment", "module_folders", "module_name", "other_stdlib", "package_dirs", "parse_python", "reachable_files", "scan",
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


def marker_environment(python: str, platform: str = "linux") -> dict[str, str]:
    """PEP 508 marker values for the target interpreter (CPython on x86_64 Linux)."""
    return {
        "python_version": python, "python_full_version": f"{python}.0", "sys_platform": platform,
        "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
        "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
    }


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


@dataclass(kw_only=True, slots=True)
class _Uses:
    """How a module is used across the tree."""

    required: bool = False
    lazy: bool = False
    locations: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)


@dataclass(kw_only=True, slots=True)
class _Provider:
    """What a distribution provides the tree: optional until one of its modules is required."""

    how: str
    modules: list[str] = field(default_factory=list)
    optional: bool = True
    lazy: bool = False


class _Tally:
    """What a scan collects (mutable while it does): the uses of each module, then, as
    modules are mapped, what each distribution provides."""

    def __init__(self) -> None:
        self.modules: dict[str, _Uses] = {}
        self.providers: dict[str, _Provider] = {}

    def use(self, module: str, location: str, path: str, *, required: bool, lazy: bool) -> None:
        uses = self.modules.get(module)
        if uses is None:
            uses = self.modules[module] = _Uses()
        uses.required = uses.required or required
        uses.lazy = uses.lazy or lazy
        uses.locations.append(location)
        uses.files.add(path)

    def provide(self, distribution: str, module: str, how: str, *, optional: bool, lazy: bool) -> None:
        """``module`` comes from ``distribution``, found by ``how`` (the first module's way counts)."""
        provider = self.providers.get(distribution)
        if provider is None:
            provider = self.providers[distribution] = _Provider(how=how)
        provider.modules.append(module)
        provider.optional = provider.optional and optional
        provider.lazy = provider.lazy or lazy

    def distributions(self, declared_names: set[str], base_declared: set[str]) -> tuple[Distribution, ...]:
        """The distributions the tree imports, and the declared base requirements nobody
        imports (plugins, kernels, CLI tools), which still count."""
        out = [
            Distribution(name=name, imports=tuple(sorted(p.modules)), optional=p.optional, lazy=p.optional and p.lazy,
                         declared=name in declared_names, how=p.how)
            for name, p in self.providers.items()
        ]
        out += [Distribution(name=name, imports=(), optional=False, declared=True, how="declared-only")
                for name in base_declared - self.providers.keys()]
        return tuple(sorted(out, key=lambda d: d.name))


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
    if not decl.requirements and path.is_dir():
        # No requirements file of its own: what its READMEs install or list as tested with.
        decl = dataclasses.replace(decl, requirements=readmes.read_readmes(root, everything.files, known_distributions().__contains__))

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
    tally = _Tally()
    for r in results:
        support = is_support_code(r.path)
        package_code = in_package(r.path, packages)
        lazy_file = is_vendored(r.path) or r.path in unimported
        for f in r.imports:
            if f.relative or not f.module:
                continue
            lazy = (lazy_file or (f.in_function and package_code)) and not support and not f.optional
            location = r.location(f.line)
            for module in _modules_of(f, mapper):
                tally.use(module, location, r.path, required=not (f.optional or support or lazy), lazy=lazy)
    beside = visible_folders(results, sources, target[0] == 2)

    imports: list[Import] = []
    unresolved: set[str] = set()
    stdlib_moved: list[Warning_] = []  # required imports of another Python's standard library
    for module in sorted(tally.modules):
        uses = tally.modules[module]
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
                tally.provide(dist, module, match.how, optional=optional, lazy=lazy)
        imports.append(Import(module=module, top=top, kind=kind, optional=optional, lazy=lazy, distribution=dist, locations=locations))

    return ScanResult(
        root=str(path),
        python=python,
        files_scanned=len(results),
        files_failed=sum(1 for r in results if r.failed),
        files=sources,
        imports=tuple(imports),
        distributions=tally.distributions(declared_names, base_declared),
        unresolved=tuple(sorted(unresolved)),
        declared=tuple(declared),
        warnings=tuple(sorted(warnings + stdlib_moved, key=lambda w: (w.path, w.line or 0))),
        project_names=decl.project_names,
        run_by_name=tuple(r.path for r in results if r.main_guard),
    )
