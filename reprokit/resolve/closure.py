"""``reprokit lock``: a paper's imports resolved to an exact, hashed, dated closure.

uv is the resolver (``uv pip compile``, its binary shipped in the ``uv`` wheel); reprokit
chooses the inputs (declared pins, lock files, installed versions, or the paper's date),
parses uv's output into a typed :class:`~reprokit.lock.Lock`, and reads every artifact's
URL, size and upload time from the index.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from reprokit import http
from reprokit.errors import ResolutionFailed, UnresolvedImports
from reprokit.resolve import pypi
from reprokit.resolve.lockfile import Artifact, Lock, Package
from reprokit.resolve.pins import env_pins, pins_from_lock_files, snapshot_date
from reprokit.resolve.requirements import requirements_for
from reprokit.resolve.settings import NOTEBOOK_TOOLING, LockSettings, best_wheel, target_tags
from reprokit.resolve.unresolved import resolve_unresolved
from reprokit.resolve.uv import compile
from reprokit.scan import ScanResult, reachable_files, tree
from reprokit.scan.declared import is_requirement

log = logging.getLogger(__name__)


_SDIST_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip")


def sdist_version(filename: str, name: str) -> str:
    """The version in an sdist's file name, read after the project's own name: the name
    alone cannot tell where the project ends (``functools32-3.2.3-2.tar.gz``)."""
    stem = next((filename[: -len(x)] for x in _SDIST_SUFFIXES if filename.endswith(x)), filename)
    want = canonicalize_name(name)
    for i, ch in enumerate(stem):
        if ch == "-" and canonicalize_name(stem[:i]) == want:
            return stem[i + 1:]
    return str(parse_sdist_filename(filename)[1])


def artifacts_for(client: pypi.Client, name: str, version: str, hashes: list[str], tags: list[Tag]) -> tuple[list[Artifact], bool]:
    """The sdist and the best wheel of ``name==version`` that uv hashed; and whether an sdist exists."""
    def version_of(f: pypi.File) -> str | None:
        try:
            if f.kind == "wheel":
                return str(parse_wheel_filename(f.filename)[1])
            return str(Version(sdist_version(f.filename, name)))
        except (InvalidVersion, InvalidWheelFilename, InvalidSdistFilename):
            return None

    wanted = set(hashes)
    files = [f for f in client.files(name) if f.sha256 in wanted or (not wanted and version_of(f) == str(Version(version)))]
    sdists = [f for f in files if f.kind == "sdist"]
    chosen = sdists[:1]
    wheel = best_wheel(files, tags)
    if wheel:
        chosen.append(wheel)
    return [Artifact.from_file(f) for f in chosen], bool(sdists)


def lock(scan: ScanResult, settings: LockSettings, root: Path | None = None) -> Lock:
    """The exact, hashed closure of what ``scan`` imports and declares (see :func:`lock_scan`)."""
    return lock_scan(scan, settings, root)[1]


def lock_scan(scan: ScanResult, settings: LockSettings, root: Path | None = None,
              entry_points: Sequence[str] | None = None) -> tuple[ScanResult, Lock]:
    """The scan with the imports no table knows matched from PyPI (see
    :func:`resolve_unresolved`), and the lock of it: versions from the paper's own lock
    files (``root``), else as of the date. An import nothing provides stops the lock,
    unless ``entry_points`` (files) are given and none of them runs or imports a file
    that has it: then it is left out, with a note."""
    found_notes: list[str] = []
    if scan.unresolved:
        scan, found_notes = resolve_unresolved(scan, settings, pypi.Client(settings.index_url))
    if scan.unresolved:
        locs = {i.top: i.locations for i in scan.imports if i.kind == "third-party" and i.distribution is None and not i.optional}
        missing = {n: locs[n] for n in scan.unresolved if n in locs}
        if missing and entry_points:
            local = [(loc.split(":", 1)[0], i.top) for i in scan.imports if i.kind == "local" for loc in i.locations]
            reached = reachable_files(entry_points, local, scan.files)
            unused = {n: v for n, v in missing.items() if not any(loc.split(":", 1)[0] in reached for loc in v)}
            for n, v in sorted(unused.items()):
                files = sorted({loc.split(":", 1)[0] for loc in v})
                found_notes.append(f"{n}: no package index provides it, and only files no entry point runs or imports use it "
                                   f"({', '.join(files[:3])}{', ...' if len(files) > 3 else ''}): not locked; running those files "
                                   "would fail")
            missing = {n: v for n, v in missing.items() if n not in unused}
        if missing:
            detail = "; ".join(f"{n} ({', '.join(v[:2])})" for n, v in sorted(missing.items()))
            raise UnresolvedImports(f"no known distribution for {detail}: neither the paper's declared distributions nor an index project "
                                      f"of that name provides it; declare the one that does in requirements.txt, or put the module's "
                                      f"source in the paper when no package index has it")
    requirements, asked_by = requirements_for(scan, settings)
    has_notebooks = any(f.endswith(".ipynb") for f in scan.files)
    tooling = [t for t in NOTEBOOK_TOOLING if has_notebooks]
    constraints: dict[str, str] = {}
    source = "date"
    if root is not None:
        names = ("uv.lock", "poetry.lock", "Pipfile.lock")
        candidates = [f for f in tree.walk(root, suffixes=None).files if f.rsplit("/", 1)[-1] in names or re.match(r"^requirements.*\.txt$", f.rsplit("/", 1)[-1])]
        constraints, lock_file = pins_from_lock_files(root, candidates)
        if lock_file:
            source = f"lock file {lock_file}"
    if not constraints and settings.from_env:
        constraints = env_pins([Requirement(r).name for r in requirements], settings.from_env)
        source = "installed environment"
    resolve_settings = settings
    if not constraints and not settings.from_env:
        snapshot = snapshot_date(scan, settings, pypi.Client(settings.index_url))
        if snapshot is not None and snapshot < settings.date:
            # A fully pinned declaration is a snapshot of the authors' environment: what
            # it leaves unpinned came from the releases of that moment, not the paper's.
            resolve_settings = dataclasses.replace(settings, date=snapshot)
            source = f"date: the paper pins every requirement it declares, the newest of them released {snapshot}"
    undeclared: dict[str, list[str]] = {}
    newer: dict[str, str] = {}
    try:
        parsed = compile(requirements + tooling, constraints, resolve_settings, undeclared, newer)
    except ResolutionFailed as exc:
        if tooling:
            try:
                compile(requirements, constraints, resolve_settings)
            except ResolutionFailed:
                pass
            else:
                raise ResolutionFailed(
                    f"the notebooks need a Jupyter kernel (ipykernel) in the paper's environment, and no release of it up to "
                    f"{settings.date} agrees with the paper's pins for Python {settings.python}: {exc}") from None
        who = "; ".join(f"{n} asked for by {', '.join(v[:2])}" for n, v in sorted(asked_by.items()) if n in str(exc).lower())
        for d in scan.declared:
            name = canonicalize_name(Requirement(d.requirement).name) if d.url and is_requirement(d.requirement) else ""
            if name and re.search(rf"\b{re.escape(name)}\b was not found|no versions of {re.escape(name)}\b", str(exc).lower()):
                # Installed from a repository or a URL, never released on the index.
                raise ResolutionFailed(
                    f"{d.source} installs {name} from {http.redact(d.url or '')}, and the index has no release of it: reprokit "
                    "archives releases from an index, not checkouts; put its code in the paper (its folder beside the code, or a "
                    "wheel built from it, declared by its path) and archive again") from None
        raise ResolutionFailed(f"could not resolve the closure: {exc}" + (f" [{who}]" if who else "")) from None
    client = pypi.Client(settings.index_url)
    tags = target_tags(settings.python, settings.platform)
    top = {canonicalize_name(Requirement(r).name) for r in requirements}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        arts = list(pool.map(lambda p: artifacts_for(client, p[0], p[1], p[2], tags), parsed))
    packages = []
    for (name, version, _hashes, via), (artifacts, has_sdist) in zip(parsed, arts, strict=False):
        if not artifacts:
            raise ResolutionFailed(f"{name}=={version}: the index lists no file of this release that reprokit can keep")
        via_clean = tuple(sorted({canonicalize_name(v) for v in via if not v.startswith(("-r", "-c")) and v}))
        packages.append(Package(
            name=name, version=version, requested=name in top, tooling=name in tooling and name not in top,
            via=via_clean, artifacts=tuple(artifacts), has_sdist=has_sdist, hashes=tuple(sorted(_hashes)),
        ))
    for name, date in sorted(newer.items()):
        version = next((v for n, v, _, _ in parsed if n == canonicalize_name(name)), "?")
        found_notes.append(f"{name} had no release on the index by {settings.date} (the authors had it from elsewhere, such as its "
                           f"repository): its first release after that date, {version}, is locked (uploaded before {date[:10]})")
    for name, dists in sorted(undeclared.items()):
        found_notes.append(f"{name}: its setup.py imports {', '.join(dists)} at build time without declaring it (as builds did before "
                           f"PEP 518, when every user had it installed): given to the build that reads its metadata")
    locked_names = {p.name for p in packages}
    for d in scan.declared:
        if d.url and is_requirement(d.requirement) and canonicalize_name(Requirement(d.requirement).name) in locked_names:
            found_notes.append(f"{d.source} installs {Requirement(d.requirement).name} from {http.redact(d.url)}; the bundle holds the release "
                               f"of that name on the index instead (reprokit vendors no VCS checkout): check it is the same code")
    return scan, Lock(
        notes=tuple(found_notes),
        python=settings.python, platform=settings.platform, date=settings.date.isoformat(),
        index_url=http.scrub_url(pypi.index_url(settings.index_url)), versions_from=source,
        packages=tuple(sorted(packages, key=lambda p: p.name)),
    )
