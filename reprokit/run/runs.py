"""The paper's entry points run as people run them, in one fresh copy of the paper each
time, in the sandbox: scripts from their own folder (what they show with plt.show()
kept), notebooks through nbclient with a kernel from the rebuilt environment; each with
a time budget, saying where it is as it goes; what each wrote, found.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import reprokit
from reprokit import sandbox
from reprokit.fsutil import sha256_file, temporary_folder
from reprokit.run.failure import absent_data, failure, writes_outside
from reprokit.run.rebuild import Env, clean_env
from reprokit.scan.documents import OUTPUT_DIR
from reprokit.scan.entrypoints import EntryPoint
from reprokit.scan.project import own_project
from reprokit.wording import duration


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    entry_point: EntryPoint
    ok: bool
    message: str
    outputs: dict[str, str]  # path in paper/ -> sha256 of files it wrote or changed
    seconds: float = 0.0
    window: tuple[float, float] = (0.0, 0.0)  # when it started and ended, epoch seconds (time stamps in outputs)
    timed_out: bool = False  # stopped at the time budget: too long to rerun here


SKIP_PARTS = frozenset({"__pycache__", ".ipynb_checkpoints"})


def _snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """sha256, size and mtime of every file: a file rewritten with the same bytes still
    counts as written (its mtime moves), so results the author left in the folder are
    found. Files are hashed as streams."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink() and not SKIP_PARTS.intersection(p.relative_to(folder).parts):
            st = p.stat()
            out[p.relative_to(folder).as_posix()] = (sha256_file(p), st.st_size, st.st_mtime_ns)
    return out


# numba.set_num_threads(N) with N a number: the threads an author's machine had.
_NUMBA_THREADS = re.compile(rb"set_num_threads\(\s*(\d{1,4})\s*\)")
_SCANNED = (".py", ".ipynb")


def threads_asked(folder: Path, limit: int = 4 << 20) -> int:
    """The most threads the paper's code asks numba for by number
    (``numba.set_num_threads(8)``), 0 when it asks for none. numba refuses more than its
    pool holds, which is the machine's cores unless NUMBA_NUM_THREADS says more: code
    written on an 8-core workstation stops on a laptop with 'The number of threads must
    be between 1 and 2'. Runs get a pool of at least this size (threads share the cores;
    the results do not change with their number beyond a parallel sum's rounding)."""
    most = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in SKIP_PARTS]
        for name in files:
            if name.endswith(_SCANNED):
                path = Path(root) / name
                try:
                    if path.is_symlink() or path.stat().st_size > limit:
                        continue
                    data = path.read_bytes()
                except OSError:
                    continue
                if b"set_num_threads" in data:
                    most = max([most, *(int(m.group(1)) for m in _NUMBA_THREADS.finditer(data))])
    return most


# The notebook runner is this reprokit's own module, imported from where this one was
# (a source checkout on PYTHONPATH, or run from its folder, is not on the sandbox's path).
_RUNNER = "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('reprokit.run._nbrun', run_name='__main__', alter_sys=True)"


def command(ep: EntryPoint, work: Path, env: Env, timeout: int, executed: Path | None = None, pythonpath: str = "") -> tuple[list[str], Path]:
    """The command that runs ``ep`` in the working copy ``work``, and the folder it runs in:
    its own folder unless the entry point says otherwise."""
    target = work / ep.path
    cwd = work / ep.cwd if ep.cwd is not None else target.parent
    rel = os.path.relpath(target, cwd)
    if ep.kind == "notebook":
        cmd = [sys.executable, "-c", _RUNNER, str(Path(reprokit.__file__).resolve().parent.parent), rel,
               "--python", str(env.python), "--timeout", str(timeout)]
        if pythonpath:
            cmd += ["--pythonpath", pythonpath]
        if executed is not None:
            cmd += ["--output", str(executed)]
        return cmd, cwd
    return [str(env.python), rel, *ep.args], cwd


