"""The generated Nix flake: ``flake.nix``, ``flake.lock`` and ``nix/python-packages.nix``.

From a Lock, a NixpkgsPin and the vendored files, writes a flake whose Python
environment is built from the pinned nixpkgs and the bundle's own files only. Each
package gets a provider, recorded in the manifest:

- ``wheel``: the vendored wheel (``format = "wheel"``), ``autoPatchelfHook`` for native code;
- ``sdist``: the vendored source archive through ``buildPythonPackage``;
- ``nixpkgs``: nixpkgs' own package, when the pinned tree has exactly the locked version.

The arguments follow the pinned nixpkgs' era (``format = "pyproject"`` before 23.11,
``pyproject = true`` after; ``build-system``/``dependencies`` from 24.05). All text is
deterministic; every user string goes through :func:`nix_string`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reprokit.fsutil import atomic_write_text
from reprokit.lock import Artifact, Lock, Package
from reprokit.nixpkgs import NixpkgsPin, python_versions

Provider = Literal["nixpkgs", "sdist", "wheel"]
SYSTEMS = {"x86_64-linux": "x86_64-linux", "aarch64-linux": "aarch64-linux"}
# Release dates of the NixOS versions whose Python builders changed.
PYPROJECT_TRUE_SINCE = 1700784000  # 23.11 branch-off, 2023-11-24
BUILD_SYSTEM_SINCE = 1714780800  # 24.05 branch-off, 2024-05-04


def nix_string(text: str) -> str:
    """A Nix string literal holding ``text`` exactly (no interpolation)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def nix_attr(name: str) -> str:
    """An attribute name, quoted unless it is a plain identifier."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_'-]*", name) and name not in _KEYWORDS else nix_string(name)


_KEYWORDS = frozenset({"if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"})


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryPoint:
    name: str  # the app name, e.g. "run_analysis"
    kind: Literal["script", "notebook"]
    path: str  # inside paper/
    args: tuple[str, ...] = ()  # command-line arguments of a script
    cwd: str | None = None  # the folder it runs in, inside paper/ (default: its own)


@dataclass(frozen=True, kw_only=True, slots=True)
class Choice:
    package: str
    provider: Provider
    artifact: Artifact | None  # the vendored file it builds from (None for nixpkgs)


def choose_providers(lock: Lock, nixpkgs_versions: Mapping[str, str] | None = None) -> list[Choice]:
    """Per package: nixpkgs' own when its version matches, else the wheel, else the sdist."""
    out = []
    for p in lock.packages:
        wheel = next((a for a in p.artifacts if a.kind == "wheel"), None)
        sdist = next((a for a in p.artifacts if a.kind == "sdist"), None)
        if nixpkgs_versions and nixpkgs_versions.get(p.name) == p.version:
            out.append(Choice(package=p.name, provider="nixpkgs", artifact=None))
        elif wheel is not None:
            out.append(Choice(package=p.name, provider="wheel", artifact=wheel))
        elif sdist is not None:
            out.append(Choice(package=p.name, provider="sdist", artifact=sdist))
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
    return "python" + python.replace(".", "")


def flake_lock(pin: NixpkgsPin) -> str:
    """flake.lock version 7, keys sorted and indented as Nix writes it."""
    node = {
        "locked": {"lastModified": pin.last_modified, "narHash": pin.nar_hash, "owner": "NixOS", "repo": "nixpkgs", "rev": pin.rev, "type": "github"},
        "original": {"owner": "NixOS", "repo": "nixpkgs", "rev": pin.rev, "type": "github"},
    }
    doc = {"nodes": {"nixpkgs": node, "root": {"inputs": {"nixpkgs": "nixpkgs"}}}, "root": "root", "version": 7}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _list(items: Sequence[str], indent: str) -> str:
    if not items:
        return "[ ]"
    return "[\n" + "".join(f"{indent}  {i}\n" for i in items) + f"{indent}]"


def python_packages_nix(lock: Lock, choices: Sequence[Choice], pin: NixpkgsPin) -> str:
    """``nix/python-packages.nix``: a ``packageOverrides`` function for the locked closure."""
    deps = dependencies(lock)
    era_pyproject_true = pin.last_modified >= PYPROJECT_TRUE_SINCE
    era_build_system = pin.last_modified >= BUILD_SYSTEM_SINCE
    by_name: dict[str, Package] = {p.name: p for p in lock.packages}
    lines = [
        "# Generated by reprokit: the paper's locked Python packages, built from the files in",
        "# vendor/ with the pinned nixpkgs. Each entry says where it comes from.",
        "{ pkgs }:",
        "final: prev:",
        "{",
    ]
    for c in sorted(choices, key=lambda c: c.package):
        p = by_name[c.package]
        attr = nix_attr(p.name)
        dep_refs = [f"final.{nix_attr(d)}" for d in deps.get(p.name, [])]
        if c.provider == "nixpkgs":
            lines.append(f"  # {p.name} {p.version}: nixpkgs' own package at the pinned revision")
            lines.append(f"  {attr} = prev.{attr};")
            continue
        assert c.artifact is not None
        folder = "wheels" if c.artifact.kind == "wheel" else "sdist"
        src = f"../vendor/{folder} + {nix_string('/' + c.artifact.filename)}"
        lines.append(f"  # {p.name} {p.version} from {folder}/{c.artifact.filename}")
        lines.append(f"  {attr} = final.buildPythonPackage {{")
        lines.append(f"    pname = {nix_string(p.name)};")
        lines.append(f"    version = {nix_string(p.version)};")
        lines.append(f"    src = {src};")
        if c.provider == "wheel":
            native = "none-any" not in c.artifact.filename
            lines.append('    format = "wheel";')
            if native:
                lines.append("    nativeBuildInputs = [ pkgs.autoPatchelfHook ];")
                lines.append("    buildInputs = [ pkgs.stdenv.cc.cc.lib pkgs.zlib ];")
            key = "dependencies" if era_build_system else "propagatedBuildInputs"
            lines.append(f"    {key} = {_list(dep_refs, '    ')};")
        else:
            if era_pyproject_true:
                lines.append("    pyproject = true;")
            else:
                lines.append('    format = "pyproject";')
            if era_build_system:
                lines.append("    build-system = [ final.setuptools final.wheel ];")
                lines.append(f"    dependencies = {_list(dep_refs, '    ')};")
            else:
                lines.append("    nativeBuildInputs = [ final.setuptools final.wheel ];")
                lines.append(f"    propagatedBuildInputs = {_list(dep_refs, '    ')};")
        lines.append("    doCheck = false;  # test suites need data and network; the rerun checks the paper")
        lines.append("  };")
    lines.append("}")
    return "\n".join(lines) + "\n"


