"""Control groups for sandboxed runs: memory bounded as container runtimes bound it, and
processes counted where ``RLIMIT_NPROC`` does not bind (root).

A run's memory is what it touches (``memory.max`` with no swap on cgroup v2,
``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes`` on v1), not the address
space it reserves: BLAS and OpenMP threads, loky workers and JITs reserve far more than
they use, and an address-space cap kills them. A group is made under the caller's own
cgroup where the kernel allows it (v1 always, v2 only where the caller may), else at the
hierarchy's root; where none can be written, the caller falls back to ``RLIMIT_AS``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True, kw_only=True, slots=True)
class Group:
    """The cgroups one run is put in (a folder per hierarchy) and what they bound."""

    folders: tuple[Path, ...]  # each gets the run's pid in cgroup.procs
    memory: Path | None = None  # the folder that bounds memory, when one does
    memory_limit: int = 0
    v2: bool = False
    pids: bool = False  # processes are bounded by a pids controller

    def oom_killed(self) -> bool:
        """The kernel killed a process of the run for exceeding the memory limit."""
        if self.memory is None:
            return False
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            text = (self.memory / name).read_text()
        except OSError:
            return False
        counts = dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)
        with contextlib.suppress(ValueError):
            if int(counts.get("oom_kill", "0")) > 0:
                return True
        if not self.v2:  # kernels before 4.13 have no oom_kill count: a limit hit at its peak
            with contextlib.suppress(OSError, ValueError):
                failed = int((self.memory / "memory.failcnt").read_text())
                peak = int((self.memory / "memory.max_usage_in_bytes").read_text())
                return failed > 0 and peak >= self.memory_limit
        return False


def _own(controller: str) -> tuple[Path, bool] | None:
    """This process's cgroup folder for ``controller`` and whether it is cgroup v2."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    v1 = {}
    v2_path = None
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if number == "0" and controllers == "":
            v2_path = path
        for c in controllers.split(","):
            v1[c] = path
    if controller in v1 and (ROOT / controller / "cgroup.procs").is_file():
        return ROOT / controller / v1[controller].lstrip("/"), False
    for mount in (ROOT, ROOT / "unified"):
        controllers_file = mount / "cgroup.controllers"
        if v2_path is not None and controllers_file.is_file() and controller in controllers_file.read_text().split():
            return mount / v2_path.lstrip("/"), True
    return None


def _parents(controller: str) -> list[tuple[Path, bool]]:
    """Where a group for ``controller`` may be made, the caller's own cgroup first (its
    own limits then still hold), then the hierarchy's root."""
    own = _own(controller)
    if own is None:
        return []
    folder, v2 = own
    mount = folder
    while mount.parent != mount and (mount.parent / "cgroup.procs").is_file():
        mount = mount.parent
    found = []
    for parent in dict.fromkeys([folder, mount]):
        if not v2:
            found.append((parent, False))
            continue
        # v2: a child gets the controller only where its parent hands it down, and only
        # a cgroup without processes (or the root) may hand it down.
        try:
            handed = controller in (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if handed:
            found.append((parent, True))
    return found


def _make(parent: Path, settings: list[tuple[str, str]]) -> Path | None:
    try:
        folder = Path(tempfile.mkdtemp(prefix="reprokit-sandbox-", dir=parent))
    except OSError:
        return None
    try:
        for name, value in settings:
            (folder / name).write_text(value)
    except OSError:
        _remove(folder)
        return None
    return folder


def _remove(folder: Path) -> None:
    """Kill what is left in ``folder`` and remove it."""
    for _ in range(100):
        try:
            pids = [int(x) for x in (folder / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _memory_settings(limit: int, v2: bool, parent: Path) -> list[tuple[str, str]]:
    if v2:
        out = [("memory.max", str(limit))]
        if (parent / "memory.swap.max").exists() or (parent / "cgroup.controllers").is_file():
            out.append(("memory.swap.max", "0"))
        return [*out, ("memory.oom.group", "1")]
    out = [("memory.limit_in_bytes", str(limit))]
    if (parent / "memory.memsw.limit_in_bytes").exists():  # swap accounting: memory + swap, the same limit
        out.append(("memory.memsw.limit_in_bytes", str(limit)))
    return out


@contextlib.contextmanager
def group(*, memory: int | None, pids: int | None) -> Iterator[Group | None]:
    """Groups bounding a run's memory (bytes) and processes, or ``None`` where no cgroup
    can be written here. On exit, what is left in them is killed and they are removed."""
    made: list[Path] = []
    memory_at: Path | None = None
    v2_memory = False
    pids_bound = False
    try:
        if memory:
            for parent, v2 in _parents("memory"):
                settings = _memory_settings(memory, v2, parent)
                folder = _make(parent, settings)
                if folder is None and v2:  # memory.swap.max or memory.oom.group may be absent: the limit alone
                    folder = _make(parent, settings[:1])
                if folder is not None:
                    made.append(folder)
                    memory_at, v2_memory = folder, v2
                    break
        if pids:
            if memory_at is not None and v2_memory and (memory_at / "pids.max").exists():
                with contextlib.suppress(OSError):
                    (memory_at / "pids.max").write_text(str(pids))
                    pids_bound = True
            if not pids_bound:
                for parent, _v2 in _parents("pids"):
                    folder = _make(parent, [("pids.max", str(pids))])
                    if folder is not None:
                        made.append(folder)
                        pids_bound = True
                        break
        yield Group(folders=tuple(made), memory=memory_at, memory_limit=memory or 0, v2=v2_memory, pids=pids_bound) if made else None
    finally:
        for folder in reversed(made):
            _remove(folder)
