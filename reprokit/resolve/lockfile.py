"""The Lock: an exact closure of distributions with every artifact's hashes.

Written three ways: ``reprokit.lock.yaml`` (typed, validated against
``schemas/lock.schema.json``), ``requirements.lock`` (pip's ``--require-hashes`` form,
for a rebuild with nothing but pip) and, in a bundle, ``pylock.toml`` (PEP 751, built and
read back with ``packaging.pylock``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from reprokit import hashes, lazy, schemas, toml
from reprokit.errors import InputError
from reprokit.fsutil import atomic_write_text

if TYPE_CHECKING:
    from packaging import pylock
else:
    pylock = lazy.module("packaging.pylock")  # only for pylock.toml, which validate reads only to rebuild

LOCK_VERSION = 2
BUILD_TOOLS_DIR = "vendor/build"


@dataclass(frozen=True, kw_only=True, slots=True)
class Artifact:
    filename: str
    url: str
    sha256: str
    size: int | None
    kind: Literal["sdist", "wheel"]
    upload_time: str | None

    @property
    def nix32(self) -> str:
        return hashes.nix32_encode(bytes.fromhex(self.sha256))

    @property
    def sri(self) -> str:
        return hashes.sri(bytes.fromhex(self.sha256))

    @classmethod
    def from_file(cls, f: Any) -> Artifact:
        return cls(filename=f.filename, url=f.url, sha256=f.sha256, size=f.size, kind=f.kind, upload_time=f.upload_time)

    def to_json(self) -> dict[str, object]:
        return {"filename": self.filename, "kind": self.kind, "url": self.url, "sha256": self.sha256,
                "sri": self.sri, "nix32": self.nix32, "size": self.size, "upload_time": self.upload_time}


@dataclass(frozen=True, kw_only=True, slots=True)
class Package:
    name: str
    version: str
    requested: bool
    tooling: bool = False
    via: tuple[str, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    has_sdist: bool = True
    hashes: tuple[str, ...] = field(default=())  # every sha256 uv accepted (all platforms)
    # For a package built from its sdist: what its build asks for (PEP 518 ``requires``,
    # or setuptools + wheel for a legacy setup.py, plus the backend's
    # ``get_requires_for_build_wheel``, which holds ``setup_requires``) ...
    build_requires: tuple[str, ...] = ()
    # ... and the exact build tools that satisfy it, ``name==version`` of Lock.build_tools.
    build_with: tuple[str, ...] = ()
    # Of ``build_requires``: what its setup.py imports without declaring it (numpy, Cython):
    # pip's isolated build would not install it, so the rebuild builds it unisolated.
    build_undeclared: tuple[str, ...] = ()

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def why(self) -> str:
        if self.requested:
            return "requested"
        if self.tooling:
            return "tooling (runs the notebooks)"
        return "dependency of " + ", ".join(self.via) if self.via else "dependency"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "requested": self.requested, "tooling": self.tooling,
                "why": self.why, "via": list(self.via), "has_sdist": self.has_sdist,
                "artifacts": [a.to_json() for a in self.artifacts], "hashes": list(self.hashes),
                "build_requires": list(self.build_requires), "build_with": list(self.build_with),
                **({"build_undeclared": list(self.build_undeclared)} if self.build_undeclared else {})}

    @classmethod
    def from_json(cls, p: dict[str, Any]) -> Package:
        return cls(
            name=p["name"], version=p["version"], requested=p["requested"], tooling=p["tooling"],
            via=tuple(p["via"]), has_sdist=p["has_sdist"], hashes=tuple(p["hashes"]),
            build_requires=tuple(p.get("build_requires", ())), build_with=tuple(p.get("build_with", ())),
            build_undeclared=tuple(p.get("build_undeclared", ())),
            artifacts=tuple(Artifact(filename=a["filename"], url=a["url"], sha256=a["sha256"], size=a["size"],
                                     kind=a["kind"], upload_time=a["upload_time"]) for a in p["artifacts"]),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Lock:
    python: str
    platform: str
    date: str
    index_url: str
    versions_from: str
    packages: tuple[Package, ...]
    # The tools that build the sdists above, as wheels kept in vendor/build/: not part of
    # the paper's environment. A name may appear at several versions when two sdists
    # need different ones.
    build_tools: tuple[Package, ...] = ()
    # The upload cutoff the build tools were chosen with, and why it differs from
    # ``date`` when it does (tools of the paper's date that cannot build for its Python).
    build_tools_date: str | None = None
    build_tools_note: str = ""
    # What resolving found out for people (imports resolved from PyPI, ...); not written.
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"reprokit_lock": LOCK_VERSION, "python": self.python, "platform": self.platform, "date": self.date,
                "index_url": self.index_url, "versions_from": self.versions_from,
                "packages": [p.to_json() for p in self.packages],
                "build_tools": [p.to_json() for p in self.build_tools],
                "build_tools_date": self.build_tools_date, "build_tools_note": self.build_tools_note}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lock:
        return cls(
            python=data["python"], platform=data["platform"], date=data["date"], index_url=data["index_url"],
            versions_from=data["versions_from"],
            packages=tuple(Package.from_json(p) for p in data["packages"]),
            build_tools=tuple(Package.from_json(p) for p in data.get("build_tools", ())),
            build_tools_date=data.get("build_tools_date"), build_tools_note=data.get("build_tools_note", ""),
        )

    def build_tool(self, pin: str) -> Package:
        """The build tool ``name==version`` named by a package's ``build_with``."""
        for p in self.build_tools:
            if p.pin == pin:
                return p
        raise KeyError(pin)


