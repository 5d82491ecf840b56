"""What the archive-time runs of a paper record: each entry point's outputs with the
rule a rerun is compared by, learned from several runs, and the entry points that fail.

The archive rebuilds the new bundle's environment offline and runs the paper in the
sandbox, as validate will; a failure that can be mended (a module no import names, a
folder git could not keep) is raised for the archive to mend and run again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reprokit import outputs as outputs_mod
from reprokit import run as rerun
from reprokit import sandbox
from reprokit.archive import envcache, runcache
from reprokit.archive.timings import Timings
from reprokit.bundle import manifest
from reprokit.errors import (
    InputError,
    NeedsBuildTool,
    NeedsCommand,
    NeedsEarlierRelease,
    NeedsFolder,
    NeedsModule,
    NeedsSourceBuild,
    RebuildFailed,
)
from reprokit.fsutil import temporary_folder
from reprokit.nix import providers
from reprokit.outputs import build
from reprokit.outputs.learn import learn
from reprokit.resolve import legacybuild
from reprokit.scan.entrypoints import EntryPoint, is_build_step
from reprokit.wording import duration


@dataclass(frozen=True, kw_only=True, slots=True)
class Recorded:
    """What the archive-time runs recorded: each entry point's outputs, the entry points
    that failed (name -> their error), and notes for people."""

    outputs: dict[str, tuple[manifest.Output, ...]]
    failed: dict[str, str]
    notes: list[str]
    too_long: frozenset[str] = frozenset()  # of ``failed``: stopped at the time budget
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # how long each ran (the first run)


def record_outputs(work: Path, exe: str, eps: Sequence[EntryPoint], paper: Path, paper_sha: Mapping[str, str],
                   left_out: Mapping[str, str], config: outputs_mod.OutputsConfig, policy: sandbox.Policy,
                   python_path: Sequence[str] = (), required: frozenset[str] = frozenset(),
                   buildable: frozenset[str] = frozenset(), timeout: int = rerun.RUN_TIMEOUT,
                   progress: Callable[[str], None] | None = None, unisolated: Mapping[str, Sequence[str]] | None = None,
                   timings: Timings | None = None, env_cache: Path | None = None,
                   step_back: Callable[[str, str, str], bool] | None = None, stopped: dict[str, str] | None = None) -> Recorded:
    """Rebuild the new bundle's environment offline and run every entry point
    ``config.runs`` times, each time in a fresh copy of its paper: what differs between
    runs of the same code is the paper's own noise, learned into each output's rule.
    The first run's files are the record, kept under ``outputs/<entry point>/``. Where
    the paper holds its own copy of a file the run rewrote with other bytes, both are
    recorded and a note says how they differ.

    An entry point that fails stops the archive when the author listed it (``required``)
    or when none ran; one that reprokit found (a README command, a notebook) and that
    fails while others run is recorded as failing, with its error, for validate to
    compare, and a note says so.

    Failures archive can mend are raised: a module no import names (:class:`NeedsModule`),
    a folder the paper lacks (:class:`NeedsFolder`), and a crash in the compiled code of a
    distribution installed from its wheel that could be built from its sdist (one of
    ``buildable``: :class:`NeedsSourceBuild`), and a failure inside a distribution as a
    caller of another release of it would see, when ``step_back`` (its name, version and the failure's line)
    says an earlier release may be the paper's (:class:`NeedsEarlierRelease`).

    An entry point that takes longer than ``timeout`` seconds is stopped, recorded as too
    long to rerun here (in ``too_long``), and not run again; the archive goes on. Those in
    ``stopped`` (name -> why), stopped by an earlier recording of the same archive (before
    a mend), are not run again either; those stopped here are added to it.

    With ``env_cache``, a sandboxed archive keeps the environment there for the next
    archive of the same lock (:mod:`reprokit.archive.envcache`), and the runs in which
    every entry point ran to its end for the next archive of the same paper, lock and
    settings (:mod:`reprokit.archive.runcache`)."""
    notes: list[str] = []
    outputs: dict[str, tuple[manifest.Output, ...]] = {}
    failed: dict[str, str] = dict(stopped or {})
    too_long: set[str] = set(stopped or {})
    seconds: dict[str, float] = {}
    airgap = not policy.network
    env_key = ""  # the kept environment's, when there is one: runs are kept by it too
    reused_runs = 0
    with temporary_folder("env") as envdir, contextlib.ExitStack() as stack:
        clock = timings or Timings()

        def build(dest: Path) -> rerun.Env:
            return rerun.rebuild_pip(work, exe, dest, policy=policy, unisolated=unisolated)

        env_root = Path(envdir) / "env"
        try:
            with clock.phase("environment (pip, offline, with the sdist builds)"):
                if env_cache is not None and policy.contained:
                    name = env_key = envcache.key(work, exe, unisolated)
                    env, reused = stack.enter_context(envcache.environment(env_cache, name, build))
                    env_root = env_cache / "envs" / name / "env"
                    if reused:
                        notes.append("the environment of an earlier archive of the same lock was reused (none of its sdists was built again)")
                else:
                    env = build(env_root)
        except RebuildFailed as exc:
            raise _needs_build_tool(exc) from None
        runs: list[dict[str, rerun.RunResult]] = []
        for i in range(config.runs):
            todo = [e for e in eps if e.name not in too_long]
            if not todo:
                break  # every entry point was stopped at its budget: none is run again
            if progress is not None and config.runs > 1:
                progress(f"run {i + 1} of {config.runs} of the entry points (what differs between runs is learned as noise)")
            collect = Path(envdir) / f"run{i}"
            run_key = runcache.key(env_key, paper_sha, todo, python_path, timeout, policy, i) if env_key else None
            results = runcache.load(env_cache, run_key, todo, collect) if env_cache is not None and run_key else None
            taken = results is not None
            if results is not None:
                reused_runs += 1
                if progress is not None:
                    progress(f"run {i + 1}: the same as an earlier archive's (paper, lock and settings unchanged): its runs taken")
            else:
                results = rerun.run_entry_points(work / "paper", env, todo, policy=policy, collect=collect,
                                                 python_path=python_path, timeout=timeout, progress=progress)
                if env_cache is not None and run_key:
                    runcache.save(env_cache, run_key, results, collect)
            # Those stopped at their budget first: a mend raised below for another does not
            # run them to their budget again.
            for r in results:
                if r.timed_out:
                    too_long.add(r.entry_point.name)
                    failed.setdefault(r.entry_point.name, r.message)
                    if stopped is not None:
                        stopped.setdefault(r.entry_point.name, r.message)
            for r in results:
                seconds.setdefault(r.entry_point.name, r.seconds)
                if not taken:
                    clock.add(f"run {i + 1}: {r.entry_point.path}", r.seconds)
                if r.timed_out:
                    continue
                if not r.ok:
                    module = missing_module(r.message)
                    if module and module not in left_out and module.split(".")[0] not in left_out:
                        raise NeedsModule(module=module, where=r.entry_point.path, message=r.message.split(": ", 1)[-1],
                                          text=f"{paper / r.entry_point.path}: the entry point failed in the rebuilt environment ({r.message})")
                    wanted = legacybuild.missing_run_command(r.message, os.pathsep.join([str(env.bindir), sandbox.SYSTEM_PATH]))
                    if wanted:
                        raise NeedsCommand(command=wanted[0], distribution=wanted[1], where=r.entry_point.path, message=r.message,
                                           text=f"{paper / r.entry_point.path}: the entry point failed in the rebuilt environment ({r.message})")
                    folder = rerun.missing_folder(r.entry_point, r.message)
                    if folder and folder not in r.entry_point.mkdirs and not (work / "paper" / folder).exists():
                        raise NeedsFolder(entry_point=r.entry_point.name, folder=folder, where=r.entry_point.path,
                                          text=f"{paper / r.entry_point.path}: the entry point failed in the rebuilt environment ({r.message})")
                    crashed_in = compiled_distribution(env_root, r.message)
                    if crashed_in and canonical(crashed_in) in buildable:
                        raise NeedsSourceBuild(distribution=crashed_in, where=r.entry_point.path, message=r.message,
                                               text=f"{paper / r.entry_point.path}: the entry point failed in the rebuilt environment ({r.message})")
                    library = library_failure(env_root, r.message) if step_back is not None else None
                    if library and step_back is not None and step_back(*library, r.message):
                        raise NeedsEarlierRelease(distribution=library[0], version=library[1], where=r.entry_point.path, message=r.message,
                                                  text=f"{paper / r.entry_point.path}: the entry point failed in the rebuilt environment ({r.message})")
                    order = [e.name for e in eps]
                    stopped_before = [e.path for e in eps[:order.index(r.entry_point.name)] if e.name in too_long]
                    failed.setdefault(r.entry_point.name, r.message + _failure_hint(r.message, left_out, airgap, stopped_before))
                elif i == 0:
                    notes.append(f"{r.entry_point.path} ran in {r.seconds:.1f}s and wrote {len(r.outputs)} file(s)")
            runs.append({r.entry_point.name: r for r in results})
            first_failure = next((r for r in results if r.entry_point.name in failed and r.entry_point.name not in too_long), None)
            # A build step that ran (setup.py build_ext) is not the paper running.
            none_ran = all(e.name in failed for e in eps if not is_build_step(e))
            if first_failure is not None and (first_failure.entry_point.name in required or none_ran):
                raise InputError(f"{paper / first_failure.entry_point.path}: the entry point failed in the rebuilt environment "
                                 f"({failed[first_failure.entry_point.name]})")
            took = sum(r.seconds for r in results if not r.timed_out)  # one stopped at its budget is not run again
            if i == 0 and config.runs > 1 and not config.runs_given and took > timeout:
                # A paper that runs longer than an entry point may is run once: a second
                # run would double an archive that is long already.
                notes.append(f"the first run of the entry points took {duration(took)}, longer than the time budget of one "
                             f"({duration(timeout)}): the paper was run once, not {config.runs} times, so what differs between "
                             "runs was not learned and its outputs are compared by the default rules; runs = 2 under [outputs] "
                             "in reprokit.toml runs it again all the same")
                break
        if reused_runs and env_cache is not None:
            notes.append(f"{reused_runs} of the {len(runs)} runs of the entry points were taken from an earlier archive of the same "
                         f"paper with the same lock and settings (every file and setting the runs see unchanged), not made again; "
                         f"remove {env_cache / 'runs'} to make them again")
        for ep in eps:
            if ep.name in too_long:
                outputs[ep.name] = ()
                notes.append(f"{ep.path} is {failed[ep.name]}: recorded as such, and validate does not rerun it unless given "
                             "more time; its outputs are not recorded")
                continue
            if ep.name in failed:
                outputs[ep.name] = ()
                notes.append(f"{ep.path} FAILED in the rebuilt environment ({failed[ep.name]}): recorded as failing, for validate to "
                             "compare; fix it, or list the entry points that run in reprokit.toml")
                continue
            written = [{rel: Path(envdir) / f"run{i}" / ep.name / rel for rel in rs[ep.name].outputs} for i, rs in enumerate(runs)]
            left = _build_products(written, config)
            if left:
                written = [{rel: f for rel, f in w.items() if rel not in left} for w in written]
                notes.append(f"{ep.path}: {len(left)} build product(s) left out of the record (object code, binaries, and the sources and "
                             f"makefiles of the build trees they were compiled in, such as {sorted(left)[0]}): no results, and their bytes "
                             "follow the compiler; a rule in reprokit.toml [outputs.rules] records one")
            learned = learn(written, config, windows=[rs[ep.name].window for rs in runs])
            shown = sorted(o.path for o in learned.outputs if o.path.startswith(f"{rerun.SHOWN}/figure-"))
            if shown:
                notes.append(f"{ep.path} showed {len(shown)} figure(s) with plt.show(): recorded as {shown[0]}"
                             + (f" to {shown[-1]}" if len(shown) > 1 else "") + " and compared like any figure")
            notes += [n if n.startswith(f"{ep.path}:") else f"{ep.path}: {n}" for n in learned.notes]
            # The record of an output is the first run's that wrote it (a folder named at
            # random, as Brian's standalone builds are, is written by one run only).
            source = {rec.path: next(Path(envdir) / f"run{i}" / ep.name for i, w in enumerate(written) if rec.path in w) for rec in learned.outputs}
            outputs[ep.name] = tuple(_keep(rec, paper_sha, work, source[rec.path], ep.name) for rec in learned.outputs)
            differs = []
            for rec in learned.outputs:
                if rec.path in paper_sha and paper_sha[rec.path] != rec.sha256:
                    (verdict,) = outputs_mod.compare_outputs([dataclasses.replace(rec, kept=True)], work / "paper", source[rec.path])
                    differs.append(f"{rec.path} ({verdict.summary})")
            if differs:
                notes.append(f"{ep.path} wrote other bytes than the paper's own copy of {len(differs)} file(s): "
                             f"{'; '.join(differs[:3])}{'; ...' if len(differs) > 3 else ''}. This run's are the record")
    return Recorded(outputs=outputs, failed=failed, notes=notes, too_long=frozenset(too_long), seconds=seconds)


def _needs_build_tool(exc: RebuildFailed) -> Exception:
    """:class:`NeedsBuildTool` when a build failed for want of a command PyPI ships as a
    wheel (swig, cmake) or of a module its setup.py imports undeclared (numpy); else the
    failure itself."""
    package = rerun.failed_package(exc.output)
    command = legacybuild.missing_build_command(exc.output)
    if package and command:
        return NeedsBuildTool(package=package, distribution=command[1], what=f"the command `{command[0]}`", text=str(exc))
    module = legacybuild.undeclared_build_import(exc.output)
    if package and module:
        return NeedsBuildTool(package=package, distribution=module, what=f"the module {module}", text=str(exc))
    if package and re.search(r"missing C header|missing system library", str(exc)):
        native = providers.native_inputs_table().get(canonical(package))
        where = (f"the Nix build gives it {', '.join((*native.host, *native.build))} (its native inputs), so `reprokit validate --rebuild nix` "
                 "is the way to rebuild it" if native else
                 f"name the nixpkgs package that provides it under [native-inputs] in reprokit.toml ({package} = [\"...\"]), and rebuild "
                 "with Nix (`reprokit validate --rebuild nix`)")
        return RebuildFailed(f"{exc}; no wheel on PyPI ships a system library: {where}", output=exc.output)
    return exc


_MISSING = (
    re.compile(r"No module named '([\w.]+)'"),
    re.compile(r"Missing optional dependency '([\w.-]+)'"),  # pandas
    re.compile(r"ImportError: ([\w.-]+) is required|requires the ([\w.-]+) (?:package|module)"),
)


def missing_module(message: str) -> str | None:
    """The module an entry point's failure says it lacked, if that is what it says."""
    for pat in _MISSING:
        m = pat.search(message)
        if m:
            return next(g for g in m.groups() if g)
    return None


_CRASH_FRAME = re.compile(r"^crashed: .+ in (\S+), line \d+")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def compiled_distribution(env: Path, message: str) -> str | None:
    """The distribution in ``env`` whose file the innermost Python frame of a crash is
    (``crashed: Segmentation fault in numba/lowering.py, line 709``, see
    :func:`reprokit.rerun.crash`), when it was installed from a wheel of compiled code
    (``Root-Is-Purelib: false``)."""
    m = _CRASH_FRAME.match(message)
    owner = _owner(env, m.group(1)) if m else None
    if owner is None:
        return None
    info, name, _ = owner
    try:
        wheel = (info / "WHEEL").read_text("utf-8", "replace")
    except OSError:
        return None
    return name if re.search(r"^Root-Is-Purelib:\s*false", wheel, re.M | re.I) else None


# Errors a library raises when it is called as another release of it was: an argument or
# attribute it no longer has, a value it now refuses (numpy 1.12's float indices).
# A notebook's failure names its cell first (``nb.ipynb: cell 5: TypeError: ...``).
_FAILED = r"^exited with status \d+: (?:\S+\.ipynb: cell \d+: )?"
_API_ERROR = re.compile(_FAILED + r"(?:TypeError|AttributeError|ValueError|NotImplementedError|KeyError|IndexError|ImportError)\b"
                        r".*\(in (\S+\.pyx?)(?:, line \d+)?\)$")
_NAMED_MODULE = re.compile(_FAILED + r"(?:ImportError: cannot import name \S+ from '([\w.]+)'|AttributeError: module '([\w.]+)' has no attribute )")


def library_failure(env: Path, message: str) -> tuple[str, str] | None:
    """The distribution (name, version) in ``env`` a run failed inside, as a caller of
    another release of it would: its own code raised the error (``TypeError: ... (in
    matplotlib/axes/_base.py, line 1281)``, or in its compiled code, ``(in mtrand.pyx,
    line 1536)``), or the paper asked it for a name it lacks (``cannot import name 'x'
    from 'sklearn.utils'``)."""
    named = _NAMED_MODULE.match(message)
    if named:
        module = (named.group(1) or named.group(2)).split(".")[0]
        found = _owner(env, f"{module}/__init__.py") or _owner(env, f"{module}.py")
    else:
        m = _API_ERROR.match(message)
        found = _owner(env, m.group(1)) if m else None
    return (found[1], found[2]) if found else None


_EXTENSION = re.compile(r"^(.+?)\.[^/]*(?:\.so|\.pyd)$")


def _built_from(listed: set[str], source: str) -> bool:
    """Whether a distribution's files (its RECORD) hold the module compiled from the
    Cython ``source`` a traceback names: as it was built (``numpy/random/mtrand.pyx``:
    ``numpy/random/mtrand.cpython-36m-x86_64-linux-gnu.so``), or by its name alone
    (``mtrand.pyx``: any extension module ``mtrand``)."""
    stem = source.removesuffix(".pyx")
    for entry in listed:
        m = _EXTENSION.match(entry)
        if m and (m.group(1) == stem or ("/" not in stem and m.group(1).rsplit("/", 1)[-1] == stem)):
            return True
    return False


def _owner(env: Path, rel: str) -> tuple[Path, str, str] | None:
    """The .dist-info folder, name and version of the distribution in ``env`` that
    installed the file ``rel`` of site-packages (for a ``.pyx`` source, the module
    compiled from it; when more than one distribution has such a module, none)."""
    found = []
    for record_file in env.glob("**/site-packages/*.dist-info/RECORD"):
        try:
            listed = {line.split(",", 1)[0] for line in record_file.read_text("utf-8", "replace").splitlines()}
        except OSError:
            continue
        if rel in listed or (rel.endswith(".pyx") and _built_from(listed, rel)):
            found.append(record_file.parent)
    if len(found) != 1:
        return None
    info = found[0]
    meta = (info / "METADATA").read_text("utf-8", "replace") if (info / "METADATA").is_file() else ""
    name, version = re.search(r"^Name:\s*(\S+)", meta, re.M), re.search(r"^Version:\s*(\S+)", meta, re.M)
    fallback = info.name.removesuffix(".dist-info").split("-")
    return (info, name.group(1) if name else fallback[0],
            version.group(1) if version else (fallback[1] if len(fallback) > 1 else ""))


def _failure_hint(message: str, left_out: Mapping[str, str], airgap: bool, stopped: Sequence[str] = ()) -> str:
    missing = re.search(r"No module named '([\w.]+)'", message)
    hint = f"; {left_out[missing.group(1)]}" if missing and missing.group(1) in left_out else ""
    if airgap and re.search(r"URLError|ConnectionError|Name or service not known|name resolution|Network is unreachable|HTTPError|socket\.gaierror", message):
        hint += "; it tried to reach the network, and a bundle must hold what its paper reads"
    if stopped and "data absent:" in message:
        hint += (f"; {', '.join(stopped)}, run before it, was stopped at the time budget and may be what makes it "
                 "(--run-timeout gives more time)")
    return hint


def _build_products(written: Sequence[Mapping[str, Path]], config: outputs_mod.OutputsConfig) -> frozenset[str]:
    """What the runs wrote that is a build product (see :mod:`reprokit.outputs.build`) and
    that no rule of the author's names."""
    where = {rel: f for w in reversed(written) for rel, f in w.items()}

    def head(rel: str) -> bytes:
        with open(where[rel], "rb") as fh:
            return fh.read(4)

    return frozenset(p for p in build.build_products(where, head) if config.author_rule(p) is None)


def _keep(rec: outputs_mod.RecordedOutput, paper_sha: Mapping[str, str], work: Path, run: Path, entry_point: str) -> manifest.Output:
    """Record one output and keep its bytes under ``outputs/<entry point>/`` (unless too
    large): the first archive-time run's, with the paper's own copy's sha256 beside them
    when that differs."""
    if rec.kept:
        dest = work / "outputs" / entry_point / rec.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / rec.path, dest)
    own = paper_sha.get(rec.path)
    return manifest.Output(recorded=rec, paper_sha256=own if own is not None and own != rec.sha256 else None)
