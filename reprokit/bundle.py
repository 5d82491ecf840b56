"""``reprokit archive``: scan -> lock -> pin -> vendor -> bundle -> validate.

The bundle is assembled in a temporary folder next to OUT and renamed into place only
when complete and valid. No wall-clock time enters it: dates come from
``SOURCE_DATE_EPOCH`` or the paper's own date, so the same inputs give the same bytes,
and ``--tar`` writes a deterministic ``.tar.gz``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from reprokit import __version__, citation, entrypoints, flake, hashes, manifest, nixpkgs, rerun, sandbox, secrets, tree
from reprokit import lock as lock_mod
from reprokit.errors import InputError, UsageError
from reprokit.fsutil import atomic_write_text, files_under, sha256_file
from reprokit.resolve import LockSettings, lazy_left_out, lock
from reprokit.scan import ScanSettings, scan
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
    vendor_nixpkgs: bool = False
    index_url: str | None = None
    cache_dir: Path | None = None
    quiet: bool = False
    # Recording outputs builds sdists and runs the paper: in the sandbox, unless the
    # author says --no-sandbox.
    sandboxed: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class ArchiveResult:
    bundle: Path
    tarball: Path | None
    packages: int
    files: int
    outputs: int
    notes: tuple[str, ...]


def paper_date(paper: Path, cit: citation.Citation | None) -> tuple[dt.date, str]:
    if cit and cit.date_released:
        return cit.date_released, "CITATION.cff date-released"
    try:
        out = subprocess.run(["git", "-C", str(paper), "log", "-1", "--format=%cs"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", out.stdout.strip()):
            return dt.date.fromisoformat(out.stdout.strip()), "newest git commit"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return dt.date.today(), "today"


def paper_python(paper: Path) -> str | None:
    """The Python version the paper declares (.python-version, runtime.txt, requires-python, conda)."""
    for name in (".python-version", "runtime.txt"):
        p = paper / name
        if p.is_file():
            m = re.search(r"(\d+)\.(\d+)", p.read_text(encoding="utf-8", errors="replace"))
            if m:
                return f"{m.group(1)}.{m.group(2)}"
    env = paper / "environment.yml"
    if env.is_file():
        m = re.search(r"^\s*-\s*python\s*[=<>~]*\s*(\d+)\.(\d+)", env.read_text(encoding="utf-8", errors="replace"), re.M)
        if m:
            return f"{m.group(1)}.{m.group(2)}"
    pp = paper / "pyproject.toml"
    if pp.is_file():
        m = re.search(r'^requires-python\s*=\s*"([^"]+)"', pp.read_text(encoding="utf-8", errors="replace"), re.M)
        if m:
            try:
                spec = SpecifierSet(m.group(1))
            except InvalidSpecifier:
                return None
            running = f"{sys.version_info[0]}.{sys.version_info[1]}"
            if spec.contains(f"{running}.0"):
                return running
            for minor in range(8, 15):
                if spec.contains(f"3.{minor}.0"):
                    return f"3.{minor}"
    return None


def bundle_name(paper: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", paper.resolve().name).strip("-.") or "paper"


def epoch(date: dt.date) -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return int(env)
    return int(dt.datetime.combine(date, dt.time(), dt.timezone.utc).timestamp())


def readme(name: str, cit: citation.Citation | None, date: dt.date, python: str, pin: nixpkgs.NixpkgsPin, entry_points: list[flake.EntryPoint],
           n_packages: int, nixpkgs_vendored: bool = False) -> str:
    title = (cit.title if cit and cit.title else name)
    nixpkgs_offline = (
        f"\nNo network at all? nixpkgs itself is in `vendor/nixpkgs/`:\n\n```sh\nmkdir nixpkgs && tar xzf vendor/nixpkgs/{pin.rev}.tar.gz "
        f"-C nixpkgs --strip-components=1\nnix build --override-input nixpkgs path:./nixpkgs\n```\n"
        if nixpkgs_vendored else ""
    )
    eps = "\n".join(f"- `{e.path}` ({e.kind}): `nix run .#{e.name}`" for e in entry_points) or "- (none detected)"
    return f"""# {title}: reproducibility bundle

This folder holds the code and data of the paper, and everything needed to rebuild its
software environment and rerun it without the internet: {n_packages} Python packages for
Python {python} (source archives in `vendor/sdist/`, wheels in `vendor/wheels/`) and a pin
of nixpkgs as of {date} ({pin.channel}, revision `{pin.rev[:12]}`).