def flake_nix(lock: Lock, pin: NixpkgsPin, *, description: str, entry_points: Sequence[EntryPoint] = (), name: str = "paper") -> str:
    system = SYSTEMS.get(lock.platform, lock.platform)
    names = [f'ps.{nix_attr(p.name)}' for p in lock.packages]
    apps = []
    checks = []
    for ep in entry_points:
        program = "python" if ep.kind == "script" else "jupyter-execute"
        run = f"${{env}}/bin/{program} {indented(shlex.quote(ep.path))}"
        apps.append(
            f"        {nix_attr(ep.name)} = {{\n"
            f'          type = "app";\n'
            f"          program = \"${{pkgs.writeShellScript {nix_string('run-' + ep.name)} ''\n"
            f"            set -eu\n"
            f"            cd \"''${{REPROKIT_PAPER_DIR:-paper}}\"\n"
            f"            exec {run}\n"
            f"          ''}}\";\n"
            f"        }};"
        )
        checks.append(
            f"        {nix_attr(ep.name)} = pkgs.runCommand {nix_string('rerun-' + ep.name)} {{ }} ''\n"
            f"          cp -r ${{./paper}} work && chmod -R u+w work && cd work\n"
            f"          export HOME=$TMPDIR MPLBACKEND=Agg\n"
            f"          {run}\n"
            f"          mkdir -p $out && cp -r . $out/\n"
            f"        '';"
        )
    if entry_points:
        apps.append(f"        default = self.apps.${{system}}.{nix_attr(entry_points[0].name)};")
    return f"""# Generated by reprokit. The paper's environment, from a pinned nixpkgs and the files in
# vendor/ only:
#   nix build            the Python environment (./result/bin/python)
#   nix develop          a shell with it (or direnv: `use flake`)
#   nix run .#NAME       run an entry point of the paper
#   nix flake check      rerun every entry point
#   nix build .#docker   a Docker image (docker load < result)
{{
  description = {nix_string(description)};

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/{pin.rev}";

  outputs = {{ self, nixpkgs }}:
    let
      system = {nix_string(system)};
      pkgs = import nixpkgs {{ inherit system; }};
      python = pkgs.{python_attr(lock.python)}.override {{
        self = python;
        packageOverrides = import ./nix/python-packages.nix {{ inherit pkgs; }};
      }};
      env = python.withPackages (ps: {_list(names, '      ')});
    in
    {{
      packages.${{system}} = {{
        default = env;
        docker = pkgs.dockerTools.buildLayeredImage {{
          name = {nix_string(name)};
          tag = "latest";
          contents = [ env ];
          config.Cmd = [ "${{env}}/bin/python" ];
        }};
      }};

      devShells.${{system}}.default = pkgs.mkShell {{ packages = [ env ]; }};

      apps.${{system}} = {{
{chr(10).join(apps)}
      }};

      checks.${{system}} = {{
{chr(10).join(checks)}
      }};
    }};
}}
"""


def indented(text: str) -> str:
    """``text`` escaped for a Nix indented string (two single quotes open and close it)."""
    return text.replace("''", "'''").replace("${", "''${")


def write_flake(out: Path, lock: Lock, pin: NixpkgsPin, *, description: str, entry_points: Sequence[EntryPoint] = (),
                name: str = "paper", nixpkgs_tarball: Path | None = None) -> list[Choice]:
    """Write ``flake.nix``, ``flake.lock`` and ``nix/python-packages.nix`` under ``out``.

    With the pinned nixpkgs tarball at hand, packages whose version nixpkgs has exactly
    come from nixpkgs; the rest from the vendored files. Returns the choices, which the
    manifest records.
    """
    versions = python_versions(nixpkgs_tarball) if nixpkgs_tarball else None
    choices = choose_providers(lock, versions)
    atomic_write_text(out / "flake.nix", flake_nix(lock, pin, description=description, entry_points=entry_points, name=name))
    atomic_write_text(out / "flake.lock", flake_lock(pin))
    atomic_write_text(out / "nix" / "python-packages.nix", python_packages_nix(lock, choices, pin))
    return choices
