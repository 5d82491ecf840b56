"""Versions a paper states: pins of its lock files, of an installed environment, and the
date of a fully pinned declaration (a snapshot of the authors' environment).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    canonicalize_name,
)

from reprokit import toml
from reprokit.errors import ReprokitError, UsageError
from reprokit.resolve import pypi
from reprokit.resolve.settings import LockSettings
from reprokit.scan import ScanResult
from reprokit.scan.declared import is_requirement
from reprokit.scan.mapping import environment


def pins_from_lock_files(root: Path, files: tuple[str, ...] | list[str]) -> tuple[dict[str, str], str | None]:
    """name -> exact version from a lock file in the paper (uv, poetry, Pipfile, pinned requirements)."""
    pins: dict[str, str]
    for rel in sorted(files, key=lambda r: (r.count("/"), r)):
        base = rel.rsplit("/", 1)[-1]
        path = root / rel
        try:
            if base in ("uv.lock", "poetry.lock"):
                data = toml.loads(path.read_text(encoding="utf-8"))
                pins = {str(canonicalize_name(p["name"])): str(p["version"]) for p in data.get("package", []) if "version" in p}
                if pins:
                    return pins, rel
            elif base == "Pipfile.lock":
                data = json.loads(path.read_text(encoding="utf-8"))
                pins = {str(canonicalize_name(k)): v["version"].lstrip("=") for k, v in data.get("default", {}).items() if isinstance(v, dict) and "version" in v}
                if pins:
                    return pins, rel
        except (OSError, ValueError, KeyError, toml.TOMLDecodeError, RecursionError) as exc:
            raise UsageError(f"{rel}: cannot read lock file ({exc.__class__.__name__}: {exc})") from None
    for rel in files:
        base = rel.rsplit("/", 1)[-1]
        if re.match(r"^requirements.*\.txt$", base):
            lines = [ln.split("#")[0].strip() for ln in (root / rel).read_text(encoding="utf-8", errors="replace").splitlines()]
            reqs = [ln for ln in lines if ln and not ln.startswith("-")]
            pins = {}
            for ln in reqs:
                try:
                    req = Requirement(ln.split(" --hash")[0].split("\\")[0].strip())
                except InvalidRequirement:
                    break
                exact = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
                if not exact:
                    break
                pins[str(canonicalize_name(req.name))] = exact[0]
            else:
                if pins:
                    return pins, rel
    return {}, None


def env_pins(names: list[str], python: str) -> dict[str, str]:
    """Versions installed in the environment of ``python`` for ``names``."""

    versions = environment(python)[1]
    return {str(canonicalize_name(n)): versions[str(canonicalize_name(n))] for n in names if str(canonicalize_name(n)) in versions}


def snapshot_date(scan: ScanResult, settings: LockSettings, client: pypi.Client) -> dt.date | None:
    """When every base requirement the paper declares is pinned to one release (an
    environment file listing ``brian2=2.1.2``, ``numpy=1.13.3`` …), the day the newest of
    those releases was out for Linux: the environment was made then, or soon after."""
    pins: dict[str, SpecifierSet] = {}
    for d in scan.declared:
        if d.optional or not is_requirement(d.requirement):
            continue
        req = Requirement(d.requirement)
        exact = [sp for sp in req.specifier if sp.operator in ("==", "===")]
        if req.marker is not None and not req.marker.evaluate({"python_version": settings.python, "sys_platform": "linux",
                                                               "platform_system": "Linux", "os_name": "posix", "extra": ""}):
            continue
        name = str(canonicalize_name(req.name))
        if not exact:
            return None  # a range: the paper's date decides
        pins[name] = req.specifier
    if len(pins) < 2:
        return None
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    newest = None
    for name, spec in pins.items():
        try:
            files = client.files(name)
        except ReprokitError:
            return None
        # A release counts as out with its first file a Linux machine could use.
        usable = [f for f in files if f.kind == "sdist" or "linux" in f.filename or f.filename.endswith("-none-any.whl")]
        released = {v: when for v, when in pypi.released(usable).items() if when < cutoff and spec.contains(v, prereleases=True)}
        if not released:
            return None
        day = released[max(released)].date() + dt.timedelta(days=1)
        newest = day if newest is None else max(newest, day)
    return newest
