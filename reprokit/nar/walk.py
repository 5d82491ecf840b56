"""The NAR hash of a file or folder (as ``nix hash path``, ``nix-hash``), a large tree
walked by several processes."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import pickle
import select
import shutil
import stat
import struct
import threading
from collections.abc import Iterator
from typing import NoReturn

from reprokit.errors import InputError
from reprokit.hashes import threaded
from reprokit.nar.format import (
    CLOSE,
    DIRECTORY,
    ENTRY,
    MAGIC,
    NODE,
    Piece,
    entries,
    name_field,
    nar_serialise,
    pieces,
    stream,
)

# Trees with at least this many entries in their first levels are walked by several
# processes, each a share of the subtrees, the hashing staying in order here.
PARALLEL_UNITS = 64
# Folders are opened until there are this many subtrees, so that one large folder (a
# package set's development/, 40% of nixpkgs) is not one process's alone; many more, and
# the cost per subtree (a claim, a file, a message) outweighs the balance.
PLANNED_UNITS = 256


def _unit(path: bytes) -> list[Piece]:
    """A subtree's NAR node as pieces (run in a worker process)."""
    return list(pieces(path, os.lstat(path)))


def _plan(top: bytes, units: int) -> list[bytes | tuple[bytes]]:
    """The NAR node of ``top`` with subtrees left as ``(path,)``: folders are opened level
    by level until there are at least ``units`` subtrees (or nothing more to open)."""
    plan: list[bytes | tuple[bytes]] = [(top,)]
    while True:
        subtrees = [x for x in plan if isinstance(x, tuple)]
        folders = {x[0] for x in subtrees if stat.S_ISDIR(os.lstat(x[0]).st_mode)}
        if not folders or len(subtrees) >= units:
            return plan
        opened: list[bytes | tuple[bytes]] = []
        for x in plan:
            if not isinstance(x, tuple) or x[0] not in folders:
                opened.append(x)
                continue
            opened.append(DIRECTORY)
            for entry in reversed(entries(x[0])):
                opened += [ENTRY, name_field(entry.name), NODE, (entry.path,), CLOSE]
            opened.append(CLOSE)
        plan = opened


def nar_sha256(path: str | os.PathLike[str], jobs: int | None = None) -> bytes:
    """sha256 of the NAR of ``path``: ``narHash`` / ``nix hash path``.

    A large tree is cut into subtrees in NAR order, which ``jobs - 1`` forked processes
    (default: the cores; forked only when no other thread runs here) and this one walk,
    each taking the next subtree nobody has; this one hashes them all in order, walking
    itself whenever the next subtree is still free. A small tree, or a file, is walked by
    one thread while this one hashes (``hashlib`` on MiB buffers and file reads release
    the GIL)."""
    h = hashlib.sha256()
    top = os.fsencode(os.fspath(path))
    st = os.lstat(top)
    jobs = jobs or os.cpu_count() or 1
    # Workers are forked, which is safe only while this process runs no other thread.
    parallel = jobs > 1 and stat.S_ISDIR(st.st_mode) and threading.active_count() == 1
    plan = _plan(top, PLANNED_UNITS) if parallel else []
    subtrees = [x[0] for x in plan if isinstance(x, tuple)]
    if len(subtrees) < PARALLEL_UNITS:
        for piece in threaded(lambda put: nar_serialise(path, put), depth=8):
            h.update(piece)
        return h.digest()
    h.update(MAGIC)
    with _Walkers(subtrees, jobs - 1) as walkers:
        k = 0
        for item in plan:
            if isinstance(item, bytes):
                h.update(item)
                continue
            for part in walkers.unit(k):
                stream(part, h.update)
            k += 1
    return h.digest()