# Each entry point's time budget unless the user or the paper gives another.
RUN_TIMEOUT = 1800


# Where a script's shown figures (plt.show()) are kept, in the paper's folder of the run.
SHOWN = "shown"


def too_long(budget: float) -> str:
    return (f"too long to rerun here: stopped at the time budget of {duration(budget)} (--run-timeout, or run-timeout in "
            "reprokit.toml, gives more)")


def run_entry_points(paper: Path, env: Env, entry_points: Sequence[EntryPoint], *, policy: sandbox.Policy | None = None,
                     timeout: int = RUN_TIMEOUT, collect: Path | None = None, python_path: Sequence[str] = (),
                     progress: Callable[[str], None] | None = None) -> list[RunResult]:
    """Run the entry points in order in one fresh copy of ``paper``, as a person runs a
    paper's commands one after another. Each result holds the files that entry point
    wrote; a notebook counts as rewritten with the outputs of its run (as ``jupyter
    nbconvert --execute --inplace`` does). With ``collect``, the files each entry point
    wrote are kept under ``collect/<entry point name>/``. ``python_path``: folders of
    the paper on sys.path, as its own package is when installed (``src``). Each runs in the sandbox: the
    copy writable, the environment and its interpreter read-only (and for notebooks,
    reprokit's own interpreter, which drives the kernel).

    Each has ``timeout`` seconds; one that takes longer is stopped and its result says it
    is too long to rerun here (``timed_out``). ``progress`` gets a line when each starts
    and ends, and every 30 s in between (with the cell a notebook is at). A script's
    figures shown with ``plt.show()`` are saved as ``shown/figure-N.png`` in the paper's
    folder (a matplotlib backend of reprokit's, ``reprokit_show``), and so recorded."""
    policy = policy or sandbox.Policy()
    results = []
    with temporary_folder("rerun") as tmp:
        work = Path(tmp) / "paper"
        shutil.copytree(paper, work, symlinks=True)
        # Old mtimes, so that a rewrite within the same clock tick still shows.
        for p in work.rglob("*"):
            if p.is_file() and not p.is_symlink():
                os.utime(p, ns=(0, 0))
        (Path(tmp) / "home").mkdir()
        # The run's folder is shown at sandbox.RUN_AT: the paper is at the same path in
        # every run, at archive time and in every validate.
        run_mount = sandbox.Mount(source=Path(tmp), at=sandbox.RUN_AT, writable=True)
        inside = policy.at(run_mount)
        seen = inside / "paper"
        home = inside / "home"
        jupyter = home / ".jupyter-runtime"
        extra = {
            "PATH": str(env.bindir), "HOME": str(home), "TMPDIR": str(home),
            "JUPYTER_DATA_DIR": str(jupyter), "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
            "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".matplotlib"),
            # A crash in compiled code prints the Python frames it happened under.
            "PYTHONFAULTHANDLER": "1",
        }
        executed_dir = Path(tmp) / "executed"
        executed_dir.mkdir()
        backend_dir = Path(tmp) / "mpl-backend"
        backend_dir.mkdir()
        (backend_dir / "reprokit_show.py").write_text(
            resources.files("reprokit").joinpath("data/nix/reprokit_show.py").read_text("utf-8"), encoding="utf-8")
        # matplotlib before 1.5 reads no MPLBACKEND: its matplotlibrc says it too.
        (Path(tmp) / "home" / ".matplotlib").mkdir()
        (Path(tmp) / "home" / ".matplotlib" / "matplotlibrc").write_text("backend: module://reprokit_show\n", encoding="utf-8")
        # A paper that is a package reads its own metadata as an installed one does
        # (importlib.metadata.version("mypkg"), its entry points): a .dist-info of it
        # beside the folders of its code on the path.
        meta = []
        project = own_project(paper)
        if project is not None:
            info = Path(tmp) / "meta" / project.dist_info
            info.mkdir(parents=True)
            (info / "METADATA").write_text(project.metadata(), encoding="utf-8")
            if project.entry_points:
                (info / "entry_points.txt").write_text(project.entry_points_txt(), encoding="utf-8")
            meta = [str(inside / "meta")]
        pythonpath = os.pathsep.join([*(str(seen / p) if p else str(seen) for p in python_path), *meta,
                                      *([env.pythonpath] if env.pythonpath else [])])
        say = progress or (lambda line: None)
        asked = threads_asked(work)
        if asked > (os.cpu_count() or 1):
            extra["NUMBA_NUM_THREADS"] = str(asked)
            say(f"numba's thread pool is made {asked} threads, as the paper asks for (this machine has {os.cpu_count()} cores)")
        for number, ep in enumerate(entry_points, 1):
            say(f"running {ep.path} ({number} of {len(entry_points)})")
            before = _snapshot(work)
            executed = executed_dir / f"{ep.name}.ipynb" if ep.kind == "notebook" else None
            cmd, cwd_seen = command(ep, seen, env, timeout, inside / "executed" / f"{ep.name}.ipynb" if executed else None, pythonpath)
            cwd = work / cwd_seen.relative_to(seen)  # the same folder, on the host
            for arg in ep.args:  # a folder the command names for its output, as a reader would make it
                if arg == f"{OUTPUT_DIR}/":
                    (cwd / OUTPUT_DIR).mkdir(parents=True, exist_ok=True)
            for folder in ep.mkdirs:
                target = (work / folder).resolve()
                if target.is_relative_to(work.resolve()):
                    target.mkdir(parents=True, exist_ok=True)
            run_env = clean_env(extra)
            if ep.kind == "script":
                run_env["PYTHONPATH"] = os.pathsep.join([*([pythonpath] if pythonpath else []), str(inside / backend_dir.name)])
                run_env.update(MPLBACKEND="module://reprokit_show", REPROKIT_SHOWN=str(seen / SHOWN))
            else:  # a notebook's kernel shows figures inline, in its outputs
                run_env["MPLCONFIGDIR"] = str(home / ".matplotlib-notebooks")
            started, started_at = time.monotonic(), time.time()
            if not cwd.is_dir():
                results.append(RunResult(entry_point=ep, ok=False, message=f"its folder {cwd.relative_to(work)} does not exist", outputs={}))
                continue
            readonly = [*env.readonly, *(sandbox.own_interpreter() if ep.kind == "notebook" else ())]

            def tick(elapsed: float, where: str, path: str = ep.path) -> None:
                say(f"  {path}: {duration(elapsed)} so far" + (f", {where}" if where else ""))

            try:
                proc = policy.run(cmd, cwd=cwd_seen, readonly=readonly, mounts=[run_mount, *env.mounts], env=run_env, timeout=timeout,
                                  tick=tick if progress else None)
            except subprocess.TimeoutExpired:
                say(f"  {ep.path}: stopped at the time budget of {duration(timeout)}")
                results.append(RunResult(entry_point=ep, ok=False, message=too_long(timeout), outputs={}, seconds=time.monotonic() - started,
                                         timed_out=True))
                continue
            seconds = time.monotonic() - started
            say(f"  {ep.path}: {'done' if proc.returncode == 0 else 'failed'} in {duration(seconds)}")
            if executed is not None and executed.exists():
                shutil.copyfile(executed, work / ep.path)
            after = _snapshot(work)
            changed = {k: v[0] for k, v in after.items() if before.get(k) != v}
            if collect is not None:
                for rel in changed:
                    dest = collect / ep.name / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(work / rel, dest)
            message = "" if proc.returncode == 0 else failure(proc.returncode, proc.stderr, seen)
            for why in (absent_data(message, cwd, work, seen), writes_outside(message, cwd, work, seen)) if message else ():
                if why:
                    message = f"{message}; {why}"
            results.append(RunResult(entry_point=ep, ok=proc.returncode == 0, message=message, outputs=changed, seconds=seconds,
                                     window=(started_at, started_at + seconds)))
    return results
