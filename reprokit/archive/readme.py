"""The bundle's README: what it holds and the exact commands that check, rebuild and rerun
it (by hand with pip, with Nix, with reprokit).
"""

from __future__ import annotations

import datetime as dt
import posixpath
import shlex
from collections.abc import Sequence

from reprokit import __version__
from reprokit.nix import nixpkgs
from reprokit.resolve.lockfile import Lock
from reprokit.scan import citation
from reprokit.scan.entrypoints import EntryPoint


def run_line(ep: EntryPoint, python: str) -> str:
    """How a person runs an entry point from the bundle's folder, as one shell line.
    ``python`` is relative to the bundle's folder (``env/bin/python``) or a command."""
    folder = ep.cwd if ep.cwd is not None else posixpath.dirname(ep.path)
    folder = "" if folder in (".", "") else folder
    inside = f"paper/{folder}" if folder else "paper"
    back = "../" * inside.count("/") + "../"
    exe = back + python if "/" in python else python
    rel = posixpath.relpath(ep.path, folder or ".")
    made = "mkdir -p " + " ".join(shlex.quote(f"paper/{d}") for d in ep.mkdirs) + " && " if ep.mkdirs else ""
    if ep.kind == "notebook":
        return f"{made}(cd {inside} && jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=paper --output-dir /tmp {shlex.quote(rel)})"
    return f"{made}(cd {inside} && {exe} {shlex.join([rel, *ep.args])})"