## 1. Check that nothing changed

```sh
python3 verify.py           # needs only Python 3.6+
sha256sum -c SHA256SUMS     # or with coreutils alone
```

## 2. Rebuild and rerun with Nix

```sh
nix build                   # the Python environment, from flake.lock and vendor/
nix develop                 # a shell with it (direnv: `use flake`)
nix flake check             # rerun every entry point
nix build .#docker && docker load < result
```
{nixpkgs_offline}
Entry points (run from this folder):

{eps}

## 3. Rebuild and rerun with pip (no Nix)

```sh
python{python} -m venv env
env/bin/pip install --no-index --find-links vendor/sdist --find-links vendor/wheels \\
    --require-hashes -r requirements.lock
cd paper && ../env/bin/python <entry point>
```

Notebooks run with `../env/bin/jupyter-execute NOTEBOOK.ipynb`.

## 4. Check it all with reprokit

```sh
reprokit validate . --rebuild pip --rerun
```

## What is here

- `paper/`: the paper's files as archived.
- `reprokit.yaml`: the manifest: imports, packages (version, provider, artifacts with
  sha256, SRI, Nix base32 and SWHID), entry points and the outputs they wrote when the
  bundle was made, and every file of `paper/` with its sha256.
- `flake.nix`, `flake.lock`, `nix/`: the Nix build; `requirements.lock`: the pip lock.
- `SHA256SUMS`: every file's sha256; `verify.py`: checks them.