def from_source(lock: Lock, names: frozenset[str]) -> Lock:
    """``lock`` with the packages ``names`` (canonical names) built from their sdists: their
    wheels are no longer among the artifacts, so the bundle keeps and installs the sdist."""
    if not names:
        return lock
    return dataclasses.replace(lock, packages=tuple(
        dataclasses.replace(p, artifacts=tuple(a for a in p.artifacts if a.kind == "sdist"))
        if canonicalize_name(p.name) in names and any(a.kind == "sdist" for a in p.artifacts) else p
        for p in lock.packages))


def wheel_installed(lock: Lock) -> frozenset[str]:
    """The packages (canonical names) a rebuild installs from a wheel though it could build
    them from their sdist."""
    return frozenset(canonicalize_name(p.name) for p in lock.packages
                     if {a.kind for a in p.artifacts} == {"sdist", "wheel"})


def validate(data: dict[str, Any], where: str = "lock") -> None:
    schemas.check(data, "lock.schema.json", where)


def render_yaml(lock: Lock) -> str:
    data = lock.to_json()
    validate(data)
    return schemas.dump(data, "reprokit lock: the exact closure of the paper's dependencies, with hashes.")


def read_yaml(path: Path) -> Lock:
    data = schemas.load(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a reprokit lock")
    validate(data, str(path))
    return Lock.from_json(data)


def render_requirements(lock: Lock) -> str:
    """pip's hash-checking form: every package pinned, with every accepted sha256."""
    lines = [
        f"# Exact closure for Python {lock.python} on {lock.platform}, as of {lock.date}.",
        "# Install offline:  pip install --no-index --find-links vendor/sdist --find-links vendor/wheels \\",
        "#                     --require-hashes -r requirements.lock",
    ]
    for p in lock.packages:
        digests = sorted(set(p.hashes) | {a.sha256 for a in p.artifacts})
        lines.append(f"{p.name}=={p.version} \\")
        lines.extend(f"    --hash=sha256:{h} \\" for h in digests[:-1])
        lines.append(f"    --hash=sha256:{digests[-1]}" if digests else "")
        lines.append(f"    # {p.why}")
    return "\n".join(lines) + "\n"


_MACHINES = {"x86_64-linux": ("x86_64", "linux"), "aarch64-linux": ("aarch64", "linux")}


def _upload_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def _standard_name(a: Artifact, name: str, version: Version) -> bool:
    """Whether PEP 751 (as ``packaging.pylock`` checks it) takes ``a`` as an sdist or wheel
    of ``name`` ``version``. Old releases often do not: a ``.tar.bz2`` or ``.egg`` sdist,
    a file name under another spelling of the project or version."""
    try:
        if a.kind == "wheel":
            got_name, got_version, _, _ = parse_wheel_filename(a.filename)
        else:
            got_name, got_version = parse_sdist_filename(a.filename)
    except ValueError:  # InvalidSdistFilename, InvalidWheelFilename, InvalidVersion
        return False
    return got_name == name and got_version == version


def build_pylock(lock: Lock, paths: Mapping[str, str]) -> pylock.Pylock:
    """The lock as PEP 751 sees it: one environment (the lock's Python and platform),
    and per package the artifacts the bundle holds, each with its URL, its path in the
    bundle (``paths``: sha256 -> path), size, sha256 and upload time.

    A file PEP 751 does not take as an sdist or wheel of its package (an old
    ``.tar.bz2`` sdist) is the package's ``archive`` when it has no other file, and is
    otherwise listed under ``[packages.tool.reprokit] files``: every vendored file is named."""
    machine, system = _MACHINES.get(lock.platform, (lock.platform.split("-")[0], lock.platform.split("-")[-1]))
    packages = []
    for p in lock.packages:
        name, version = canonicalize_name(p.name), Version(p.version)
        kept = [a for a in p.artifacts if a.sha256 in paths]
        standard = [a for a in kept if _standard_name(a, name, version)]
        other = [a for a in kept if a not in standard]
        sdist = next((pylock.PackageSdist(name=a.filename, upload_time=_upload_time(a.upload_time), url=a.url, path=paths[a.sha256],
                                          size=a.size, hashes={"sha256": a.sha256}) for a in standard if a.kind == "sdist"), None)
        wheels = [pylock.PackageWheel(name=a.filename, upload_time=_upload_time(a.upload_time), url=a.url, path=paths[a.sha256],
                                      size=a.size, hashes={"sha256": a.sha256}) for a in standard if a.kind == "wheel"] or None
        archive, tool = None, None
        if other and sdist is None and wheels is None:
            a = other.pop(0)
            archive = pylock.PackageArchive(url=a.url, path=paths[a.sha256], size=a.size, upload_time=_upload_time(a.upload_time),
                                            hashes={"sha256": a.sha256})
        if other:
            tool = {"reprokit": {"files": [{"name": a.filename, "url": a.url, "path": paths[a.sha256],
                                            **({"size": a.size} if a.size is not None else {}), "hashes": {"sha256": a.sha256}}
                                           for a in other]}}
        packages.append(pylock.Package(name=name, version=version, index=lock.index_url, sdist=sdist, wheels=wheels,
                                       archive=archive, tool=tool))
    return pylock.Pylock(
        lock_version=Version("1.0"), created_by="reprokit", requires_python=SpecifierSet(f"=={lock.python}.*"),
        environments=[Marker(f"python_version == '{lock.python}' and sys_platform == '{system}' and platform_machine == '{machine}'")],
        packages=packages,
    )


def pylock_files(package: pylock.Package) -> dict[str, tuple[str | None, int | None]]:
    """Every file a ``pylock.toml`` package names (see :func:`build_pylock`): path ->
    (sha256, size)."""
    named: list[Any] = [package.sdist, *(package.wheels or ()), package.archive]
    files = {f.path: (f.hashes.get("sha256"), f.size) for f in named if f is not None and f.path}
    extra = ((package.tool or {}).get("reprokit") or {}).get("files") or ()
    for f in extra if isinstance(extra, list) else ():
        if isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("hashes"), dict):
            files[f["path"]] = (f["hashes"].get("sha256"), f.get("size"))
    return files


