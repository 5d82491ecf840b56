"""``reprokit archive``: scan -> lock -> pin -> vendor -> bundle -> validate.

The bundle is assembled in a temporary folder next to OUT and renamed into place only
when complete and valid. No wall-clock time enters it: dates come from
``SOURCE_DATE_EPOCH`` or the paper's own date, so the same inputs give the same bytes,
and ``--tar`` writes a deterministic ``.tar.gz``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import logging
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reprokit import (
    __version__, buildtools, citation, entrypoints, flake, hashes, manifest, nixpkgs, paperconfig, pypi, record, render, rerun, resolve,
    sandbox, secrets, tree,
)
from reprokit import lock as lock_mod
from reprokit.errors import InputError, NeedsBuildTool, NeedsFolder, NeedsModule, NeedsSourceBuild, UsageError
from reprokit.entrypoints import CONFIGURED
from reprokit.flake import EntryPoint
from reprokit.fsutil import atomic_write_text, files_under, sha256_file
from reprokit.lock import Lock
from reprokit.nixpkgs import cache_root
from reprokit.outputs import config as outputs_config
from reprokit.resolve import LockSettings, choose_python, lazy_left_out
from reprokit.scan import ScanResult, import_roots
from reprokit.validate import check_integrity
from reprokit.vendor import VendorSettings, vendor

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class ArchiveSettings:
    paper: Path
    output: Path
    date: dt.date | None = None
    python: str | None = None
    channel: str | None = None
    offline: bool = False
    wheels: bool = True
    tar: bool = False
    force: bool = False
    record_outputs: bool = True
    nix: bool = True  # False: a pip-only bundle, no flake and no nixpkgs pin
    vendor_nixpkgs: bool = False
    index_url: str | None = None
    cache_dir: Path | None = None
    quiet: bool = False
    # Recording outputs builds sdists and runs the paper: in the sandbox, unless the
    # author says --no-sandbox.
    sandboxed: bool = True
    # Seconds each entry point may run (--run-timeout); None: reprokit.toml's run-timeout,
    # else rerun.RUN_TIMEOUT.
    run_timeout: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ArchiveResult:
    bundle: Path
    tarball: Path | None
    packages: int
    files: int
    outputs: int
    notes: tuple[str, ...]


def paper_date(paper: Path, cit: citation.Citation | None) -> tuple[dt.date, str]:
    """The paper's own date and where it came from; never today's (a bundle holds no
    wall-clock time, and it is the date versions are resolved as of)."""
    if cit and cit.date_released:
        return cit.date_released, "CITATION.cff date-released"
    try:
        out = subprocess.run(["git", "-C", str(paper), "log", "-1", "--format=%cs"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", out.stdout.strip()):
            return dt.date.fromisoformat(out.stdout.strip()), "newest git commit"
    except (OSError, subprocess.TimeoutExpired):
        pass
    raise UsageError(f"{paper}: no date to archive it as of (CITATION.cff has no date-released, and there is no git history); "
                     "pass --date YYYY-MM-DD, the paper's date")


def bundle_name(paper: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", paper.resolve().name).strip("-.") or "paper"


def epoch(date: dt.date) -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return int(env)
    return int(dt.datetime.combine(date, dt.time(), dt.timezone.utc).timestamp())


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


def _copy_paper(src: Path, dest: Path, walked: tree.Walk) -> tuple[list[str], list[str]]:
    """Copy the paper's files (as ``walked`` found them); returns them and notes on links
    that were not followed. A file or folder that cannot be read, or whose name is not
    UTF-8, stops the archive: a bundle silently missing part of the paper would not rerun."""
    notes = []
    for rel, why in walked.skipped:
        where = src / tree.shown(rel)
        if why.startswith(tree.CANNOT_READ):
            raise InputError(f"{where}: {why}; fix its permissions, or list it in .gitignore")
        if why == tree.NOT_UTF8:
            raise InputError(f"{where}: the {why}; rename it (bundles are read on every system)")
        if why.startswith(tree.LEAVES):
            notes.append(f"{where}: {why}; it is not in the bundle")
        elif why == tree.BUILD_OUTPUT:
            notes.append(f"{rel}/: left out of the bundle ({why}); if it is part of the paper, keep it with "
                         f'include = ["{rel}"] in reprokit.toml')
    files = list(walked.files)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(src / rel, target)
        except OSError as exc:
            raise InputError(f"{src / rel}: cannot read ({exc.strerror}); fix its permissions, or list it in .gitignore") from None
        if os.access(src / rel, os.X_OK):
            target.chmod(0o755)
    return files, notes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(out: Path) -> None:
    """Remove what killed runs left next to ``out`` (``.OUT.<pid>.*.tmp`` folders and
    files of runs no longer alive); a bundle set aside by an interrupted ``--force``
    goes back in place when OUT is gone."""
    prefix = f".{out.name}."
    try:
        entries = sorted(out.parent.iterdir())
    except OSError:
        return
    for p in entries:
        name = p.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if ".old." in name and p.is_dir() and not out.exists() and not out.is_symlink():
            os.replace(p, out)
        elif p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _replace_dir(work: Path, out: Path) -> None:
    """Put ``work`` at ``out``: the old one is renamed aside first and deleted last, so a
    kill at any moment leaves a whole bundle at OUT or aside (which :func:`reap` restores)."""
    aside = None
    if out.exists() or out.is_symlink():
        aside = out.with_name(f".{out.name}.{os.getpid()}.old.tmp")
        os.replace(out, aside)
    try:
        os.replace(work, out)
    except BaseException:
        if aside is not None:
            os.replace(aside, out)
        raise
    if aside is not None:
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside)
        else:
            aside.unlink()


def sums(root: Path, known: Mapping[str, str] | None = None) -> str:
    """``SHA256SUMS`` of every file under ``root``; ``known`` gives digests already
    computed (relative path -> sha256), which are not hashed again."""
    known = known or {}
    lines = []
    for rel in files_under(root):
        p = root / rel
        if p.is_file() and not p.is_symlink() and rel != "SHA256SUMS":
            lines.append(f"{known.get(rel) or sha256_file(p)}  {rel}")
    return "\n".join(lines) + "\n"


def write_tar(bundle: Path, name: str, out: Path, mtime: int) -> None:
    """A byte-reproducible .tar.gz: sorted entries, fixed mtime, uid/gid 0, no names.
    Streamed: files go through gzip in chunks, never whole into memory."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    reap(out)
    try:
        with open(tmp, "wb") as out_fh, gzip.GzipFile(filename="", mode="wb", fileobj=out_fh, mtime=0, compresslevel=9) as gz:
            _write_members(bundle, name, gz, mtime)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_members(bundle: Path, name: str, gz: gzip.GzipFile, mtime: int) -> None:
    with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
        paths = [bundle / r for r in files_under(bundle, dirs=True)]
        for p in [bundle, *paths]:
            rel = p.relative_to(bundle).as_posix()
            arc = name if rel == "." else f"{name}/{rel}"
            info = tf.gettarinfo(str(p), arcname=arc)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.pax_headers = {}
            if info.isdir():
                info.mode = 0o755
                tf.addfile(info)
            elif info.issym():
                info.mode = 0o777
                tf.addfile(info)
            else:
                info.mode = 0o755 if os.access(p, os.X_OK) else 0o644
                with open(p, "rb") as fh:
                    tf.addfile(info, fh)


