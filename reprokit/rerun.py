"""Rebuild a bundle's environment with pip from its vendored files, and rerun the paper.

Used by ``validate --rebuild pip --rerun`` and by ``archive`` to record what each entry
point writes. The rebuild uses the pip kept in ``vendor/build/`` (not the host's), feeds
pip's isolated builds from ``vendor/build/`` and never touches an index. Entry points run
in order, in one copy of ``paper/``, each from its own folder as a person would run it;
notebooks through :mod:`reprokit._nbrun`. All of it is the bundle's code (sdist build
backends, the paper itself) and runs through :mod:`reprokit.sandbox`, by default with no
network, which also proves the bundle needs none.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

import reprokit
from reprokit import interpreter, sandbox
from reprokit import lock as lock_mod
from reprokit.entrypoints import OUTPUT_DIR
from reprokit.errors import RebuildFailed
from reprokit.flake import EntryPoint
from reprokit.fsutil import sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Env:
    """A rebuilt environment: the interpreter to run the paper with, where its scripts
    are, and (for Python 2.7, which has no venv) the folder the packages went to."""

    python: Path  # as a run sees it (see sandbox.ENV_AT)
    bindir: Path
    pythonpath: str | None = None
    readonly: tuple[Path, ...] = ()  # what a sandboxed run of it must be able to read
    mounts: tuple[sandbox.Mount, ...] = ()  # the environment's folder, shown read-only where it was built


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    entry_point: EntryPoint
    ok: bool
    message: str
    outputs: dict[str, str]  # path in paper/ -> sha256 of files it wrote or changed
    seconds: float = 0.0
    window: tuple[float, float] = (0.0, 0.0)  # when it started and ended, epoch seconds (time stamps in outputs)
    timed_out: bool = False  # stopped at the time budget: too long to rerun here


def find_python(version: str) -> tuple[str | None, str]:
    """An interpreter of ``version`` (a shim resolved to the real interpreter, which needs
    no HOME of the user's); with how to get one when none is found."""
    exe, why = interpreter.find(version)
    if exe is None:
        return None, why
    try:
        real = subprocess.run([exe, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        real = ""
    return (real if real and Path(real).is_file() else exe), ""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The variables rebuild and rerun set on top of the sandbox's allowlist: no pip
    configuration or cache, no user site, a fixed hash seed and source date."""
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1",
           "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
           "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "315532800")}
    env.update(extra or {})
    return env


def installer_wheel(bundle: Path) -> Path | None:
    """The pip wheel the bundle keeps for rebuilding (the newest one, if several)."""
    found = []
    for w in (bundle / "vendor" / "build").glob("pip-*.whl"):
        try:
            name, version, _, _ = parse_wheel_filename(w.name)
        except InvalidWheelFilename:
            continue
        if name == "pip":
            found.append((version, w))
    return max(found)[1] if found else None


# --- why pip failed -------------------------------------------------------------------

_STEP = (
    (re.compile(r"Getting requirements to build (?:wheel|editable)|get_requires_for_build"), "asking its build backend what it needs"),
    (re.compile(r"Installing build dependencies|installing build dependencies"), "installing its build tools"),
    (re.compile(r"Preparing metadata|metadata-generation-failed|python setup\.py egg_info"), "preparing its metadata"),
    (re.compile(r"Building wheel for|Failed building wheel|bdist_wheel|wheel-build"), "building its wheel"),
    (re.compile(r"Running setup\.py install"), "running setup.py install"),
)
_CAUSES = (
    (re.compile(r"fatal error: ([\w./+-]+\.h(?:pp)?): No such file"), "missing C header {0} (a system library's development files)"),
    (re.compile(r"(?:^|\s)(\S+): (?:command )?not found"), "missing tool `{0}`"),
    (re.compile(r"error: command '([^']+)' failed"), "the compiler `{0}` failed"),
    (re.compile(r"cannot find -l(\w+)"), "missing system library lib{0} (linker)"),
    (re.compile(r"(?:Could not find a version that satisfies the requirement|No matching distribution found for) ([^\s(]+)"),
     "{0} is not in {source}"),
    (re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'|ImportError: No module named '?([\w.]+)"), "its build imports {0}, which its build tools lack"),
    (re.compile(r"Failed to establish a new connection|Network is unreachable|Temporary failure in name resolution|Could not fetch URL"),
     "it tried to reach the network (the rebuild is offline)"),
    (re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES|hash.*does not match"), "a vendored file does not match its hash in requirements.lock"),
    (re.compile(r"(\S+) requires Python ['\"]?([^'\"]+)"), "{0} needs Python {1}"),
)
_PACKAGE = re.compile(r"(?:Collecting|Processing|Building wheel for|Running setup\.py install for|Failed to build|Failed building wheel for|"
                      r"Getting requirements to build wheel for|Preparing metadata \(pyproject\.toml\) for)\s+(\S+)")


def _package_name(token: str) -> str:
    """``./vendor/sdist/numpy-1.13.3.zip``, ``numpy==1.13.3`` or ``numpy`` -> ``numpy``."""
    base = token.rstrip("/").rsplit("/", 1)[-1]
    base = re.sub(r"\.(tar\.gz|tar\.bz2|tgz|zip|whl)$", "", base)
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9._]*?(?:-[A-Za-z][A-Za-z0-9._]*)*)(?:-\d|[=<>!~\[(;]|$)", base)
    return m.group(1) if m else base


def _error_at(lines: list[str]) -> int:
    return next((i for i, ln in enumerate(lines) if re.search(r"^\s*(ERROR|error|×)\b|did not run successfully|Failed", ln)), len(lines))


def failed_package(output: str) -> str:
    """The package pip was working on when it failed ("" when it does not say)."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    package = ""
    for ln in lines[: _error_at(lines) + 1]:
        m = _PACKAGE.search(ln)
        if m:
            package = _package_name(m.group(1))
    for ln in lines:
        m = re.search(r"Failed (?:to build|building wheel for) ([A-Za-z0-9][\w.-]*)", ln)
        if m:
            package = m.group(1)
    return package


def explain_pip_failure(output: str, source: str = "the bundle's vendor/ (pip looked there only)") -> str:
    """One line from pip's output: which package, at which step, and why. ``source``:
    where pip looked for distributions, for "X is not in …"."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    package = failed_package(output)
    step = ""
    error_at = _error_at(lines)
    for ln in lines[max(0, error_at - 40): error_at + 20]:
        for pat, what in _STEP:
            if pat.search(ln):
                step = what
    causes: list[str] = []
    for ln in lines:
        for pat, what in _CAUSES:
            m = pat.search(ln)
            if m:
                cause = what.format(*[g for g in m.groups() if g is not None], source=source)
                if cause not in causes:
                    causes.append(cause)
    detail = "; ".join(causes[:2])
    if not detail:
        # pip prints what the failed step said between "Complete output (N lines):" and a
        # line of dashes: its last line says why.
        for i, ln in enumerate(lines):
            if "Complete output" in ln:
                end = next((j for j, b in enumerate(lines[i + 1:]) if b.strip().startswith("---")), len(lines))
                said = [b.strip() for b in lines[i + 1:i + 1 + end] if b.strip()]
                if said:
                    detail = said[-1]
                    break
    if not detail:
        errors = [ln.strip() for ln in lines if re.search(r"\berror\b|Error:", ln) and "subprocess" not in ln and "See above" not in ln]
        detail = errors[-1] if errors else (lines[-1].strip() if lines else "no output")
    head = f"{package}: " if package else ""
    return f"{head}{step + ' failed: ' if step else ''}{detail}"


# --- rebuild --------------------------------------------------------------------------------

def _has_venv(python: str) -> bool:
    return subprocess.run([python, "-c", "import venv"], capture_output=True).returncode == 0


def base_prefix(venv: Path) -> list[Path]:
    """The installation a venv's interpreter lives in (``home`` in pyvenv.cfg), which a
    sandboxed run of that venv must be able to read."""
    try:
        for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                return [Path(value.strip()).resolve().parent]
    except OSError:
        pass
    return []


def install_prefix(python: str) -> Path:
    """The installation an interpreter belongs to (``…/bin/python`` -> ``…``)."""
    return Path(python).resolve().parent.parent


def rebuild_pip(bundle: Path, python: str, dest: Path, *, policy: sandbox.Policy | None = None, timeout: float = 3600,
                unisolated: Mapping[str, Sequence[str]] | None = None) -> Env:
    """A fresh environment at ``dest`` with the bundle's lock installed offline.

    Python 3 gets a venv; Python 2.7, which has no venv module, gets the packages in
    ``dest/site`` (``pip install --target``), put on its path when the paper runs. pip is
    the one kept in ``vendor/build/``, run from its wheel, and runs in the sandbox (with
    it every sdist's build backend): the bundle and the interpreter read-only, only
    ``dest`` writable.

    ``unisolated`` (package name -> the ``name==version`` of its build tools) are sdists
    whose setup.py imports what it does not declare (numpy, Cython): pip's isolated build
    would not install it. The rest is installed first; each of these is then built without
    isolation, its build tools unpacked from ``vendor/build/`` onto its ``PYTHONPATH``.
    """
    policy = policy or sandbox.Policy()
    pip_wheel = installer_wheel(bundle)
    links = [x for sub in ("wheels", "sdist", "build") if (bundle / "vendor" / sub).is_dir() for x in ("--find-links", str(bundle / "vendor" / sub))]
    prefix = install_prefix(python)
    dest.mkdir(parents=True, exist_ok=True)
    # Built where every run will see it (sandbox.ENV_AT), so the paths that enter what
    # pip writes (scripts' first lines) and what the paper writes are the same each time.
    building = sandbox.Mount(source=dest, at=sandbox.ENV_AT, writable=True)
    root = policy.at(building)
    shown = (sandbox.Mount(source=dest, at=sandbox.ENV_AT),)
    if _has_venv(python):
        cmd = [python, "-m", "venv", *(["--without-pip"] if pip_wheel else []), str(root)]
        # The reviewer's own interpreter, but not the reviewer's HOME or variables.
        proc = policy.run(cmd, cwd=root, readonly=[prefix], mounts=[building], env=clean_env({}), timeout=timeout)
        if proc.returncode != 0:
            raise RebuildFailed(f"cannot make a venv with {python}: {explain_pip_failure(proc.stderr + proc.stdout)}")
        vpy = root / "bin" / "python"
        env = Env(python=vpy, bindir=root / "bin", readonly=(prefix, *base_prefix(dest)), mounts=shown)
        readonly = [bundle, prefix, *base_prefix(dest)]
        if pip_wheel:
            _pip(policy, [str(vpy), str(pip_wheel / "pip"), "install", "--no-index", "--find-links", str(pip_wheel.parent), f"pip=={_version(pip_wheel)}"],
                 building, readonly, timeout, "installing the bundle's pip")
        pip = [str(vpy), "-m", "pip"]
        target: list[str] = []
        extra_env: dict[str, str] = {}
    else:
        if pip_wheel is None:
            raise RebuildFailed(f"{python} has no venv module and the bundle keeps no pip wheel in vendor/build/ to install with")
        site = root / "site"
        env = Env(python=Path(python), bindir=site / "bin", pythonpath=str(site), readonly=(prefix,), mounts=shown)
        readonly = [bundle, prefix]
        # pip runs build backends through a script of its own, which must be a file:
        # the wheel installs pip into a folder first, and that pip does the rest.
        tool = root / "pip"
        _pip(policy, [python, str(pip_wheel / "pip"), "install", "--no-index", "--target", str(tool), "--find-links", str(pip_wheel.parent),
                      f"pip=={_version(pip_wheel)}"], building, readonly, timeout, "installing the bundle's pip")
        pip = [python, "-m", "pip"]
        target = ["--target", str(site)]
        extra_env = {"PYTHONPATH": str(tool)}
    install = [*pip, "install", "--no-index", "--require-hashes", "--use-pep517", "--no-cache-dir", *target, *links]
    if not unisolated:
        _pip(policy, [*install, "-r", str(bundle / "requirements.lock")], building, readonly, timeout, "pip install from vendor/", extra_env)
        return env
    # The lock is a whole closure: each part installs with --no-deps.
    pins, _ = lock_mod.parse_requirements((bundle / "requirements.lock").read_text(encoding="utf-8"))
    later = {canonical(n) for n in unisolated}
    steps = dest / ".reprokit-build"
    steps.mkdir(exist_ok=True)
    first = [p for p in pins if canonical(p.name) not in later]
    (steps / "first.lock").write_text(lock_mod.pinned_lines(first), encoding="utf-8")
    _pip(policy, [*install, "--no-deps", "-r", str(root / ".reprokit-build" / "first.lock")], building, readonly, timeout,
         "pip install from vendor/", extra_env)
    for p in (p for p in pins if canonical(p.name) in later):
        # Its build tools, installed as pip's isolated build would have them (commands such
        # as swig or cmake in bin/), from vendor/build/ only.
        tools = root / ".reprokit-build" / f"{canonical(p.name)}-tools"
        with_ = next(v for k, v in unisolated.items() if canonical(k) == canonical(p.name))
        _pip(policy, [*pip, "install", "--no-index", "--no-deps", "--no-cache-dir", "--target", str(tools), "--find-links",
                      str(bundle / "vendor" / "build"), *with_], building, readonly, timeout, f"installing the build tools of {p.name}", extra_env)
        (steps / f"{canonical(p.name)}.lock").write_text(lock_mod.pinned_lines([p]), encoding="utf-8")
        path = os.pathsep.join([str(tools), *([extra_env["PYTHONPATH"]] if "PYTHONPATH" in extra_env else [])])
        _pip(policy, [*install, "--no-deps", "--no-build-isolation", "-r", str(root / ".reprokit-build" / f"{canonical(p.name)}.lock")],
             building, readonly, timeout, f"building {p.name} {p.version} with its build tools (its build needs what it does not declare)",
             {**extra_env, "PYTHONPATH": path, "PATH": os.pathsep.join([str(tools / "bin"), str(root / "bin")])})
    shutil.rmtree(steps, ignore_errors=True)
    return env


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(wheel: Path) -> str:
    return str(parse_wheel_filename(wheel.name)[1])


def _pip(policy: sandbox.Policy, cmd: list[str], dest: sandbox.Mount, readonly: list[Path], timeout: float, what: str,
         extra_env: dict[str, str] | None = None) -> None:
    root = policy.at(dest)
    try:
        proc = policy.run(cmd, cwd=root, readonly=readonly, mounts=[dest], env=clean_env({"PATH": str(root / "bin"), **(extra_env or {})}),
                          timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RebuildFailed(f"{what} did not finish in {timeout:.0f}s") from None
    log.debug("%s", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        output = proc.stdout + "\n" + proc.stderr
        raise RebuildFailed(f"{what} failed: {explain_pip_failure(output)}", output=output)


# --- rerun ----------------------------------------------------------------------------------


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


# The notebook runner is this reprokit's own module, imported from where this one was
# (a source checkout on PYTHONPATH, or run from its folder, is not on the sandbox's path).
_RUNNER = "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('reprokit._nbrun', run_name='__main__', alter_sys=True)"


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


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 01 min``: a time as people read it."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


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
    with tempfile.TemporaryDirectory(prefix="reprokit-rerun-") as tmp:
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
        pythonpath = os.pathsep.join([*(str(seen / p) if p else str(seen) for p in python_path), *([env.pythonpath] if env.pythonpath else [])])
        say = progress or (lambda line: None)
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
            results.append(RunResult(entry_point=ep, ok=proc.returncode == 0, message=message, outputs=changed, seconds=seconds,
                                     window=(started_at, started_at + seconds)))
    return results


_NO_SUCH = re.compile(r"No such file or directory: '([^']+)'")


def missing_folder(ep: EntryPoint, message: str, work_root: str = "") -> str | None:
    """The folder (inside the paper) a failed run wanted to write into and did not find,
    when that is what its error says; None otherwise. Whether it was a write is not known
    from the message: the caller makes the folder once and runs again."""
    m = _NO_SUCH.search(message)
    if not m or m.group(1).startswith("/"):
        return None
    base = ep.cwd if ep.cwd is not None else posixpath.dirname(ep.path)
    folder = posixpath.normpath(posixpath.join(base or ".", posixpath.dirname(m.group(1))))
    if folder in (".", "") or folder.startswith(".."):
        return None
    return folder


_FATAL = re.compile(r"^Fatal Python error: (Segmentation fault|Bus error|Illegal instruction|Floating point exception|Aborted)", re.M)
_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+)', re.M)
_SIGNALS = {4: "Illegal instruction", 6: "Aborted", 7: "Bus error", 8: "Floating point exception", 11: "Segmentation fault"}


def crash(returncode: int, stderr: str, work: Path | None = None) -> str | None:
    """How a run crashed in compiled code, when it did: the fatal signal, and the innermost
    Python frame ``faulthandler`` printed (a path inside an environment is shortened to
    what follows ``site-packages/``): ``Segmentation fault in numba/lowering.py, line 709``."""
    fatal = _FATAL.search(stderr)
    signal_no = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    what = fatal.group(1) if fatal else _SIGNALS.get(signal_no)
    if what is None:
        return None
    frame = _FRAME.search(stderr, fatal.end()) if fatal else None
    if frame is None:
        return what
    return f"{what} in {_short(frame.group(1), work)}, line {frame.group(2)}"


def _short(path: str, work: Path | None) -> str:
    """A traceback's file as a person finds it: inside an environment, what follows
    ``site-packages/``; inside the paper's run folder, its path in the paper."""
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1]
    if work is not None and path.startswith(f"{work}/"):
        return path[len(str(work)) + 1:]
    return path


_STDLIB = re.compile(r"^<frozen |/lib/python\d+\.\d+/(?!(.*/)?(site|dist)-packages/)")
_EXCEPTION = re.compile(r"^[ \t]*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit))\b.*$", re.M)
_NO_INPUT = ("it asked for keyboard input (input()), and entry points run with nothing on stdin: "
             "make it take its answer from an argument or a file")


def failure(returncode: int, stderr: str, work: Path | None = None) -> str:
    """The line that says why a run failed: the exception at the end of a traceback with
    the innermost frame it was raised in (``EOFError: EOF when reading a line (in
    volcano_base/config.py, line 25)``), or the crash of compiled code (see :func:`crash`)."""
    killed = next((ln for ln in reversed(stderr.splitlines()) if ln.startswith(sandbox.KILLED_PREFIX)), None)
    if killed is not None:
        return killed[len(sandbox.KILLED_PREFIX):].strip()
    stderr = "\n".join(ln for ln in stderr.splitlines() if not ln.startswith(sandbox.PROGRESS_PREFIX))
    crashed = crash(returncode, stderr, work)
    if crashed:
        return f"crashed: {crashed}"
    exc = next(reversed(list(_EXCEPTION.finditer(stderr))), None)
    if exc is None:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        return f"exited with status {returncode}: {lines[-1].strip() if lines else f'exit {returncode}'}"
    # The innermost frame of the paper's or a library's code: the standard library's own
    # (importlib, json.decoder) says less about where it went wrong than its caller.
    frames = list(_FRAME.finditer(stderr, 0, exc.start()))
    frame = next((f for f in reversed(frames) if not _STDLIB.search(f.group(1))), frames[-1] if frames else None)
    where = f" (in {_short(frame.group(1), work)}, line {frame.group(2)})" if frame else ""
    hint = f"; {_NO_INPUT}" if exc.group(0).strip().startswith("EOFError: EOF when reading a line") else ""
    return f"exited with status {returncode}: {exc.group(0).strip()}{where}{hint}"