def render_pylock(lock: Lock, paths: Mapping[str, str]) -> str:
    """``pylock.toml`` (PEP 751) of the closure; see :func:`build_pylock`. The text is
    read back with ``packaging.pylock`` before it is returned: what it says is what was meant."""
    built = build_pylock(lock, paths)
    text = f"# PEP 751 lock of the paper's environment, for Python {lock.python} on {lock.platform}, as of {lock.date}.\n" \
           "# Install offline into a venv:  uv pip install --python env/bin/python --offline -r pylock.toml\n"
    if any(p.archive or p.tool for p in built.packages):
        text += "# Some vendored files are no PEP 751 sdists or wheels (an old .tar.bz2 sdist: a package's archive, or under\n" \
                "# tool.reprokit beside its wheels); an installer that refuses them installs from requirements.lock with pip.\n"
    text += toml.dumps(built.to_dict())
    if parse_pylock(text) != built:
        raise AssertionError("pylock.toml does not read back as written")
    return text


def parse_pylock(text: str, where: str = "pylock.toml") -> pylock.Pylock:
    """A ``pylock.toml``, read and checked against PEP 751 by ``packaging.pylock``."""
    try:
        return pylock.Pylock.from_dict(toml.loads(text))
    except toml.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from None
    except pylock.PylockValidationError as exc:
        raise InputError(f"{where}: not a PEP 751 lock ({exc})") from None