def unbuilt_extensions(scanned: ScanResult, files: Sequence[str]) -> dict[str, str]:
    """The paper's own extension modules that exist only as Cython source (``x.pyx``, no
    built ``x.*.so`` beside it): module -> a line saying so. No index provides them, and
    reprokit runs no build step: a run that imports one fails, and must not be mended
    by locking a PyPI project that happens to share the name."""
    local = {i.top for i in scanned.imports if i.kind == "local"}
    built = {posixpath.basename(f).split(".")[0] for f in files if f.endswith((".so", ".pyd"))}
    out = {}
    for f in files:
        module = posixpath.basename(f)[:-len(".pyx")] if f.endswith(".pyx") else None
        if module in local and module not in built:
            out[module] = (f"{module} is the paper's own extension module, compiled from {f}, and the paper holds no build of it: "
                           "runs that import it fail unless it is built first (often `python setup.py build_ext --inplace`), "
                           "a step reprokit does not run")
    return out


def archive(settings: ArchiveSettings) -> ArchiveResult:
    if not settings.paper.is_dir():
        raise UsageError(f"{settings.paper}: not a folder")
    if settings.output.exists() and not settings.force:
        raise UsageError(f"{settings.output} exists; choose another -o or pass --force to replace it")
    # Absolute from here on: the sandbox, uv and pip are given paths that outlive a chdir.
    paper, out = settings.paper.absolute(), settings.output.absolute()
    notes: list[str] = []
    cit = citation.read(paper)
    date, date_from = (settings.date, "--date") if settings.date else paper_date(paper, cit)
    notes.append(f"date {date} (from {date_from})")
    walked = tree.walk(paper, suffixes=None, keep=entrypoints.kept_folders(paper))
    all_files = list(walked.files)
    choice, scanned, locked = choose_python(paper, all_files, date, settings.python, settings.index_url)
    python = choice.version
    notes.append(f"Python {python} (from {choice.source})")
    notes += locked.notes
    name = bundle_name(paper)
    lock_settings = LockSettings(date=date, python=python, index_url=settings.index_url)
    left_out = lazy_left_out(scanned, lock_settings) | unbuilt_extensions(scanned, all_files)
    notes += dict.fromkeys(left_out.values())

    exe, no_python = rerun.find_python(python)
    config = paperconfig.read(paper)
    run_timeout = settings.run_timeout or paperconfig.run_timeout(config) or rerun.RUN_TIMEOUT
    say = None if settings.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    client = pypi.Client(settings.index_url)
    policy = sandbox.Policy(contained=settings.sandboxed)
    build_needs: dict[str, list[str]] = {}  # sdist -> what its build was found to need beyond what it declares
    locked, build_notes = buildtools.plan(locked, lock_settings, python_exe=exe, client=client, cache=cache_root(settings.cache_dir),
                                          every_sdist=not settings.wheels, policy=policy, needs=build_needs)
    notes += build_notes
    pin = None
    if settings.nix:
        pin = nixpkgs.pin(nixpkgs.PinSettings(date=date, channel=settings.channel, offline=settings.offline, cache_dir=settings.cache_dir, python=python))
        if pin.note:
            notes.append(f"nixpkgs: {pin.note}")
        flake.check_interpreter(pin, python, nixpkgs.cached_tarball(pin.rev, settings.cache_dir))
    native_inputs = flake.read_native_inputs(paper)
    # The paper's own code is importable from every entry point, as when it is a package
    # installed with `pip install -e .` (a src/ layout, examples/ importing the package).
    python_path = list(import_roots(
        [(loc.split(":", 1)[0], i.top) for i in scanned.imports if i.kind == "local" for loc in i.locations], all_files))
    if python_path:
        notes.append(f"the paper's own modules are imported from other folders than theirs: {', '.join(f'paper/{p}' for p in python_path)} "
                     "on sys.path when the entry points run, as an installed (pip install -e .) paper has them")
    detection = entrypoints.detect(paper, all_files)
    eps = detection.entry_points
    sources = {f.entry_point.name: f.source for f in detection.found}
    notes += detection.notes
    if not eps:
        imported = {i.top for i in scanned.imports if i.kind == "local"}
        scripts = entrypoints.candidates(scanned.files, imported)[:3]
        notes.append(
            "no entry points found (notebooks, the commands of the paper's README or Makefile, and scripts with "
            '`if __name__ == "__main__":` are); list what to run in reprokit.toml: entry-points = ['
            + (", ".join(f'"{s}"' for s in scripts) if scripts else '"path/to/script.py"') + "]"
        )
    for f in secrets.scan_path(paper):
        notes.append(f"possible secret at {f.where} ({f.kind}: {f.masked}); it will be in the bundle: remove it before publishing")

    out.parent.mkdir(parents=True, exist_ok=True)
    reap(out)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    try:
        files, link_notes = _copy_paper(paper, work / "paper", walked)
        notes += link_notes
        # Each file is hashed once: the manifest, the recorded outputs and SHA256SUMS
        # share these digests (the integrity check below reads everything again).
        paper_sha = {rel: sha256_file(work / "paper" / rel) for rel in files}
        outputs: dict[str, tuple[manifest.Output, ...]] = {e.name: () for e in eps}
        failed: dict[str, str] = {}
        too_long: frozenset[str] = frozenset()
        ran_for: dict[str, float] = {}
        needed: dict[str, str] = {}  # modules the runs showed a need for -> their distribution
        built: frozenset[str] = frozenset()  # distributions the runs showed must be built from source
        while True:
            shutil.rmtree(work / "vendor", ignore_errors=True)
            report = vendor(locked, VendorSettings(output=work / "vendor", wheels=settings.wheels, cache_dir=settings.cache_dir), client,
                            None if settings.quiet else render.Progress(sys.stderr))
            atomic_write_text(work / "requirements.lock", lock_mod.render_requirements(locked))
            atomic_write_text(work / "pylock.toml", lock_mod.render_pylock(locked, {
                v.artifact.sha256: v.path.relative_to(work).as_posix() for v in report.files if v.path.parent.name in ("sdist", "wheels")}))
            if pin is not None and settings.vendor_nixpkgs:
                vendor_nixpkgs_tarball(pin, work / "vendor" / "nixpkgs", settings.cache_dir)
            if not (settings.record_outputs and eps):
                break
            if exe is None:
                raise UsageError(f"cannot record the paper's outputs: {no_python} (or pass --no-record-outputs)")
            try:
                recorded = record.record_outputs(work, exe, eps, paper, paper_sha, left_out, outputs_config.read(paper), policy,
                                          python_path, required=frozenset(f.entry_point.name for f in detection.found if f.source in CONFIGURED),
                                          buildable=lock_mod.wheel_installed(locked), timeout=run_timeout, progress=say,
                                          unisolated={p.name: p.build_with for p in locked.packages if p.build_undeclared})
                outputs, failed, recorded_notes = recorded.outputs, recorded.failed, recorded.notes
                too_long, ran_for = recorded.too_long, recorded.seconds
            except NeedsFolder as need:
                eps = [dataclasses.replace(e, mkdirs=(*e.mkdirs, need.folder)) if e.name == need.entry_point else e for e in eps]
                notes.append(f"{need.where} writes into {need.folder}/, which the paper does not hold (git keeps no empty folder): "
                             "made before it runs, in every rerun too")
                continue
            except NeedsSourceBuild as need:
                if len(built) >= 4:
                    raise InputError(str(need)) from None
                built |= {record.canonical(need.distribution)}
                notes.append(f"{need.where} crashed in the compiled code of {need.distribution} ({need.message.removeprefix('crashed: ')}): "
                             f"its wheel was built for another release of Python {python}; {need.distribution} is built from its sdist instead")
                locked, build_notes = buildtools.plan(lock_mod.from_source(locked, built), lock_settings, python_exe=exe, client=client,
                                                      cache=cache_root(settings.cache_dir), every_sdist=not settings.wheels, policy=policy, needs=build_needs)
                continue
            except NeedsBuildTool as need:
                if need.distribution in build_needs.get(need.package, []) or sum(map(len, build_needs.values())) >= 8:
                    raise InputError(str(need)) from None
                build_needs.setdefault(need.package, []).append(need.distribution)
                notes.append(f"{need.package}: its build needs {need.what}, which it does not declare (builds of its day found it on "
                             f"the machine): {need.distribution} from PyPI is given to its build, with the build tools")
                locked, build_notes = buildtools.plan(locked, lock_settings, python_exe=exe, client=client,
                                                      cache=cache_root(settings.cache_dir), every_sdist=not settings.wheels, policy=policy,
                                                      needs=build_needs)
                continue
            except NeedsModule as need:
                dist = resolve.distribution_of(need.module, lock_settings, client)
                if dist is None or need.module in needed or len(needed) >= 8:
                    raise InputError(str(need) + ("; no PyPI project provides it: declare where it comes from" if dist is None else "")) from None
                needed[need.module] = dist
                notes.append(f"{need.where} needs {need.module} at run time ({need.message}), which no import of the paper names: "
                             f"{dist} added to the lock; declare it in the paper's requirements")
                locked = lock_mod.from_source(resolve.lock(resolve.with_run_time_needs(scanned, needed), lock_settings, root=paper), built)
                locked, build_notes = buildtools.plan(locked, lock_settings, python_exe=exe, client=client,
                                                      cache=cache_root(settings.cache_dir), every_sdist=not settings.wheels, policy=policy, needs=build_needs)
                continue
            notes += recorded_notes
            break
        choices: list[flake.Choice] = []
        if pin is not None:
            # After the outputs are recorded: the flake's checks compare a rerun with them.
            # An entry point recorded as failing is no check the flake could pass.
            choices = flake.write_flake(work, locked, pin, description=(cit.title if cit and cit.title else name),
                                        entry_points=[e for e in eps if e.name not in failed], name=name,
                                        outputs={n: [o.to_dict() for o in outs] for n, outs in outputs.items()}, native_inputs=native_inputs,
                                        python_path=python_path)
        if cit is None:
            atomic_write_text(work / "CITATION.cff", generated_citation(name, date))
        else:
            shutil.copyfile(paper / "CITATION.cff", work / "CITATION.cff")
        atomic_write_text(work / "README.md", readme(name, cit, date, python, pin, eps, locked, settings.vendor_nixpkgs, python_path))
        verify_src = resources.files("reprokit").joinpath("verify_template.py").read_text("utf-8")
        atomic_write_text(work / "verify.py", verify_src, mode=0o755)
        provider = {c.package: c.provider for c in choices}
        vendored = {(v.artifact.sha256, v.path.parent.name): v for v in report.files}

        def artifacts(p: lock_mod.Package, folder: str | None = None) -> tuple[manifest.Artifact, ...]:
            out_ = []
            for a in p.artifacts:
                v = vendored.get((a.sha256, folder or ("sdist" if a.kind == "sdist" else "wheels")))
                if v is not None:
                    out_.append(manifest.Artifact(path=v.path.relative_to(work).as_posix(), kind=a.kind, url=a.url, sha256=a.sha256,
                                                  sri=a.sri, nix32=a.nix32, swhid=hashes.swhid(v.path), size=v.path.stat().st_size))
            return tuple(out_)

        man = manifest.Manifest(
            format=manifest.FORMAT,
            tool_version=__version__,
            paper=manifest.Paper(name=name, title=cit.title if cit else "", authors=tuple(a.display for a in cit.authors) if cit else (),
                                 date=date, doi=cit.doi if cit else ""),
            python=manifest.PythonTarget(version=python, platform=locked.platform, source=choice.source),
            nixpkgs=pin,
            imports=tuple(manifest.Import(module=i.module, kind=i.kind, optional=i.optional, lazy=i.lazy, distribution=i.distribution,
                                          files=tuple(sorted({loc.split(":")[0] for loc in i.locations}))) for i in scanned.imports),
            packages=tuple(
                manifest.Package(name=p.name, version=p.version, why=p.why, build_with=p.build_with, build_undeclared=p.build_undeclared,
                                 artifacts=artifacts(p),
                                 provider=provider.get(p.name, "wheel" if any(a.kind == "wheel" for a in p.artifacts) and settings.wheels else "sdist"))
                for p in locked.packages),
            build_tools=manifest.BuildTools(date=locked.build_tools_date, note=locked.build_tools_note, packages=tuple(
                manifest.BuildTool(name=p.name, version=p.version, why=_tool_why(p, locked), artifacts=artifacts(p, "build"))
                for p in locked.build_tools)),
            python_path=tuple(python_path),
            run_timeout=run_timeout if settings.record_outputs and eps else None,
            entry_points=tuple(manifest.RecordedEntryPoint(entry_point=e, source=sources.get(e.name, ""), outputs=outputs[e.name],
                                                           status="too-long" if e.name in too_long else "failed" if e.name in failed else "ran",
                                                           error=failed.get(e.name, ""), seconds=ran_for.get(e.name))
                               for e in eps),
            paper_files=tuple(manifest.PaperFile(path=rel, sha256=paper_sha[rel]) for rel in files),
        )
        atomic_write_text(work / "reprokit.yaml", manifest.render(man))
        known = {f"paper/{rel}": sha for rel, sha in paper_sha.items()}
        known.update((v.path.relative_to(work).as_posix(), sha) for (sha, _), v in vendored.items())
        atomic_write_text(work / "SHA256SUMS", sums(work, known))
        problems = check_integrity(work)
        if problems.problems:
            raise InputError(f"the new bundle failed its own integrity check: {problems.problems[0].message}")
        for p in [work, *work.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
        _replace_dir(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    tarball = None
    if settings.tar:
        tarball = out.with_name(out.name + ".tar.gz")
        write_tar(out, name, tarball, epoch(date))
    n_out = sum(len(v) for v in outputs.values())
    return ArchiveResult(bundle=out, tarball=tarball, packages=len(locked.packages), files=len(files), outputs=n_out, notes=tuple(notes))


def _tool_why(tool: lock_mod.Package, locked: Lock) -> str:
    users = sorted(p.name for p in locked.packages if tool.pin in p.build_with)
    if tool.name == "pip" and not users:
        return "installer: the pip that rebuilds the environment"
    return "builds " + ", ".join(users) if users else "build tool"


def vendor_nixpkgs_tarball(pin: nixpkgs.NixpkgsPin, dest: Path, cache_dir: Path | None) -> Path:
    """Copy the pinned nixpkgs tarball into the bundle after checking its narHash."""
    tarball = nixpkgs.cached_tarball(pin.rev, cache_dir)
    if tarball is None:
        raise UsageError(
            f"--vendor-nixpkgs needs the tarball of nixpkgs {pin.rev[:12]}, which an online pin downloads; "
            f"GitHub was not reachable, so pin online elsewhere or put the tarball at "
            f"{nixpkgs.cache_root(cache_dir) / 'nixpkgs' / (pin.rev + '.tar.gz')}"
        )
    got = hashes.sri(hashes.unpacked_nar_sha256(tarball).nar)
    if got != pin.nar_hash:
        raise InputError(f"{tarball}: narHash is {got}, the pin says {pin.nar_hash}; the tarball was not vendored")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{pin.rev}.tar.gz"
    shutil.copyfile(tarball, target)
    return target


def generated_citation(name: str, date: dt.date) -> str:
    return (f'cff-version: 1.2.0\nmessage: "Archived with reprokit; replace this file with the paper\'s own citation."\n'
            f'title: "{name}"\ntype: software\nauthors:\n  - name: "unknown"\ndate-released: "{date.isoformat()}"\n')
