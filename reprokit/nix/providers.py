"""What the Nix build builds each locked package from: its vendored wheel (pure or native,
as it fits the target), its sdist with the build tools of its ``build_with`` and the C
libraries of its native inputs (``native_inputs.json``, and a paper's ``[native-inputs]``),
or nixpkgs' own package when nothing is vendored.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from reprokit import data
from reprokit.errors import InputError
from reprokit.resolve.lockfile import BUILD_TOOLS_DIR, Artifact, Lock, Package
from reprokit.scan import paperconfig

# Without any [build-system] to go by, an sdist is a setup.py project.
LEGACY_BUILD = ("setuptools", "wheel")


_ATTR_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*(\|[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*)*")

Provider = Literal["nixpkgs", "sdist", "wheel"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Choice:
    package: str
    provider: Provider
    artifact: Artifact | None  # the vendored file it builds from (None for nixpkgs)
    path: str | None = None  # that file inside the bundle, e.g. vendor/wheels/x.whl


@dataclass(frozen=True, kw_only=True, slots=True)
class NativeInputs:
    """nixpkgs attribute paths an sdist's build needs: libraries and build-time tools."""

    host: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    def merged(self, other: NativeInputs) -> NativeInputs:
        return NativeInputs(host=tuple(dict.fromkeys(self.host + other.host)), build=tuple(dict.fromkeys(self.build + other.build)))


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildInput:
    """One build tool of an sdist: a vendored wheel (``tool``, ``name==version``) or nixpkgs' package."""

    name: str
    tool: str | None = None
    nixpkgs: tuple[str, ...] = field(default=())


def vendor_path(a: Artifact, *, build_tool: bool = False) -> str:
    """Where vendoring puts an artifact inside the bundle."""
    if build_tool:
        return f"{BUILD_TOOLS_DIR}/{a.filename}"
    return f"vendor/{'wheels' if a.kind == 'wheel' else 'sdist'}/{a.filename}"


def wheel_fit(filename: str, python: str, system: str) -> Literal["pure", "native"] | None:
    """Whether a wheel installs on ``python`` for ``system``: pure Python, native (needs
    autoPatchelf), or not at all."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    major, minor = (int(x) for x in python.split(".")[:2])
    arch = system.split("-", 1)[0]
    native = False
    for t in tags:
        m = re.fullmatch(r"(py|cp)(\d)(\d*)", t.interpreter)
        if not m or int(m.group(2)) != major:
            continue
        want = int(m.group(3)) if m.group(3) else None
        if m.group(1) == "cp" and want is not None and want != minor and t.abi != "abi3":
            continue
        if want is not None and want > minor:
            continue
        if t.abi not in ("none", "abi3", f"cp{major}{minor}", f"cp{major}{minor}m"):
            continue
        if t.platform == "any":
            return "pure"
        if re.fullmatch(rf"(manylinux\w*|linux)_{re.escape(arch)}", t.platform):
            native = True
    return "native" if native else None


def choose_providers(lock: Lock, vendored: Collection[str] | None = None) -> list[Choice]:
    """Per package: its wheel when vendored and installable, else its sdist, else nixpkgs'
    package of that name. ``vendored`` holds bundle paths; None takes every artifact as vendored."""
    out = []
    for p in lock.packages:
        def present(a: Artifact) -> bool:
            return vendored is None or vendor_path(a) in vendored

        wheel = next((a for a in p.artifacts if a.kind == "wheel" and present(a) and wheel_fit(a.filename, lock.python, lock.platform)), None)
        sdist = next((a for a in p.artifacts if a.kind == "sdist" and present(a)), None)
        if wheel is not None:
            out.append(Choice(package=p.name, provider="wheel", artifact=wheel, path=vendor_path(wheel)))
        elif sdist is not None:
            out.append(Choice(package=p.name, provider="sdist", artifact=sdist, path=vendor_path(sdist)))
        else:
            out.append(Choice(package=p.name, provider="nixpkgs", artifact=None))
    return out


def dependencies(lock: Lock) -> dict[str, list[str]]:
    """Forward edges of the closure, from each package's ``via``."""
    deps: dict[str, list[str]] = {p.name: [] for p in lock.packages}
    for p in lock.packages:
        for parent in p.via:
            if parent in deps:
                deps[parent].append(p.name)
    return {k: sorted(set(v)) for k, v in deps.items()}


def python_attr(python: str) -> str:
    return "python" + "".join(python.split(".")[:2])


def nixpkgs_names(name: str) -> tuple[str, ...]:
    """Attribute names nixpkgs has used for a PyPI name (flit-core; setuptools_scm in 2020)."""
    norm = canonicalize_name(name)
    return tuple(dict.fromkeys((norm, norm.replace("-", "_"), norm.replace("-", ""))))


