"""The bundle's Nix build: ``flake.nix``, ``flake.lock``, ``nix/lock.json`` and the Nix library.

reprokit writes data only: ``nix/lock.json`` says what to build from which vendored file
(with its sha256), which build tools and C libraries each sdist needs, and how to rerun
the paper. A small hand-written Nix library, shipped in ``reprokit/data/nix`` and copied
into each bundle's ``nix/``, reads it with the pinned nixpkgs; ``flake.nix`` is the same
for every bundle but for the nixpkgs revision. No user string enters Nix code.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Collection, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from reprokit.errors import InputError, InterpreterUnavailable, SourceNotVendored
from reprokit.fsutil import atomic_write_text
from reprokit.nix import nixpkgs
from reprokit.nix.nixpkgs import NixpkgsPin
from reprokit.nix.providers import (
    Choice,
    NativeInputs,
    build_system,
    choose_providers,
    dependencies,
    native_inputs_table,
    nixpkgs_names,
    python_attr,
    tool_dependencies,
    vendor_path,
    wheel_fit,
)
from reprokit.resolve.lockfile import Artifact, Lock
from reprokit.scan.entrypoints import EntryPoint, is_build_step
from reprokit.scan.project import Project, own_project

LOCK_JSON = "nix/lock.json"


LOCK_JSON_FORMAT = 1


# The Nix library, in reprokit/data/nix/, copied into every bundle's nix/ folder.
# reprokit_show.py: the matplotlib backend that keeps the figures scripts show (plt.show()).
LIBRARY = ("bundle.nix", "builder.nix", "python.nix", "paper.nix", "util.nix", "reprokit_show.py")


# flake.nix may not compute its description: it is this fixed text, not the paper's title.
DESCRIPTION = "A research paper's software environment and reruns, archived by reprokit (see README.md)"


_STORE_NAME = re.compile(r"[A-Za-z0-9+\-_?=][A-Za-z0-9+\-._?=]*")


_REV = re.compile(r"[0-9a-f]{40}")


def _byte_exact(o: Mapping[str, Any]) -> bool:
    """An output whose rule allows no difference: exact bytes, or a rule without tolerance
    for an output that was byte-identical in every archive-time run."""
    kind = o.get("rule", "exact")
    if kind == "exact":
        return True
    return bool(o.get("stable")) and not o.get("rel") and not o.get("abs") and not o.get("sanitize") and "pixel-threshold" not in o and not o.get("time-stamps")


def byte_compared(outputs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The recorded outputs a Nix check compares by sha256 (format-1 records, path and
    sha256 only, are exact bytes). The others have tolerances that only
    ``reprokit validate --rerun`` applies: the check requires that they are written."""
    return [{"path": str(o["path"]), "sha256": str(o["sha256"])} for o in outputs if _byte_exact(o)]


