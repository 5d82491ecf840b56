"""``reprokit lock``: a paper's imports resolved to an exact, hashed, dated closure.

uv is the resolver (``uv pip compile``, its binary shipped in the ``uv`` wheel); reprokit
chooses the inputs (declared pins, lock files, installed versions, or the paper's date),
parses uv's output into a typed :class:`~reprokit.lock.Lock`, and reads every artifact's
URL, size and upload time from the index.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from reprokit import http, legacybuild, pypi, toml, tree
from reprokit.declared import is_requirement
from reprokit.errors import ReprokitError, ResolutionFailed, UnresolvedImports, UsageError
from reprokit.lock import Artifact, Lock, Package
from reprokit.scan import Distribution, ScanResult

if TYPE_CHECKING:
    from reprokit.interpreter import PythonChoice


log = logging.getLogger(__name__)
PLATFORMS = {"x86_64-linux": ("x86_64-unknown-linux-gnu", "x86_64"), "aarch64-linux": ("aarch64-unknown-linux-gnu", "aarch64")}
# What the paper's environment needs to run its notebooks: only a kernel. nbclient runs
# in reprokit's own environment, so it never meets the paper's Jupyter pins.
NOTEBOOK_TOOLING = ("ipykernel",)


@dataclass(frozen=True, kw_only=True, slots=True)
class LockSettings:
    date: dt.date
    python: str
    platform: str = "x86_64-linux"
    index_url: str | None = None
    with_optional: bool = False
    from_env: str | None = None  # a Python whose installed versions pin the lock
    uv_cache: Path | None = None
    cache_dir: Path | None = None  # reprokit's artifact cache (pip wheels for older Pythons)


def target_tags(python: str, platform: str) -> list[Tag]:
    """Wheel tags a CPython ``python`` on ``platform`` accepts, best first."""
    major, minor = (int(x) for x in python.split("."))
    arch = PLATFORMS[platform][1]
    plats = [f"manylinux_2_{v}_{arch}" for v in range(39, 16, -1)]
    plats += [f"manylinux2014_{arch}"] + ([f"manylinux2010_{arch}", f"manylinux1_{arch}"] if arch == "x86_64" else [])
    plats += [f"manylinux_2_{v}_{arch}" for v in range(16, 4, -1)] + [f"linux_{arch}"]
    tags = list(cpython_tags((major, minor), platforms=plats))
    tags += list(compatible_tags((major, minor), f"cp{major}{minor}", platforms=plats))
    return tags


def best_wheel(files: list[pypi.File], tags: list[Tag]) -> pypi.File | None:
    rank = {t: i for i, t in enumerate(tags)}
    best: tuple[int, pypi.File] | None = None
    for f in files:
        if f.kind != "wheel":
            continue
        try:
            _, _, _, ftags = parse_wheel_filename(f.filename)
        except InvalidWheelFilename:  # an oddly named wheel is not a candidate
            continue
        score = min((rank[t] for t in ftags if t in rank), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, f)
    return best[1] if best else None


# --- inputs --------------------------------------------------------------------------

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


def env_pins(names: list[str], python: str) -> dict[str, str]:
    """Versions installed in the environment of ``python`` for ``names``."""
    from reprokit.mapping import environment

    versions = environment(python)[1]
    return {str(canonicalize_name(n)): versions[str(canonicalize_name(n))] for n in names if str(canonicalize_name(n)) in versions}


# --- uv --------------------------------------------------------------------------------

def uv_bin() -> str:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError) as exc:
        raise UsageError("the 'uv' package is not installed (pip install uv)") from exc


_PKG_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def parse_uv_output(text: str) -> list[tuple[str, str, list[str], list[str]]]:
    """``uv pip compile --generate-hashes`` output -> (name, version, hashes, via)."""
    out: list[tuple[str, str, list[str], list[str]]] = []
    current: list[object] | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        m = _PKG_LINE.match(raw)
        if m:
            current = [canonicalize_name(m.group(1)), m.group(3), [], []]
            out.append(current)  # type: ignore[arg-type]
            in_via = False
        if current is None:
            continue
        for h in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            current[2].append(h)  # type: ignore[attr-defined]
        if line.startswith("# via"):
            rest = line[len("# via"):].strip()
            if rest:
                current[3].extend(x.strip() for x in rest.split(","))  # type: ignore[attr-defined]
            in_via = True
        elif in_via and line.startswith("#   "):
            current[3].append(line[4:].strip())  # type: ignore[attr-defined]
        elif not line.startswith("#"):
            in_via = False
    return [(str(a), str(b), list(c), list(d)) for a, b, c, d in out]  # type: ignore[call-overload,unused-ignore]


_FILTERED = re.compile(r"hint: `([A-Za-z0-9._-]+)` was filtered by `exclude-newer(?:-package)?`")


_FAILED_BUILD = re.compile(r"Failed to (?:download and )?build `([A-Za-z0-9._-]+)(?:==|@)")


def run_uv(requirements: list[str], constraints: dict[str, str], settings: LockSettings,
           undeclared: dict[str, list[str]] | None = None) -> str:
    """``uv pip compile`` of ``requirements`` as of the settings' date.

    The date also bounds the tools uv builds old sdists with to read their metadata;
    when a build needs a tool released after the date (uv and pip ask for
    setuptools>=40.8.0, from 2019), that tool alone is taken from the earliest later
    date whose releases satisfy the build (six months at a time: an old setup.py may
    also need what later releases removed), while the paper's own environment still
    gets its release of the date.

    An old sdist whose setup.py imports numpy or Cython (:mod:`reprokit.legacybuild`)
    without declaring it gets it for its metadata build (uv's extra-build-dependencies),
    and ``undeclared`` records it (sdist name -> distributions).
    """
    undeclared = {} if undeclared is None else undeclared
    triple = PLATFORMS.get(settings.platform)
    if triple is None:
        raise UsageError(f"--platform {settings.platform!r}: reprokit knows {', '.join(PLATFORMS)}")
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    exclude_newer = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    from reprokit import interpreter

    exe, _ = interpreter.find(settings.python)
    later: dict[str, int] = {}  # build tools taken from later releases -> months after the date
    caps: dict[str, str | None] = {}  # -> their newest release of the date, for the paper's environment
    for _ in range(40):
        with tempfile.TemporaryDirectory(prefix="reprokit-lock-") as tmp:
            req_in = Path(tmp) / "requirements.in"
            req_in.write_text("\n".join(requirements) + "\n", encoding="utf-8")
            cmd = [
                uv_bin(), "pip", "compile", str(req_in), "--quiet", "--no-header", "--generate-hashes",
                "--annotation-style", "split", "--python-version", settings.python,
                "--python-platform", triple[0], "--exclude-newer", exclude_newer,
                "--index-url", pypi.index_url(settings.index_url), "--no-config",
            ]
            if exe:  # old sdists build their metadata with the paper's own Python
                cmd += ["--python", exe]
            for name, months in later.items():
                when = min(cutoff + dt.timedelta(days=round(30.44 * months)), dt.datetime.now(dt.timezone.utc))
                cmd += ["--exclude-newer-package", f"{name}={when.strftime('%Y-%m-%dT%H:%M:%SZ')}"]
            if undeclared:
                config = Path(tmp) / "uv.toml"
                config.write_text("extra-build-dependencies = { " + ", ".join(
                    f"{json.dumps(n)} = {json.dumps(ds)}" for n, ds in sorted(undeclared.items())) + " }\n", encoding="utf-8")
                cmd += ["--config-file", str(config)]
            lines = [f"{n}=={v}" for n, v in sorted(constraints.items())]
            lines += [f"{n}<={v}" for n, v in sorted(caps.items()) if v and n not in constraints]
            if lines:
                con = Path(tmp) / "constraints.txt"
                con.write_text("\n".join(lines) + "\n", encoding="utf-8")
                cmd += ["--constraint", str(con)]
            env = dict(os.environ)
            env.pop("UV_EXCLUDE_NEWER", None)
            if settings.uv_cache:
                env["UV_CACHE_DIR"] = str(settings.uv_cache)
            log.debug("$ %s", http.redact(shlex.join(cmd)))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode == 0:
            return proc.stdout
        failed_build, lacking = _FAILED_BUILD.search(proc.stderr), legacybuild.undeclared_build_import(proc.stderr)
        if failed_build and lacking and lacking not in undeclared.get(failed_build.group(1), []):
            undeclared.setdefault(failed_build.group(1), []).append(lacking)
            log.debug("%s imports %s at build time without declaring it", failed_build.group(1), lacking)
            continue
        building = re.search(r"Failed to (?:download and )?build|Failed to resolve requirements from `(?:setup\.py )?build", proc.stderr)
        tools = [str(canonicalize_name(n)) for n in _FILTERED.findall(proc.stderr)]
        tools = [n for n in tools if later.get(n, 0) < 12 * 15]
        if not building or not tools:
            break
        for name in tools:
            if name not in later:
                caps[name] = newest_before(pypi.Client(settings.index_url), name, cutoff)
            later[name] = later.get(name, 0) + 6
        log.debug("building old sdists needs %s released after %s", ", ".join(tools), settings.date)
    log.debug("%s", http.redact(proc.stderr))
    raise ResolutionFailed(http.redact(uv_reason(proc.stderr)) or f"uv exited with status {proc.returncode}")


def uv_reason(stderr: str) -> str:
    """uv's failure in one line: what failed, the sentence that says why, and for a build
    the exception it ended with."""
    lines = [ln.strip().lstrip("╰─▶ ").strip() for ln in stderr.splitlines() if ln.strip()]
    what = next((ln[len("error: "):] for ln in lines if ln.startswith("error: ")), lines[0] if lines else "")
    why = next((ln[len("cause: "):] if ln.startswith("cause: ") else ln for ln in reversed(lines)
                if "Because " in ln or "unsatisfiable" in ln), "")
    exc = next((ln for ln in reversed(lines) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", ln)), "")
    return "; ".join(dict.fromkeys(x for x in (what, why, exc) if x))


def newest_before(client: pypi.Client, name: str, cutoff: dt.datetime) -> str | None:
    """The newest release of ``name`` with a file uploaded before ``cutoff``."""
    best: Version | None = None
    for f in client.files(name):
        try:
            when = dt.datetime.fromisoformat((f.upload_time or "").replace("Z", "+00:00"))
            version = parse_wheel_filename(f.filename)[1] if f.kind == "wheel" else parse_sdist_filename(f.filename)[1]
        except (ValueError, InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if when < cutoff and not version.is_prerelease and (best is None or version > best):
            best = version
    return str(best) if best else None


def compile(requirements: list[str], constraints: dict[str, str], settings: LockSettings,
            undeclared: dict[str, list[str]] | None = None) -> list[tuple[str, str, list[str], list[str]]]:
    """The exact closure of ``requirements`` for the target Python as of the settings'
    date: (name, version, sha256s uv accepted, what pulled it in). uv resolves for
    Python 3.6 and newer; older Pythons (2.7, 3.5) are resolved by their own pip."""
    from reprokit import interpreter, piptool
    from reprokit.nixpkgs import cache_root
    from reprokit.scan import marker_environment

    if interpreter.key(settings.python) >= interpreter.UV_OLDEST:
        return parse_uv_output(run_uv(requirements, constraints, settings, undeclared))
    exe, how = interpreter.find(settings.python)
    if exe is None:
        raise UsageError(f"uv resolves for Python 3.6 and newer; Python {settings.python} is resolved by its own pip, and {how}")
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return piptool.compile(requirements, constraints, python=settings.python, python_exe=exe, cutoff=cutoff,
                           client=pypi.Client(settings.index_url), cache=cache_root(settings.cache_dir),
                           env=marker_environment(settings.python))


# --- the lock ----------------------------------------------------------------------------

def artifacts_for(client: pypi.Client, name: str, version: str, hashes: list[str], tags: list[Tag]) -> tuple[list[Artifact], bool]:
    """The sdist and the best wheel of ``name==version`` that uv hashed; and whether an sdist exists."""
    def version_of(f: pypi.File) -> str | None:
        try:
            if f.kind == "wheel":
                return str(parse_wheel_filename(f.filename)[1])
            return str(parse_sdist_filename(f.filename)[1])
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


def _newest_file(client: pypi.Client, project: str, cutoff: dt.datetime) -> pypi.File | None:
    """The newest release's file uploaded before ``cutoff`` (else the oldest at all): a
    wheel where there is one."""
    files = [f for f in client.files(project) if not f.yanked]
    def when(f: pypi.File) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat((f.upload_time or "").replace("Z", "+00:00"))
        except ValueError:
            return dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    before = [f for f in files if when(f) < cutoff] or sorted(files, key=when)[:3]
    if not before:
        return None
    newest = max(before, key=when)
    same_release = [f for f in before if abs((when(f) - when(newest)).days) < 30]
    return next((f for f in same_release if f.kind == "wheel"), newest)


def provided_modules(client: pypi.Client, project: str, cutoff: dt.datetime, cache: dict[str, set[str]]) -> set[str]:
    """The top-level modules a project's files provide (read from a wheel's file list or an
    sdist's members), never guessed from its name."""
    key = str(canonicalize_name(project))
    if key not in cache:
        try:
            f = _newest_file(client, project, cutoff)
            cache[key] = pypi.top_level_modules(client.archive_names(f)) if f else set()
        except ReprokitError:
            cache[key] = set()
    return cache[key]


def resolve_unresolved(scan: ScanResult, settings: LockSettings, client: pypi.Client) -> tuple[ScanResult, list[str]]:
    """Imports no table knows, matched from PyPI: first against the distributions the paper
    declares (``nest-simulator`` provides ``nest``; ``econ-ark`` provides ``HARK``), then
    against the PyPI project of the import's own name, when that project's files really
    provide the module (``pyper`` is provided by PypeR). Each match from PyPI gets a note."""
    required = {i.top for i in scan.imports if i.kind == "third-party" and i.distribution is None}
    todo = sorted(m for m in scan.unresolved if m in required or m.split(".")[0] in required)
    if not todo:
        return scan, []
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    cache: dict[str, set[str]] = {}
    declared = sorted({str(canonicalize_name(Requirement(d.requirement).name)) for d in scan.declared if is_requirement(d.requirement)})
    found: dict[str, tuple[str, str]] = {}  # module -> (distribution, how)
    for module in todo:
        top = module.split(".")[0]
        for dist in declared:
            if top in provided_modules(client, dist, cutoff, cache):
                found[module] = (dist, "declared")
                break
        else:
            for name in dict.fromkeys([top, top.replace("_", "-")]):
                try:
                    if top in provided_modules(client, name, cutoff, cache):
                        found[module] = (str(canonicalize_name(name)), "pypi")
                        break
                except ReprokitError:
                    continue
    if not found:
        return scan, []
    notes = [f"{m} is provided by the PyPI project {d} (read from its files); declare it, as reprokit locks it now"
             for m, (d, how) in sorted(found.items()) if how == "pypi"]
    by_top = {m.split(".")[0]: v for m, v in found.items()}
    imports = tuple(dataclasses.replace(i, distribution=by_top[i.top][0]) if i.kind == "third-party" and i.distribution is None and i.top in by_top else i
                    for i in scan.imports)
    dists = {d.name: d for d in scan.distributions}
    for top, (dist, how) in by_top.items():
        mods = tuple(sorted({i.module for i in imports if i.top == top}))
        optional = all(i.optional for i in imports if i.top == top)
        old = dists.get(dist)
        dists[dist] = Distribution(name=dist, imports=tuple(sorted(set(mods) | set(old.imports if old else ()))),
                                   optional=optional and (old.optional if old else True), declared=how == "declared",
                                   how="declared" if how == "declared" else "pypi")
    unresolved = tuple(u for u in scan.unresolved if u not in found and u.split(".")[0] not in by_top)
    return dataclasses.replace(scan, imports=imports, distributions=tuple(sorted(dists.values(), key=lambda d: d.name)),
                               unresolved=unresolved), notes


def distribution_of(module: str, settings: LockSettings, client: pypi.Client) -> str | None:
    """The distribution that provides ``module``: reprokit's table, else the PyPI project of
    the module's name when its files provide it."""
    from reprokit.mapping import Mapper

    match = Mapper(()).lookup(module)
    if match is not None:
        return match.distribution
    top = module.split(".")[0]
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    for name in dict.fromkeys([top, top.replace("_", "-")]):
        try:
            if top in provided_modules(client, name, cutoff, {}):
                return str(canonicalize_name(name))
        except ReprokitError:
            continue
    return None


def with_run_time_needs(scan: ScanResult, needed: dict[str, str]) -> ScanResult:
    """``scan`` with the distributions a run showed it needs (module -> distribution), as
    required distributions of their own."""
    dists = {d.name: d for d in scan.distributions}
    for module, dist in needed.items():
        old = dists.get(dist)
        dists[dist] = Distribution(name=dist, imports=tuple(sorted({module, *(old.imports if old else ())})), optional=False,
                                   declared=old.declared if old else False, how=old.how if old else "needed at run time")
    return dataclasses.replace(scan, distributions=tuple(sorted(dists.values(), key=lambda d: d.name)))


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
        released: dict[Version, dt.datetime] = {}
        for f in files:
            try:
                version = parse_wheel_filename(f.filename)[1] if f.kind == "wheel" else parse_sdist_filename(f.filename)[1]
                when = dt.datetime.fromisoformat((f.upload_time or "").replace("Z", "+00:00"))
            except (ValueError, InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
                continue
            # A release's files arrive over hours, and some projects add wheels years
            # later: it counts as out with its first file a Linux machine could use.
            usable = f.kind == "sdist" or "linux" in f.filename or f.filename.endswith("-none-any.whl")
            if usable and when < cutoff and spec.contains(version, prereleases=True):
                released[version] = min(when, released.get(version, when))
        if not released:
            return None
        day = released[max(released)].date() + dt.timedelta(days=1)
        newest = day if newest is None else max(newest, day)
    return newest


def lock(scan: ScanResult, settings: LockSettings, root: Path | None = None) -> Lock:
    """The exact, hashed closure of what ``scan`` imports and declares (see :func:`lock_scan`)."""
    return lock_scan(scan, settings, root)[1]


def lock_scan(scan: ScanResult, settings: LockSettings, root: Path | None = None) -> tuple[ScanResult, Lock]:
    """The scan with the imports no table knows matched from PyPI (see
    :func:`resolve_unresolved`), and the lock of it: versions from the paper's own lock
    files (``root``), else as of the date."""
    found_notes: list[str] = []
    if scan.unresolved:
        scan, found_notes = resolve_unresolved(scan, settings, pypi.Client(settings.index_url))
    if scan.unresolved:
        locs = {i.top: i.locations for i in scan.imports if i.kind == "third-party" and i.distribution is None and not i.optional}
        missing = {n: locs[n] for n in scan.unresolved if n in locs}
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
    try:
        parsed = compile(requirements + tooling, constraints, resolve_settings, undeclared)
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
        raise ResolutionFailed(f"could not resolve the closure: {exc}" + (f" [{who}]" if who else "")) from None
    client = pypi.Client(settings.index_url)
    tags = target_tags(settings.python, settings.platform)
    top = {canonicalize_name(Requirement(r).name) for r in requirements}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        arts = list(pool.map(lambda p: artifacts_for(client, p[0], p[1], p[2], tags), parsed))
    packages = []
    for (name, version, _hashes, via), (artifacts, has_sdist) in zip(parsed, arts, strict=False):
        via_clean = tuple(sorted({canonicalize_name(v) for v in via if not v.startswith(("-r", "-c")) and v}))
        packages.append(Package(
            name=name, version=version, requested=name in top, tooling=name in tooling and name not in top,
            via=via_clean, artifacts=tuple(artifacts), has_sdist=has_sdist, hashes=tuple(sorted(_hashes)),
        ))
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


def choose_python(paper: Path, files: Sequence[str], date: dt.date, python: str | None = None, index_url: str | None = None,
                  ) -> tuple[PythonChoice, ScanResult, Lock]:
    """The paper's Python, its scan (imports matched from PyPI included) and its runtime
    lock. ``--python`` wins; else what the paper states (:func:`interpreter.infer`), the
    first version of a range whose locked packages all have wheels; when it states
    nothing, the newest CPython of its date for which they do. A version this machine
    lacks gives way, unless forced, to the nearest installed one (the first of those the
    locked packages have wheels for), with a note naming both."""
    from reprokit import interpreter
    from reprokit.scan import ScanSettings, scan

    stated = interpreter.PythonChoice(version=python, source="--python") if python else interpreter.infer(paper, files, date)
    if stated:
        candidates = [dataclasses.replace(stated, version=v, alternatives=()) for v in (stated.version, *stated.alternatives)]
    else:
        candidates = [interpreter.PythonChoice(version=v, source=f"the newest CPython of {date} with wheels for the locked packages")
                      for v in interpreter.current_at(date)[:3]]
    if python is None:
        here = [c for c in candidates if interpreter.find(c.version)[0] is not None]
        if here:
            candidates = here
        else:
            wanted = candidates[0]
            near = interpreter.nearest_installed(wanted.version)[:3]
            candidates = [interpreter.PythonChoice(version=v, source=(
                f"{wanted.source}; Python {wanted.version} is not on this machine, and {v} is the nearest installed one"
                + (" the locked packages have wheels for" if i else ""))) for i, v in enumerate(near)] or candidates
    if len(candidates) == 1 or python is not None:
        choice = candidates[0]
        scanned, locked = lock_scan(scan(ScanSettings(path=paper, python=choice.version)),
                                    LockSettings(date=date, python=choice.version, index_url=index_url), root=paper)
        return choice, scanned, locked
    first: tuple[PythonChoice, ScanResult, Lock] | None = None
    failure: ResolutionFailed | None = None
    for choice in candidates:
        try:
            scanned, locked = lock_scan(scan(ScanSettings(path=paper, python=choice.version)),
                                        LockSettings(date=date, python=choice.version, index_url=index_url), root=paper)
        except ResolutionFailed as exc:
            failure = failure or exc
            continue
        first = first or (choice, scanned, locked)
        lacking = lacks_wheels(locked, index_url)
        if not lacking:
            if choice is not candidates[0] and stated and stated.alternatives:
                choice = dataclasses.replace(choice, source=f"{stated.source}, the newest version it allows for which the locked packages "
                                                           f"have wheels ({candidates[0].version} has none for some)")
            return choice, scanned, locked
        log.debug("Python %s: no wheel for %s", choice.version, ", ".join(lacking))
    if first is None:
        assert failure is not None
        raise failure
    choice, scanned, locked = first
    if not stated:
        choice = dataclasses.replace(choice, source=f"the newest CPython of {date} (no candidate had wheels for every locked package)")
    elif choice.source.endswith(" the locked packages have wheels for"):
        choice = dataclasses.replace(choice, source=choice.source.removesuffix(" the locked packages have wheels for"))
    return choice, scanned, locked


def lacks_wheels(locked: Lock, index_url: str | None = None) -> list[str]:
    """Packages with no wheel for the lock's Python although their release has compiled
    wheels for others: building them needs compilers and system libraries."""
    client = pypi.Client(index_url)
    out = []
    for p in locked.packages:
        if any(a.kind == "wheel" for a in p.artifacts):
            continue
        try:
            files = client.files(p.name)
        except ReprokitError:
            continue
        prefix = re.sub(r"[-_.]+", "_", p.name).lower() + "-" + p.version + "-"
        if any(f.filename.lower().startswith(prefix) and f.kind == "wheel" and "-none-any" not in f.filename for f in files):
            out.append(p.pin)
    return out