class _Walkers:
    """Forked processes that serialise subtrees, each taking the next free one from the
    front of a shared counter and leaving its pieces in a file of a private folder (in
    memory where ``/dev/shm`` is): large files as references, streamed by the hasher.
    The hashing process takes free subtrees from the back while it waits."""

    def __init__(self, subtrees: list[bytes], n: int) -> None:
        self.subtrees = subtrees
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else os.environ.get("TMPDIR", "/tmp")
        self.folder = os.path.join(shm, f"reprokit-nar-{os.getpid()}-{os.urandom(6).hex()}")
        os.mkdir(self.folder, 0o700)  # a new folder of this process's own, or an error
        # What the processes share: the next subtree from the front (claimed) and the end
        # of those free (limit), in memory mapped before the fork, changed only under a
        # lock on a file (a POSIX lock, which a process that dies lets go of).
        self.counters = mmap.mmap(-1, 16)
        self.counters[:] = struct.pack("<qq", 0, len(subtrees))
        self.lock_fd = os.open(os.path.join(self.folder, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.kept: dict[int, list[Piece]] = {}
        self.done: set[int] = set()
        self.finished: set[int] = set()  # read ends of workers that have exited
        self.pids: dict[int, int] = {}  # pid -> read end of its pipe
        for _ in range(n):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: never returns
                os.close(r)
                self._work(w)
            os.close(w)
            self.pids[pid] = r

    def __enter__(self) -> _Walkers:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._locked() as (_, limit):
            self._set(limit, limit)  # nothing more to take
        for pid, r in self.pids.items():
            os.close(r)
            os.waitpid(pid, 0)
        os.close(self.lock_fd)
        shutil.rmtree(self.folder, ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[tuple[int, int]]:
        """The shared (claimed, limit), held by this process alone until the block ends."""
        fcntl.lockf(self.lock_fd, fcntl.LOCK_EX)
        try:
            yield struct.unpack("<qq", self.counters[:16])
        finally:
            fcntl.lockf(self.lock_fd, fcntl.LOCK_UN)

    def _set(self, claimed: int, limit: int) -> None:
        self.counters[:16] = struct.pack("<qq", claimed, limit)

    def _claim(self) -> int:
        with self._locked() as (k, limit):
            if k < limit:
                self._set(k + 1, limit)
                return k
            return len(self.subtrees)

    def _steal(self) -> int | None:
        """The last subtree nobody has taken, for this process to walk ahead of its turn
        while it waits for a worker's: every process walks, none waits."""
        with self._locked() as (k, limit):
            if k < limit:
                self._set(k, limit - 1)
                return limit - 1
        return None

    def _work(self, w: int) -> NoReturn:
        code = 0
        try:
            while (k := self._claim()) < len(self.subtrees):
                payload: list[Piece] | Exception
                try:
                    payload = _unit(self.subtrees[k])
                except Exception as exc:  # raised where the hash is made, as the walk there would have
                    payload = exc
                with open(os.path.join(self.folder, str(k)), "wb") as fh:
                    pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.write(w, struct.pack("<q", k))
        except BaseException:
            code = 1
        finally:
            os._exit(code)

    def unit(self, k: int) -> list[Piece]:
        """Subtree ``k``'s pieces: walked here when no worker has taken it yet; while a
        worker walks it, this process walks the last free subtree, kept for its turn."""
        if k in self.kept:
            return self.kept.pop(k)
        with self._locked() as (claimed, limit):
            free = claimed == k and k < limit
            if free:
                self._set(k + 1, limit)
        if free:
            return _unit(self.subtrees[k])
        while k not in self.done:
            ahead = None if self._ready() else self._steal()
            if ahead is None:
                self._wait()
            else:
                self.kept[ahead] = _unit(self.subtrees[ahead])
        with open(os.path.join(self.folder, str(k)), "rb") as fh:
            payload: list[Piece] | Exception = pickle.load(fh)
        os.unlink(os.path.join(self.folder, str(k)))
        if isinstance(payload, Exception):
            raise payload
        return payload

    def _ready(self) -> bool:
        """Whether a worker has said it finished something, without waiting."""
        open_ends = [r for r in self.pids.values() if r not in self.finished]
        return bool(open_ends) and bool(select.select(open_ends, [], [], 0)[0])

    def _wait(self) -> None:
        open_ends = [r for r in self.pids.values() if r not in self.finished]
        if not open_ends:  # every worker gone, and what we wait for not done
            raise InputError("a process hashing part of the tree stopped before it was done")
        ready, _, _ = select.select(open_ends, [], [])
        for r in ready:
            data = os.read(r, 8 * 64)
            if not data:
                self.finished.add(r)
            for (k,) in struct.iter_unpack("<q", data):
                self.done.add(k if k >= 0 else -k - 1)