def ruled(outputs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The recorded outputs compared by a rule with tolerances: path and rule."""
    return [{"path": str(o["path"]), "rule": str(o.get("rule"))} for o in outputs if not _byte_exact(o)]


def store_name(filename: str) -> str:
    """A name Nix accepts for the store copy of a vendored file (its own, nearly always)."""
    if _STORE_NAME.fullmatch(filename):
        return filename
    return re.sub(r"[^A-Za-z0-9+\-._?=]", "_", filename).lstrip(".") or "source"


def _file(path: str, a: Artifact) -> dict[str, str]:
    return {"path": path, "sha256": a.sha256, "storeName": store_name(a.filename)}


def entry_folder(ep: EntryPoint) -> tuple[str, str]:
    """The folder an entry point runs in and the file name to run there, both inside paper/."""
    if ep.cwd is None:
        folder, name = posixpath.split(ep.path)
        return folder or ".", name
    return posixpath.normpath(ep.cwd), posixpath.relpath(ep.path, posixpath.normpath(ep.cwd))


def image_name(name: str) -> str:
    """A Docker repository name (lowercase letters, digits, . _ -) from the bundle's name."""
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "paper"


def lock_document(lock: Lock, choices: Sequence[Choice], *, vendored: Collection[str] | None = None, entry_points: Sequence[EntryPoint] = (),
                  outputs: Mapping[str, Sequence[Mapping[str, Any]]] | None = None, native_inputs: Mapping[str, NativeInputs] | None = None,
                  title: str = "", name: str = "paper", python_path: Sequence[str] = (), project: Project | None = None) -> dict[str, Any]:
    """``nix/lock.json``: the lock as the Nix library reads it. ``project``: the paper's
    own, when it is a package, whose metadata its runs see as an installed package's."""
    deps = dependencies(lock)
    chosen = {c.package: c for c in choices}
    table = native_inputs_table()
    for k, v in (native_inputs or {}).items():
        table[k] = table.get(k, NativeInputs()).merged(v)
    packages = []
    used_tools: set[str] = set()
    for p in lock.packages:
        c = chosen[p.name]
        entry: dict[str, Any] = {"name": p.name, "version": p.version, "provider": c.provider, "dependencies": deps[p.name]}
        if c.provider == "nixpkgs" or c.artifact is None or c.path is None:
            entry["nixpkgs"] = list(nixpkgs_names(p.name))
        elif c.provider == "wheel":
            entry["src"] = _file(c.path, c.artifact)
            entry["native"] = wheel_fit(c.artifact.filename, lock.python, lock.platform) == "native"
        else:
            entry["src"] = _file(c.path, c.artifact)
            entry["zip"] = c.artifact.filename.endswith(".zip")
            bs = build_system(p, lock, vendored)
            entry["buildSystem"] = [{"name": b.name, "tool": b.tool} if b.tool else {"name": b.name, "nixpkgs": list(b.nixpkgs)} for b in bs]
            used_tools.update(b.tool for b in bs if b.tool)
            native = table.get(canonicalize_name(p.name), NativeInputs())
            entry["nativeInputs"] = {"host": list(native.host), "build": list(native.build)}
        packages.append(entry)
    needs = tool_dependencies(lock)
    tools = {}
    for t in lock.build_tools:
        if t.pin not in used_tools:
            continue
        wheel = next(a for a in t.artifacts if a.kind == "wheel" and wheel_fit(a.filename, lock.python, lock.platform)
                     and (vendored is None or vendor_path(a, build_tool=True) in vendored))
        tools[t.pin] = {"name": t.name, "version": t.version, "src": _file(vendor_path(wheel, build_tool=True), wheel),
                        "native": wheel_fit(wheel.filename, lock.python, lock.platform) == "native",
                        "dependencies": [canonicalize_name(d) for d in needs.get(t.pin, [])]}
    eps = []
    for ep in entry_points:
        folder, file = entry_folder(ep)
        doc: dict[str, object] = {"name": ep.name, "kind": ep.kind, "path": ep.path, "dir": folder, "file": file, "args": list(ep.args),
                                   "outputs": byte_compared((outputs or {}).get(ep.name, ())), "ruled": ruled((outputs or {}).get(ep.name, ()))}
        if is_build_step(ep):
            doc["build"] = True  # run before every other entry point, in its copy of the paper
        eps.append(doc)
    return {
        "reprokit_nix": LOCK_JSON_FORMAT,
        "title": title,
        "imageName": image_name(name),
        "python": lock.python,
        "interpreter": python_attr(lock.python),
        "system": lock.platform,
        "packages": packages,
        "buildTools": tools,
        "entryPoints": eps,
        "pythonPath": list(python_path),
        **({"project": {"distInfo": project.dist_info, "metadata": project.metadata(), "entryPoints": project.entry_points_txt()}}
           if project is not None else {}),
    }


def check_document(doc: Mapping[str, Any]) -> None:
    """Refuse data Nix could not use as names: entry points and outputs go into store
    names and ``sha256sum -c`` lines."""
    project = doc.get("project")
    if project is not None and not re.fullmatch(r"[A-Za-z0-9_.+!-]+\.dist-info", project["distInfo"]):
        raise InputError(f"the paper's project metadata folder {project['distInfo']!r}: use letters, digits and _ . + ! - only")
    for ep in doc["entryPoints"]:
        if not _STORE_NAME.fullmatch(ep["name"]):
            raise InputError(f"entry point name {ep['name']!r}: use letters, digits and - _ . only")
        for o in ep["outputs"] + ep["ruled"]:
            if any(ch in o["path"] for ch in "\n\r\\") or not re.fullmatch(r"[0-9a-f]{64}", o.get("sha256", "0" * 64)):
                raise InputError(f"recorded output {o['path']!r} of {ep['name']}: not a plain path with a sha256")


def sources(doc: Mapping[str, Any]) -> dict[str, str]:
    """Every vendored file ``nix/lock.json`` builds from: bundle path -> sha256."""
    out = {p["src"]["path"]: p["src"]["sha256"] for p in doc["packages"] if "src" in p}
    out.update((t["src"]["path"], t["src"]["sha256"]) for t in doc["buildTools"].values())
    return out


def missing_sources(bundle: Path, doc: Mapping[str, Any]) -> list[str]:
    """Files ``nix/lock.json`` names that the bundle does not hold (or that escape it)."""
    out = []
    for rel in sorted(sources(doc)):
        parts = rel.split("/")
        if parts[0] != "vendor" or ".." in parts or not (bundle / rel).is_file():
            out.append(rel)
    return out


def flake_nix(pin: NixpkgsPin) -> str:
    if not _REV.fullmatch(pin.rev):
        raise InputError(f"nixpkgs revision {pin.rev!r} is not a 40-digit commit hash")
    return f"""# Generated by reprokit. The paper's environment, from a pinned nixpkgs and the files in
# vendor/ only; nix/lock.json says what to build, nix/*.nix how.
#   nix build                 the Python environment (./result/bin/python)
#   nix develop               a shell with it
#   nix run .#NAME            run an entry point of the paper in a copy of paper/
#   nix flake check           rerun every entry point and compare its outputs
#   nix build .#docker        a Docker image (docker load < result)
{{
  description = "{DESCRIPTION}";

  # Not a flake input: nixpkgs before 2020 has no flake.nix.
  inputs.nixpkgs = {{
    url = "github:NixOS/nixpkgs/{pin.rev}";
    flake = false;
  }};

  outputs = {{ self, nixpkgs }}: import ./nix/bundle.nix {{ inherit nixpkgs; root = ./.; }};
}}
"""


def flake_lock(pin: NixpkgsPin) -> str:
    """flake.lock version 7, keys sorted and indented as Nix writes it."""
    node = {
        "flake": False,
        "locked": {"lastModified": pin.last_modified, "narHash": pin.nar_hash, "owner": "NixOS", "repo": "nixpkgs", "rev": pin.rev, "type": "github"},
        "original": {"owner": "NixOS", "repo": "nixpkgs", "rev": pin.rev, "type": "github"},
    }
    doc = {"nodes": {"nixpkgs": node, "root": {"inputs": {"nixpkgs": "nixpkgs"}}}, "root": "root", "version": 7}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def library() -> dict[str, str]:
    """The Nix library's files: name -> text."""
    folder = resources.files("reprokit").joinpath("data").joinpath("nix")
    return {name: folder.joinpath(name).read_text("utf-8") for name in LIBRARY}


def check_interpreter(pin: NixpkgsPin, python: str, tarball: Path | None = None) -> None:
    """Raise :class:`InterpreterUnavailable` when the pinned nixpkgs has no interpreter for
    ``python``: read from the tarball when reprokit has it, else from the release table
    (for a nixos-unstable pin, only what no release near it has is refused)."""
    attr = python_attr(python)
    have = nixpkgs.interpreters_in_tarball(tarball) if tarball is not None else frozenset()
    if have:
        if attr in have:
            return
        has = f"it has {_names(have)}"
    else:  # no tarball, or one in which reprokit finds no interpreter at all
        maybe, read_from = nixpkgs.interpreters_near(pin)
        if attr in maybe or not maybe:
            return
        has = f"it has {_names(maybe)}" if nixpkgs.release_of_channel(pin.channel) else f"releases {read_from} have {_names(maybe)}"
    raise InterpreterUnavailable(
        f"nixpkgs {pin.channel} {pin.rev[:12]} ({pin.date[:10]}) has no {attr} for Python {python} ({has}); {_where_to_find(attr, pin)}, or choose another --python"
    )


def _names(attrs: Collection[str]) -> str:
    return ", ".join(sorted(attrs, key=lambda a: (len(a), a)))


def _where_to_find(attr: str, pin: NixpkgsPin) -> str:
    table = nixpkgs.interpreter_table()
    having = [r for r in table if attr in r[2]]
    if not having:
        return f"no NixOS release up to {table[-1][0]} has it"
    when = pin.date[:10]
    suggest = next((r for r in having if r[1].isoformat() >= when), having[-1])
    if all(attr in r[2] for r in table if r[1] >= suggest[1]):
        return f"nixos-{suggest[0]} and later have it: pass --channel nixos-{suggest[0]}"
    return f"nixos-{having[0][0]} to nixos-{having[-1][0]} have it: pass --channel nixos-{suggest[0]}"


def write_flake(out: Path, lock: Lock, pin: NixpkgsPin, *, description: str, entry_points: Sequence[EntryPoint] = (),
                name: str = "paper", outputs: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                native_inputs: Mapping[str, NativeInputs] | None = None, python_path: Sequence[str] = ()) -> list[Choice]:
    """Write ``flake.nix``, ``flake.lock``, ``nix/lock.json`` and the Nix library under
    ``out``, building from what ``out/vendor`` holds. Returns the choices, which the
    manifest records. ``description`` (the paper's title) goes into lock.json as data.
    That the pinned tree has the interpreter is :func:`check_interpreter`'s to say, before
    anything is vendored; here every file the build names must be in ``out/vendor``."""
    vendored = {p.relative_to(out).as_posix() for p in (out / "vendor").rglob("*") if p.is_file()} if (out / "vendor").is_dir() else set()
    choices = choose_providers(lock, vendored)
    doc = lock_document(lock, choices, vendored=vendored, entry_points=entry_points, outputs=outputs,
                        native_inputs=native_inputs, title=description, name=name, python_path=python_path,
                        project=own_project(out / "paper"))
    check_document(doc)
    missing = missing_sources(out, doc)
    if missing:
        raise SourceNotVendored(f"{out}: the Nix build would use {missing[0]}, which is not in the bundle" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    atomic_write_text(out / "flake.nix", flake_nix(pin))
    atomic_write_text(out / "flake.lock", flake_lock(pin))
    atomic_write_text(out / LOCK_JSON, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    for file, text in library().items():
        atomic_write_text(out / "nix" / file, text)
    return choices