def readme(name: str, cit: citation.Citation | None, date: dt.date, python: str, pin: nixpkgs.NixpkgsPin | None, entry_points: Sequence[EntryPoint],
           locked: Lock, nixpkgs_vendored: bool = False, python_path: Sequence[str] = ()) -> str:
    """The bundle's README: what it holds and the exact commands to check, rebuild and rerun it."""
    title = (cit.title if cit and cit.title else name)
    pip_tool = next((p for p in locked.build_tools if p.name == "pip"), None)
    pip_wheel = next((a.filename for a in pip_tool.artifacts if a.kind == "wheel"), None) if pip_tool else None
    links = "--find-links vendor/wheels --find-links vendor/sdist" + (" --find-links vendor/build" if locked.build_tools else "")
    two = python.startswith("2.")
    if two:
        make_env = (f"python{python} vendor/build/{pip_wheel}/pip install --target env/site --no-index --require-hashes --use-pep517 \\\n"
                    f"    {links} -r requirements.lock\nexport PYTHONPATH=$PWD/env/site")
        run_python = f"python{python}"
    else:
        bootstrap = (f"env/bin/python vendor/build/{pip_wheel}/pip install --no-index --find-links vendor/build pip=={pip_tool.version}\n"
                     if pip_tool and pip_wheel else "")
        make_env = (f"python{python} -m venv {'--without-pip ' if bootstrap else ''}env\n{bootstrap}"
                    f"env/bin/python -m pip install --no-index --require-hashes --use-pep517 \\\n    {links} -r requirements.lock")
        run_python = "env/bin/python"
    unisolated = [p for p in locked.packages if p.build_undeclared]
    if unisolated:
        # pip's isolated builds cannot give a setup.py what it does not declare: every build
        # gets the build tools of those that import it, on its path, unisolated.
        tools = sorted({pin for p in unisolated for pin in p.build_with})
        wheels = [a.filename for t in locked.build_tools if t.pin in tools for a in t.artifacts if a.kind == "wheel"]
        unpack = ("mkdir -p build-tools && for w in " + " ".join(f"vendor/build/{shlex.quote(w)}" for w in wheels)
                  + "; do python3 -m zipfile -e \"$w\" build-tools; done\n")
        note = (f"# {', '.join(p.name for p in unisolated)}: setup.py imports {', '.join(sorted({d for p in unisolated for d in p.build_undeclared}))} "
                "without declaring it; builds run unisolated with the build tools on the path\n")
        make_env = make_env.replace("--use-pep517", "--use-pep517 --no-build-isolation")
        make_env = note + unpack + make_env.replace(f"python{python} vendor/build", f"PYTHONPATH=$PWD/build-tools python{python} vendor/build") \
            .replace("env/bin/python -m pip install --no-index --require-hashes", "PYTHONPATH=$PWD/build-tools env/bin/python -m pip install --no-index --require-hashes")
    runs = "\n".join(run_line(e, run_python) for e in entry_points) or "# (no entry points were found)"
    if python_path:  # the paper's own package, importable as if installed
        runs = "export PYTHONPATH=" + ":".join(f"$PWD/paper/{p}" for p in python_path) + ("${PYTHONPATH:+:$PYTHONPATH}" if two else "") + "\n" + runs
    if any(e.kind == "notebook" for e in entry_points):
        kernel = f"PYTHONPATH=$PWD/env/site python{python}" if two else "env/bin/python"
        runs = f"{kernel} -m ipykernel install --user --name paper   # notebooks: any Jupyter, with this kernel\n" + runs
    eps = "\n".join(f"- `{e.path}` ({e.kind}{', ' + shlex.join(e.args) if e.args else ''})" + (f": `nix run .#{e.name}`" if pin else "")
                    for e in entry_points) or "- (none detected)"
    nix_section = ""
    if pin is not None:
        nixpkgs_offline = (
            f"\nNo network at all? nixpkgs itself is in `vendor/nixpkgs/`:\n\n```sh\nmkdir nixpkgs && tar xzf vendor/nixpkgs/{pin.rev}.tar.gz "
            f"-C nixpkgs --strip-components=1\nnix build --override-input nixpkgs path:./nixpkgs\n```\n"
            if nixpkgs_vendored else ""
        )
        nix_section = f"""
## 2. Rebuild and rerun with Nix

```sh
nix build                   # the Python environment, from flake.lock and vendor/
nix develop                 # a shell with it (direnv: `use flake`)
nix flake check             # rerun every entry point, compare its outputs with the recorded ones
nix build .#docker && docker load < result
```
{nixpkgs_offline}
`nix run .#NAME` runs an entry point in a fresh copy of `paper/` (in `$REPROKIT_WORKDIR` if
set, else a temporary folder it names); `nix flake check` compares the outputs recorded
byte for byte, `reprokit validate --rerun` all of them by their rules.
"""
    build = (f"\nThe sdists that have no wheel for Python {python} are built by pip from the build tools in `vendor/build/`"
             + (f" ({locked.build_tools_note})" if locked.build_tools_note else "") + ".\n") if any(p.build_with for p in locked.packages) else ""
    return f"""# {title}: reproducibility bundle

This folder holds the code and data of the paper, and everything needed to rebuild its
software environment and rerun it without the internet: {len(locked.packages)} Python packages for
Python {python} (source archives in `vendor/sdist/`, wheels in `vendor/wheels/`, the tools that
build them in `vendor/build/`){f" and a pin of nixpkgs ({pin.channel}, revision `{pin.rev[:12]}`)" if pin else ""},
as of {date}.

## 1. Check that nothing changed

```sh
python3 verify.py           # needs only Python 3.6+
sha256sum -c SHA256SUMS     # or with coreutils alone
```
{nix_section}
## {"3" if pin else "2"}. Rebuild and rerun with pip{" (no Nix)" if pin else ""}

```sh
{make_env}
{runs}
```
{build}
Entry points:

{eps}

## Check it all with reprokit

```sh
reprokit validate . --rebuild pip --rerun
```

## What is here

- `paper/`: the paper's files as archived.
- `outputs/<entry point>/`: what each entry point wrote when the bundle was made; the
  manifest gives each output's rule (exact bytes, numbers within a tolerance, pixels)
  and what the archive-time runs measured.
- `reprokit.yaml`: the manifest: imports, packages (version, provider, artifacts with
  sha256, SRI, Nix base32 and SWHID), the build tools, entry points and the outputs they
  wrote when the bundle was made, and every file of `paper/` with its sha256.
{"- `flake.nix`, `flake.lock`, `nix/`: the Nix build; " if pin else "- "}`requirements.lock`: the pip lock.
- `pylock.toml`: the same packages as a PEP 751 lock, naming the files in `vendor/`
  (`uv pip install --python env/bin/python --offline -r pylock.toml` installs from it).
- `SHA256SUMS`: every file's sha256; `verify.py`: checks them.

Made by reprokit {__version__}.
"""