def tool_dependencies(lock: Lock) -> dict[str, list[str]]:
    """For each build tool (``name==version``): the names of the build tools it requires."""
    by_name: dict[str, list[str]] = {}
    for t in lock.build_tools:
        for parent in t.via:
            by_name.setdefault(canonicalize_name(parent), []).append(t.name)
    return {t.pin: sorted(set(by_name.get(canonicalize_name(t.name), []))) for t in lock.build_tools}


def _requirement_names(specs: Iterable[str]) -> list[str]:
    names = []
    for spec in specs:
        try:
            names.append(Requirement(spec).name)
        except InvalidRequirement:
            continue
    return names


def build_system(p: Package, lock: Lock, vendored: Collection[str] | None = None) -> list[BuildInput]:
    """What builds sdist ``p``: the wheels of its ``build_with`` (and the build tools they
    require) where vendored and installable, else nixpkgs' tool of each name; with neither,
    what ``build_requires`` names, or setuptools + wheel."""
    tools = {t.pin: t for t in lock.build_tools}
    needs = tool_dependencies(lock)
    chosen: dict[str, Package] = {}  # canonical name -> tool
    queue = [tools[pin] for pin in p.build_with if pin in tools]
    while queue:
        t = queue.pop(0)
        key = canonicalize_name(t.name)
        if key in chosen:
            continue
        chosen[key] = t
        for dep in needs.get(t.pin, []):
            if canonicalize_name(dep) not in chosen:
                # The version this sdist names, else the only (or newest listed) one.
                candidates = [x for x in lock.build_tools if canonicalize_name(x.name) == canonicalize_name(dep)]
                named = [x for x in candidates if x.pin in p.build_with]
                if named or candidates:
                    queue.append((named or candidates)[-1])
    names = [t.name for t in chosen.values()] or _requirement_names(p.build_requires) or list(LEGACY_BUILD)
    out: list[BuildInput] = []
    for name in dict.fromkeys(names):
        tool = chosen.get(canonicalize_name(name))
        wheel = None
        if tool is not None:
            wheel = next((a for a in tool.artifacts if a.kind == "wheel" and wheel_fit(a.filename, lock.python, lock.platform)
                          and (vendored is None or vendor_path(a, build_tool=True) in vendored)), None)
        if tool is not None and wheel is not None:
            out.append(BuildInput(name=canonicalize_name(name), tool=tool.pin))
        else:
            out.append(BuildInput(name=canonicalize_name(name), nixpkgs=nixpkgs_names(name)))
    return out


def native_inputs_table() -> dict[str, NativeInputs]:
    table = data.load_json("native_inputs.json")["packages"]
    return {canonicalize_name(k): NativeInputs(host=tuple(v.get("host", ())), build=tuple(v.get("build", ()))) for k, v in table.items()}


def parse_native_inputs(table: Mapping[str, Any], where: str) -> dict[str, NativeInputs]:
    """A ``[native-inputs]`` table: ``name = ["attr", ...]`` (build tools such as pkg-config
    sorted out by name) or ``name = { host = [...], build = [...] }``."""
    tools = set(data.load_json("native_inputs.json")["build_tools"])
    out: dict[str, NativeInputs] = {}
    for name, value in table.items():
        if isinstance(value, list):
            host = [v for v in value if not (isinstance(v, str) and v.split("|")[0] in tools)]
            build = [v for v in value if isinstance(v, str) and v.split("|")[0] in tools]
        elif isinstance(value, dict) and set(value) <= {"host", "build"}:
            host, build = list(value.get("host", [])), list(value.get("build", []))
        else:
            raise InputError(f"{where}: native-inputs.{name} must be a list of nixpkgs attributes or {{ host = [...], build = [...] }}")
        for attr in host + build:
            if not isinstance(attr, str) or not _ATTR_PATH.fullmatch(attr):
                raise InputError(f"{where}: native-inputs.{name}: {attr!r} is not a nixpkgs attribute path (like \"gsl\" or \"xorg.libX11\")")
        out[canonicalize_name(name)] = NativeInputs(host=tuple(host), build=tuple(build))
    return out


def read_native_inputs(paper: Path) -> dict[str, NativeInputs]:
    """The paper's own ``[native-inputs]``, from reprokit.toml or pyproject's [tool.reprokit]."""
    cfg = paperconfig.read(paper)
    table = cfg.table.get("native-inputs")
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise InputError(f"{cfg.where}: native-inputs must be a table")
    return parse_native_inputs(table, cfg.where)
