"""The requirements a scan asks the resolver for: declared and imported distributions,
with what is optional or lazy left out (and said why), and what runs showed a need for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from reprokit.resolve.settings import LockSettings
from reprokit.scan import DeclaredReq, Distribution, ScanResult
from reprokit.scan.declared import is_requirement


def _lazy_and_used(d: Distribution, scan: ScanResult) -> bool:
    """A lazy import (in a function or a plugin module of the paper's package) is locked
    when the paper declares the distribution, it is installed where the scan ran, or a
    script the paper runs by name imports it: the paper may call that code. Other lazy
    imports are a library's optional features."""
    if not d.lazy:
        return False
    if d.how in ("declared", "installed"):
        return True
    run = set(scan.run_by_name)
    return any(loc.split(":", 1)[0] in run for i in scan.imports if i.distribution == d.name for loc in i.locations)


def lazy_left_out(scan: ScanResult, settings: LockSettings) -> dict[str, str]:
    """Lazy distributions the lock leaves out: import name -> a line saying why and where."""
    if settings.with_optional:
        return {}
    out = {}
    for d in scan.distributions:
        if d.lazy and not _lazy_and_used(d, scan):
            where = [loc for i in scan.imports if i.distribution == d.name for loc in i.locations]
            line = (
                f"{d.name} is imported only lazily ({', '.join(where[:2])}{', ...' if len(where) > 2 else ''}:"
                " inside functions, or in modules nothing imports) and is neither declared nor installed: not locked;"
                " declare it if the paper calls that code"
            )
            for module in d.imports:
                out[module] = line
                out.setdefault(module.split(".")[0], line)  # "No module named 'matplotlib'"
    return out


def requirements_for(scan: ScanResult, settings: LockSettings) -> tuple[list[str], dict[str, list[str]]]:
    """Top-level requirement lines for uv, and which file asked for each name."""
    wanted = [d for d in scan.distributions if settings.with_optional or not d.optional or _lazy_and_used(d, scan)]
    asked_by: dict[str, list[str]] = {}
    for imp in scan.imports:
        if imp.distribution:
            asked_by.setdefault(imp.distribution, []).extend(imp.locations)
    specs: dict[str, list[str]] = {}
    # A conda environment file and a pip requirements file are alternatives: where both
    # name a distribution, pip's line is the PyPI one and the conda line is left aside.
    pip_named = {canonicalize_name(Requirement(d.requirement).name) for d in scan.declared if not d.conda and is_requirement(d.requirement)}
    for d in scan.declared:
        try:
            req = Requirement(d.requirement)
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        if d.conda and name in pip_named:
            continue
        if req.specifier or req.extras or req.marker:
            specs.setdefault(name, []).append(str(req))
        asked_by.setdefault(name, []).append(d.source)
    lines: list[str] = []
    for dist in wanted:
        for spec in specs.get(dist.name) or [dist.name]:
            lines.append(spec)
    return sorted(dict.fromkeys(lines)), asked_by


def with_run_time_needs(scan: ScanResult, needed: Mapping[str, str], commands: Mapping[str, str] | None = None) -> ScanResult:
    """``scan`` with the distributions a run showed it needs (module -> distribution; a
    command it runs -> the distribution that ships it), as required distributions of
    their own."""
    dists = {d.name: d for d in scan.distributions}
    for module, dist in needed.items():
        old = dists.get(dist)
        dists[dist] = Distribution(name=dist, imports=tuple(sorted({module, *(old.imports if old else ())})), optional=False,
                                   declared=old.declared if old else False, how=old.how if old else "needed at run time")
    for command, dist in (commands or {}).items():
        old = dists.get(dist)
        dists[dist] = Distribution(name=dist, imports=old.imports if old else (), optional=False, declared=old.declared if old else False,
                                   how=old.how if old else f"the command {command}, run at run time")
    return dataclasses.replace(scan, distributions=tuple(sorted(dists.values(), key=lambda d: d.name)))


def with_earlier_series(scan: ScanResult, held: Mapping[str, str]) -> ScanResult:
    """``scan`` with distributions held below a release series (name -> ``name<3.1``), each
    a requirement of its own (one the paper only has through another is one too)."""
    dists = {d.name: d for d in scan.distributions}
    for name in held:
        dists.setdefault(name, Distribution(name=name, imports=(), optional=False, declared=False, how="held below a release series"))
    declared = (*scan.declared, *(DeclaredReq(requirement=req, source="an earlier release series (archive)") for req in held.values()))
    return dataclasses.replace(scan, distributions=tuple(sorted(dists.values(), key=lambda d: d.name)), declared=declared)


def pinned(scan: ScanResult, name: str) -> bool:
    """Whether the paper pins ``name`` to one version (``==``, ``===``)."""
    for d in scan.declared:
        try:
            req = Requirement(d.requirement)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) == canonicalize_name(name) and any(s.operator in ("==", "===") for s in req.specifier):
            return True
    return False
