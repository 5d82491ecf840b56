"""``reprokit archive``: scan -> lock -> pin -> vendor -> bundle -> validate.

The bundle is assembled in a temporary folder next to OUT and renamed into place only
when complete and valid. No wall-clock time enters it: dates come from
``SOURCE_DATE_EPOCH`` or the paper's own date, so the same inputs give the same bytes,
and ``--tar`` writes a deterministic ``.tar.gz``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reprokit import __version__, hashes, nar, resolve, sandbox
from reprokit import run as rerun
from reprokit.archive import record
from reprokit.archive.paper import (
    bundle_name,
    copy_paper,
    extension_builds,
    generated_citation,
    paper_date,
    unbuilt_extensions,
)
from reprokit.archive.readme import readme
from reprokit.archive.timings import Timings
from reprokit.bundle import manifest
from reprokit.bundle.integrity import check_integrity
from reprokit.bundle.pack import epoch, sums, write_tar
from reprokit.bundle.place import _replace_dir, reap
from reprokit.cache import cache_root
from reprokit.errors import (
    InputError,
    NeedsBuildTool,
    NeedsCommand,
    NeedsEarlierRelease,
    NeedsFolder,
    NeedsModule,
    NeedsSourceBuild,
    ResolutionFailed,
    UsageError,
)
from reprokit.fsutil import atomic_write_text, reap_temporary, sha256_file
from reprokit.nix import flake, nixpkgs, providers
from reprokit.outputs import config as outputs_config
from reprokit.resolve import LockSettings, buildtools, choose_python, lazy_left_out, pypi
from reprokit.resolve import lockfile as lock_mod
from reprokit.resolve.earlier import EarlierSeries, earlier_series, says_removed
from reprokit.resolve.fetch import ProgressHook
from reprokit.resolve.lockfile import Lock
from reprokit.resolve.requirements import pinned, with_earlier_series
from reprokit.scan import citation, entrypoints, import_roots, module_folders, paperconfig, secrets, tree
from reprokit.scan.entrypoints import CONFIGURED
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
    # What people see while it works (none when quiet): a line per entry point run, and the
    # downloads as they go (the CLI draws them, :class:`reprokit.report.progress.Progress`).
    progress: Callable[[str], None] | None = None
    downloads: ProgressHook | None = None
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
    timings: tuple[tuple[str, float], ...] = ()  # phase -> seconds, in the order they ran
    entry_points: tuple[tuple[str, str], ...] = ()  # path in paper/ -> ran, failed or too-long


def archive(settings: ArchiveSettings) -> ArchiveResult:
    if not settings.paper.is_dir():
        raise UsageError(f"{settings.paper}: not a folder")
    if settings.output.exists() and not settings.force:
        raise UsageError(f"{settings.output} exists; choose another -o or pass --force to replace it")
    # Absolute from here on: the sandbox, uv and pip are given paths that outlive a chdir.
    paper, out = settings.paper.absolute(), settings.output.absolute()
    reap_temporary()  # what a killed reprokit left in the temporary folder
    notes: list[str] = []
    clock = Timings()
    cit = citation.read(paper)
    date, date_from = (settings.date, "--date") if settings.date else paper_date(paper, cit)
    notes.append(f"date {date} (from {date_from})")
    walked = tree.walk(paper, suffixes=None, keep=entrypoints.kept_folders(paper))
    all_files = list(walked.files)
    detection = entrypoints.detect(paper, all_files)
    with clock.phase("scan and resolve"):
        choice, scanned, locked = choose_python(paper, all_files, date, settings.python, settings.index_url,
                                                entry_points=[f.entry_point.path for f in detection.found] or None)
    python = choice.version
    notes.append(f"Python {python} (from {choice.source})")
    notes += locked.notes
    name = bundle_name(paper)
    # The lock's date: the paper's, or later for a Python that came out after it (see choose_python).
    lock_settings = LockSettings(date=dt.date.fromisoformat(locked.date), python=python, index_url=settings.index_url)
    builds = extension_builds(paper, scanned, all_files)
    left_out = lazy_left_out(scanned, lock_settings) | unbuilt_extensions(scanned, all_files, builds)
    notes += dict.fromkeys(left_out.values())

    exe, no_python = rerun.find_python(python)
    config = paperconfig.read(paper)
    run_timeout = settings.run_timeout or paperconfig.run_timeout(config) or rerun.RUN_TIMEOUT
    say = None if settings.quiet else settings.progress
    client = pypi.Client(settings.index_url)
    policy = sandbox.Policy(contained=settings.sandboxed)
    build_needs: dict[str, list[str]] = {}  # sdist -> what its build was found to need beyond what it declares
    with clock.phase("build tools"):
        locked, build_notes = buildtools.plan(locked, lock_settings, python_exe=exe, client=client, cache=cache_root(settings.cache_dir),
                                              every_sdist=not settings.wheels, policy=policy, needs=build_needs)
    notes += build_notes
    pin = None
    if settings.nix:
        with clock.phase("nixpkgs pin"):
            pin = nixpkgs.pin(nixpkgs.PinSettings(date=lock_settings.date, channel=settings.channel, offline=settings.offline, cache_dir=settings.cache_dir, python=python))
        if pin.note:
            notes.append(f"nixpkgs: {pin.note}")
        flake.check_interpreter(pin, python, nixpkgs.cached_tarball(pin.rev, settings.cache_dir))
    native_inputs = providers.read_native_inputs(paper)
    # The paper's own code is importable from every entry point, as when it is a package
    # installed with `pip install -e .` (a src/ layout, examples/ importing the package).
    python_path = list(import_roots(
        [(loc.split(":", 1)[0], i.top) for i in scanned.imports if i.kind == "local" for loc in i.locations], all_files))
    if python_path:
        notes.append(f"the paper's own modules are imported from other folders than theirs: {', '.join(f'paper/{p}' for p in python_path)} "
                     "on sys.path when the entry points run, as an installed (pip install -e .) paper has them")
    eps = detection.entry_points
    sources = {f.entry_point.name: f.source for f in detection.found}
    notes += detection.notes
    if not eps:
        imported = {i.top for i in scanned.imports if i.kind == "local"}
        fallback = entrypoints.guessed(scanned.files, imported, paper)
        if fallback:
            # Better a run of what is there than none: each runs in the sandbox, within
            # its time budget, and one that fails is recorded as failing.
            eps = [f.entry_point for f in fallback]
            sources.update((f.entry_point.name, f.source) for f in fallback)
            notes.append("the paper names nothing to run (no README or Makefile command, notebook or main guard): its scripts "
                         f"nothing imports run, those named for making data first: {', '.join(e.path for e in eps)}; list what to "
                         "run in reprokit.toml (entry-points = [...]) to choose")
        else:
            notes.append("no entry points found (notebooks, the commands of the paper's README or Makefile, and scripts with "
                         '`if __name__ == "__main__":` are, else the scripts nothing imports); list what to run in reprokit.toml: '
                         'entry-points = ["path/to/script.py"]')
    if eps and builds:
        # The paper's own extension modules are built first, in the copy of the paper the
        # entry points then run in, as its README has a reader do.
        eps = [*(b.entry_point for b in builds), *(e for e in eps if e.name not in {b.entry_point.name for b in builds})]
        sources.update((b.entry_point.name, f"{b.entry_point.path} (builds {', '.join(b.modules)})") for b in builds)
    for f in secrets.scan_path(paper):
        notes.append(f"possible secret at {f.where} ({f.kind}: {f.masked}); it will be in the bundle: remove it before publishing")

    out.parent.mkdir(parents=True, exist_ok=True)
    reap(out)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    try:
        files, link_notes = copy_paper(paper, work / "paper", walked)
        notes += link_notes
        # Each file is hashed once: the manifest, the recorded outputs and SHA256SUMS
        # share these digests (the integrity check below reads everything again).
        paper_sha = {rel: sha256_file(work / "paper" / rel) for rel in files}
        outputs: dict[str, tuple[manifest.Output, ...]] = {e.name: () for e in eps}
        failed: dict[str, str] = {}
        too_long: frozenset[str] = frozenset()
        needed: dict[str, str] = {}  # modules the runs showed a need for -> their distribution
        commands: dict[str, str] = {}  # commands the runs showed a need for (swig) -> the distribution that ships it
        built: frozenset[str] = frozenset()  # distributions the runs showed must be built from source
        held: dict[str, EarlierSeries] = {}  # distributions held below the series the lock took, and why
        held_for: dict[str, str] = {}  # ... -> the entry point that failed inside it
        settled: set[str] = set()  # distributions whose series is the lock's: no earlier one is tried
        candidates: dict[str, EarlierSeries] = {}
        # Entry points stopped at their budget: a mend (a module added, a release held back)
        # changes the lock, not how long they take; they are not run to their budget again.
        stopped: dict[str, str] = {}

        def step_back(name: str, version: str, message: str) -> bool:
            """Whether a failure inside ``name`` is worth a run with its series before."""
            key = record.canonical(name)
            if key in settled or key in held or len(held) >= 2 or not locked.versions_from.startswith("date") or pinned(scanned, key):
                return False
            found = earlier_series(client, key, version, lock_settings.date, removed=says_removed(message))
            if found is None:
                settled.add(key)
                return False
            candidates[key] = found
            return True

        def relock() -> tuple[Lock, list[str]]:
            wanted = with_earlier_series(resolve.with_run_time_needs(scanned, needed, commands), {k: e.requirement for k, e in held.items()})
            relocked = lock_mod.from_source(resolve.lock(wanted, lock_settings, root=paper), built)
            with clock.phase("build tools"):
                return buildtools.plan(relocked, lock_settings, python_exe=exe, client=client, cache=cache_root(settings.cache_dir),
                                       every_sdist=not settings.wheels, policy=policy, needs=build_needs)

        while True:
            shutil.rmtree(work / "vendor", ignore_errors=True)
            with clock.phase("vendor"):
                report = vendor(locked, VendorSettings(output=work / "vendor", wheels=settings.wheels, cache_dir=settings.cache_dir), client,
                                None if settings.quiet else settings.downloads)
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
                                          unisolated={p.name: p.build_with for p in locked.packages if p.build_undeclared},
                                          timings=clock, env_cache=cache_root(settings.cache_dir), step_back=step_back,
                                          stopped=stopped)
                outputs, failed, recorded_notes = recorded.outputs, recorded.failed, recorded.notes
                too_long = recorded.too_long
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
                with clock.phase("build tools"):
                    locked, build_notes = buildtools.plan(lock_mod.from_source(locked, built), lock_settings, python_exe=exe, client=client,
                                                          cache=cache_root(settings.cache_dir), every_sdist=not settings.wheels, policy=policy, needs=build_needs)
                continue
            except NeedsBuildTool as need:
                if need.distribution in build_needs.get(need.package, []) or sum(map(len, build_needs.values())) >= 8:
                    raise InputError(str(need)) from None
                build_needs.setdefault(need.package, []).append(need.distribution)
                notes.append(f"{need.package}: its build needs {need.what}, which it does not declare (builds of its day found it on "
                             f"the machine): {need.distribution} from PyPI is given to its build, with the build tools")
                with clock.phase("build tools"):
                    locked, build_notes = buildtools.plan(locked, lock_settings, python_exe=exe, client=client,
                                                          cache=cache_root(settings.cache_dir), every_sdist=not settings.wheels, policy=policy,
                                                          needs=build_needs)
                continue
            except NeedsCommand as need:
                if need.distribution in commands.values() or len(commands) >= 4:
                    raise InputError(str(need)) from None
                commands[need.command] = need.distribution
                notes.append(f"{need.where} runs the command `{need.command}` ({need.message}), which this machine lacks and PyPI ships "
                             f"as a wheel: {need.distribution} added to the lock, its command on the runs' PATH; declare it in the "
                             "paper's requirements")
                locked, build_notes = relock()
                continue
            except NeedsModule as need:
                own = module_folders(all_files).get(need.module.split(".")[0])
                if own:
                    # The paper's own module, not found from where the run is: never an
                    # index project of the same name (PyPI has many such names).
                    raise InputError(f"{need}; {need.module.split('.')[0]} is the paper's own module (in "
                                     f"{own[0] or 'its top folder'}), which the run could not import: list it in reprokit.toml's "
                                     "entry-points with the cwd it needs") from None
                dist = resolve.distribution_of(need.module, lock_settings, client)
                listed = {f.entry_point.path for f in detection.found if f.source in CONFIGURED}
                if dist is None and need.where not in listed and need.module not in left_out:
                    # An entry point reprokit found (not one the author listed) that needs what
                    # nothing provides: it is recorded as failing, the others as they run.
                    left_out = {**left_out, need.module: f"no PyPI project provides {need.module}"}
                    notes.append(f"{need.where} needs {need.module} at run time ({need.message}), which no PyPI project "
                                 "provides: it is recorded as failing")
                    continue
                if dist is None or need.module in needed or len(needed) >= 8:
                    raise InputError(str(need) + ("; no PyPI project provides it: declare where it comes from" if dist is None else "")) from None
                needed[need.module] = dist
                notes.append(f"{need.where} needs {need.module} at run time ({need.message}), which no import of the paper names: "
                             f"{dist} added to the lock; declare it in the paper's requirements")
                locked, build_notes = relock()
                continue
            except NeedsEarlierRelease as need:
                key = record.canonical(need.distribution)
                held[key], held_for[key] = candidates[key], need.where
                try:
                    locked, build_notes = relock()
                except ResolutionFailed:  # the paper's own requirements want the later series
                    del held[key]
                    settled.add(key)
                    locked, build_notes = relock()
                continue
            back = [k for k, e in held.items() if any(ep.path == held_for[k] and ep.name in failed for ep in eps)]
            if back:
                # The series before did not run it either: the lock's series, as of the date, is kept.
                for key in back:
                    notes.append(f"{held_for[key]} failed inside {key} {held[key].locked}, and with its series before ({held[key].before}) "
                                 f"too: {key} {held[key].locked} is kept")
                    del held[key]
                    settled.add(key)
                locked, build_notes = relock()
                continue
            notes += recorded_notes
            break
        for key, e in held.items():
            why = ("with an error saying what it used was removed" if e.removed else
                   f"whose series {e.series} came out {e.days} days before the paper's date")
            notes.append(f"{held_for[key]} failed inside {key} {e.locked}, {why}, and runs with the series before it: the paper "
                         f"was most likely run with it, and {key} "
                         f"{next((p.version for p in locked.packages if p.name == key), e.before)} is locked instead "
                         f"(declare {key}<{e.series} in its requirements to say so)")
        choices: list[providers.Choice] = []
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
        verify_src = resources.files("reprokit.bundle").joinpath("verify_template.py").read_text("utf-8")
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
                                                           error=failed.get(e.name, ""))
                               for e in eps),
            paper_files=tuple(manifest.PaperFile(path=rel, sha256=paper_sha[rel]) for rel in files),
        )
        sealed = time.monotonic()
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
        clock.add("seal (manifest, SHA256SUMS, integrity)", time.monotonic() - sealed)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    tarball = None
    if settings.tar:
        tarball = out.with_name(out.name + ".tar.gz")
        with clock.phase("tarball"):
            write_tar(out, name, tarball, epoch(date))
    n_out = sum(len(v) for v in outputs.values())
    return ArchiveResult(bundle=out, tarball=tarball, packages=len(locked.packages), files=len(files), outputs=n_out, notes=tuple(notes),
                         timings=clock.items(), entry_points=tuple((e.path, e.status) for e in man.entry_points))


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
            f"{cache_root(cache_dir) / 'nixpkgs' / (pin.rev + '.tar.gz')}"
        )
    got = hashes.sri(nar.unpacked_nar_sha256(tarball).nar)
    if got != pin.nar_hash:
        raise InputError(f"{tarball}: narHash is {got}, the pin says {pin.nar_hash}; the tarball was not vendored")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{pin.rev}.tar.gz"
    shutil.copyfile(tarball, target)
    return target