_PIN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([A-Za-z0-9][A-Za-z0-9.+!_-]*) \\")
_HASH = re.compile(r"    --hash=sha256:([0-9a-f]{64})( \\)?")
_WHY = re.compile(r"    # .*")


@dataclass(frozen=True, kw_only=True, slots=True)
class Pinned:
    """One requirement of a ``requirements.lock``: ``name==version`` and its hashes."""

    name: str
    version: str
    hashes: tuple[str, ...]
    line: int


def pinned_lines(pins: Sequence[Pinned]) -> str:
    """``pins`` as a requirements file pip reads with ``--require-hashes``."""
    return "".join(f"{p.name}=={p.version} " + " ".join(f"--hash=sha256:{h}" for h in p.hashes) + "\n" for p in pins)


def parse_requirements(text: str) -> tuple[list[Pinned], list[tuple[int, str]]]:
    """Read a ``requirements.lock`` in exactly the form :func:`render_requirements`
    writes: ``#`` comment lines, ``name==version`` with ``--hash=sha256:`` continuation
    lines, a ``# why`` comment, blank lines. Anything else pip would obey (options such as
    ``--find-links`` or ``-r``, URLs, markers, extras) is a problem (line, message)."""
    pins: list[Pinned] = []
    problems: list[tuple[int, str]] = []
    current: tuple[str, str, int] | None = None
    digests: list[str] = []
    for n, line in enumerate(text.split("\n"), 1):
        if current is not None:
            m = _HASH.fullmatch(line)
            if not m:
                problems.append((n, f"{current[0]}=={current[1]} continues with something other than --hash=sha256:<64 hex>"))
                current, digests = None, []
                continue
            digests.append(m.group(1))
            if not m.group(2):
                pins.append(Pinned(name=current[0], version=current[1], hashes=tuple(digests), line=current[2]))
                current, digests = None, []
            continue
        if not line or line.startswith("#") or _WHY.fullmatch(line):
            continue  # pip never joins a comment line to the next, even one ending in a backslash
        m = _PIN.fullmatch(line)
        if m:
            current, digests = (m.group(1), m.group(2), n), []
            continue
        shown = line if len(line) <= 60 else line[:57] + "..."
        problems.append((n, f"{shown!r} is not a 'name==version' pin with hashes; reprokit writes nothing else"))
    if current is not None:
        problems.append((current[2], f"{current[0]}=={current[1]} has no final --hash line"))
    return pins, problems


def write(lock: Lock, yaml_path: Path, requirements_path: Path | None = None) -> None:
    atomic_write_text(yaml_path, render_yaml(lock))
    if requirements_path:
        atomic_write_text(requirements_path, render_requirements(lock))