Made by reprokit {__version__}.
"""


def _copy_paper(src: Path, dest: Path) -> tuple[list[str], list[str]]:
    """Copy the paper's files; returns them and notes on links that were not followed.
    A file or folder that cannot be read, or whose name is not UTF-8, stops the archive:
    a bundle silently missing part of the paper would not rerun."""
    walked = tree.walk(src, suffixes=None)
    notes = []
    for rel, why in walked.skipped:
        where = src / tree.shown(rel)
        if why.startswith(tree.CANNOT_READ):
            raise InputError(f"{where}: {why}; fix its permissions, or list it in .gitignore")
        if why == tree.NOT_UTF8:
            raise InputError(f"{where}: the {why}; rename it (bundles are read on every system)")
        if why.startswith(tree.LEAVES):
            notes.append(f"{where}: {why}; it is not in the bundle")
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


def archive(settings: ArchiveSettings) -> ArchiveResult:
    paper = settings.paper
    if not paper.is_dir():
        raise UsageError(f"{paper}: not a folder")
    out = settings.output
    if out.exists() and not settings.force:
        raise UsageError(f"{out} exists; choose another -o or pass --force to replace it")
    notes: list[str] = []
    cit = citation.read(paper)
    date, date_from = (settings.date, "--date") if settings.date else paper_date(paper, cit)
    notes.append(f"date {date} (from {date_from})")
    python = settings.python or paper_python(paper) or f"{sys.version_info[0]}.{sys.version_info[1]}"
    name = bundle_name(paper)

    scanned = scan(ScanSettings(path=paper, python=python))
    lock_settings = LockSettings(date=date, python=python, index_url=settings.index_url)
    locked = lock(scanned, lock_settings, root=paper)
    left_out = lazy_left_out(scanned, lock_settings)
    notes += dict.fromkeys(left_out.values())
    pin = nixpkgs.pin(nixpkgs.PinSettings(date=date, channel=settings.channel, offline=settings.offline, cache_dir=settings.cache_dir))
    if pin.note:
        notes.append(f"nixpkgs: {pin.note}")
    eps = entrypoints.detect(paper, scanned.files)
    if not eps:
        imported = {i.top for i in scanned.imports if i.kind == "local"}
        scripts = entrypoints.candidates(scanned.files, imported)[:3] or ["run.py"]
        notes.append(
            "no entry points found (notebooks and scripts with `if __name__ == \"__main__\":` are);"
            " list the scripts to run in reprokit.toml: entry-points = [" + ", ".join(f'"{s}"' for s in scripts) + "]"
        )
    for f in secrets.scan_path(paper):
        notes.append(f"possible secret at {f.where} ({f.kind}: {f.masked}); it will be in the bundle: remove it before publishing")

    out.parent.mkdir(parents=True, exist_ok=True)
    reap(out)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    try:
        files, link_notes = _copy_paper(paper, work / "paper")
        notes += link_notes
        # Each file is hashed once: the manifest, the recorded outputs and SHA256SUMS
        # share these digests (the integrity check below reads everything again).
        paper_sha = {rel: sha256_file(work / "paper" / rel) for rel in files}
        report = vendor(locked, VendorSettings(output=work / "vendor", wheels=settings.wheels, cache_dir=settings.cache_dir, quiet=settings.quiet))
        atomic_write_text(work / "requirements.lock", lock_mod.render_requirements(locked))
        if settings.vendor_nixpkgs:
            vendor_nixpkgs_tarball(pin, work / "vendor" / "nixpkgs", settings.cache_dir)
        choices = flake.write_flake(work, locked, pin, description=(cit.title if cit and cit.title else name), entry_points=eps, name=name,
                                    nixpkgs_tarball=nixpkgs.cached_tarball(pin.rev, settings.cache_dir))
        outputs: dict[str, list[dict[str, str]]] = {e.name: [] for e in eps}
        if settings.record_outputs and eps:
            exe, why = rerun.find_python(python)
            if exe is None:
                notes.append(f"outputs not recorded: {why}")
            else:
                policy = sandbox.Policy(contained=settings.sandboxed)
                with tempfile.TemporaryDirectory(prefix="reprokit-env-") as envdir:
                    vpy = rerun.rebuild_pip(work, exe, Path(envdir) / "env", policy=policy)
                    for r in rerun.run_entry_points(work / "paper", vpy, eps, policy=policy):
                        if not r.ok:
                            missing = re.search(r"No module named '([\w.]+)'", r.message)
                            hint = f"; {left_out[missing.group(1)]}" if missing and missing.group(1) in left_out else ""
                            raise InputError(f"{paper / r.entry_point.path}: the entry point failed in the rebuilt environment ({r.message}){hint}")
                        # The author's own results, where the paper holds them, are what a
                        # rerun must reproduce; otherwise this run's bytes are the record.
                        outputs[r.entry_point.name] = [
                            {"path": k, "sha256": paper_sha.get(k, v)}
                            for k, v in sorted(r.outputs.items())
                        ]
        if cit is None:
            atomic_write_text(work / "CITATION.cff", generated_citation(name, date))
        else:
            shutil.copyfile(paper / "CITATION.cff", work / "CITATION.cff")
        atomic_write_text(work / "README.md", readme(name, cit, date, python, pin, eps, len(locked.packages), settings.vendor_nixpkgs))
        verify_src = resources.files("reprokit").joinpath("verify_template.py").read_text("utf-8")
        atomic_write_text(work / "verify.py", verify_src, mode=0o755)
        provider = {c.package: c.provider for c in choices}
        vendored = {v.artifact.sha256: v for v in report.files}
        data = {
            "reprokit_manifest": manifest.FORMAT,
            "tool": {"name": "reprokit", "version": __version__},
            "paper": {"name": name, "title": cit.title if cit else "", "authors": [a.display for a in cit.authors] if cit else [],
                      "date": date.isoformat(), "doi": cit.doi if cit else ""},
            "python": {"version": python, "platform": locked.platform},
            "nixpkgs": {"channel": pin.channel, "rev": pin.rev, "lastModified": pin.last_modified, "narHash": pin.nar_hash, "url": pin.url, "source": pin.source},
            "imports": [{"module": i.module, "kind": i.kind, "optional": i.optional, "lazy": i.lazy, "distribution": i.distribution, "files": sorted({loc.split(":")[0] for loc in i.locations})}
                        for i in scanned.imports],
            "packages": [
                {"name": p.name, "version": p.version, "provider": provider[p.name], "why": p.why,
                 "artifacts": [{"path": vendored[a.sha256].path.relative_to(work).as_posix(), "kind": a.kind, "url": a.url, "sha256": a.sha256,
                                "sri": a.sri, "nix32": a.nix32, "swhid": hashes.swhid(vendored[a.sha256].path), "size": vendored[a.sha256].path.stat().st_size}
                               for a in p.artifacts if a.sha256 in vendored]}
                for p in locked.packages
            ],
            "entry_points": [{"name": e.name, "kind": e.kind, "path": e.path, "outputs": outputs[e.name]} for e in eps],
            "paper_files": [{"path": rel, "sha256": paper_sha[rel]} for rel in files],
        }
        atomic_write_text(work / "reprokit.yaml", manifest.render(data))
        known = {f"paper/{rel}": sha for rel, sha in paper_sha.items()}
        known.update((v.path.relative_to(work).as_posix(), sha) for sha, v in vendored.items())
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
