"""Hashes that standard tools recompute: sha256 (hex, SRI, Nix base32), NAR, SWHID.

The NAR (Nix ARchive) serialisation and Nix's base32 are implemented here byte for byte
as Nix does, so ``narHash`` values equal ``nix hash path`` / ``nix-hash --type sha256``
and flat hashes equal ``nix-prefetch-url``. Large files are streamed in constant memory,
and reading overlaps hashing on a second thread (``hashlib`` releases the GIL).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import mmap
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Literal

NIX32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"


CHUNK = 1 << 20


Format = Literal["sri", "nix32", "hex"]


def nix32_encode(digest: bytes) -> str:
    """Nix's base32: its own alphabet, and the bits read from the end of the digest."""
    length = (len(digest) * 8 - 1) // 5 + 1
    out = []
    for n in range(length - 1, -1, -1):
        b = n * 5
        i, j = divmod(b, 8)
        c = digest[i] >> j
        if i + 1 < len(digest):
            c |= digest[i + 1] << (8 - j)
        out.append(NIX32_ALPHABET[c & 0x1F])
    return "".join(out)


def nix32_decode(text: str) -> bytes:
    size = len(text) * 5 // 8
    out = bytearray(size)
    for n, ch in enumerate(reversed(text)):
        digit = NIX32_ALPHABET.find(ch)
        if digit < 0:
            raise ValueError(f"not a Nix base32 character: {ch!r}")
        b = n * 5
        i, j = divmod(b, 8)
        out[i] |= (digit << j) & 0xFF
        if i + 1 < size:
            out[i + 1] |= digit >> (8 - j)
        elif digit >> (8 - j):
            raise ValueError("invalid Nix base32 hash")
    return bytes(out)


def sri(digest: bytes) -> str:
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def from_sri(text: str) -> bytes:
    algo, _, b64 = text.partition("-")
    if algo != "sha256" or not b64:
        raise ValueError(f"not a sha256 SRI hash: {text!r}")
    return base64.b64decode(b64)


def digest_of(text: str) -> bytes:
    """Parse a sha256 given as hex, Nix base32 or SRI."""
    if text.startswith("sha256-"):
        return from_sri(text)
    if len(text) == 64:
        return bytes.fromhex(text)
    if len(text) == 52:
        return nix32_decode(text)
    raise ValueError(f"not a sha256 hash: {text!r}")


def render(digest: bytes, fmt: Format) -> str:
    if fmt == "sri":
        return sri(digest)
    if fmt == "nix32":
        return nix32_encode(digest)
    return digest.hex()


def chunks(path: str | bytes | os.PathLike[str]) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def threaded(produce: Callable[[Callable[[bytes], object]], None], depth: int = 16) -> Iterator[bytes]:
    """Run ``produce(put)`` on a second thread and yield what it puts, in order.

    File reads and ``hashlib`` both release the GIL, so reading (or walking a tree) on
    one thread overlaps hashing on the other. An exception in the producer is re-raised
    here.
    """
    q: queue.Queue[bytes | BaseException | None] = queue.Queue(depth)

    def run() -> None:
        try:
            produce(q.put)
            q.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    while True:
        item = q.get()
        if item is None:
            break
        if isinstance(item, BaseException):
            t.join()
            raise item
        yield item
    t.join()


# A file at least this large is hashed from memory it is mapped into: the kernel's cached
# pages themselves, not a copy of them read into a buffer (a tenth of the time of hashing
# them), which on two cores busy with hashing and walking is time taken from both.
MAPPED = 1 << 18
MAPPED_PIECE = 1 << 22


def mapped(fd: int, size: int) -> Iterator[memoryview]:
    """The first ``size`` bytes of an open file, mapped into memory, as views of
    :data:`MAPPED_PIECE` bytes (``hashlib`` releases the GIL on each). The mapping lives
    as long as a view of it does. A file cut short while it is read ends the process
    (SIGBUS), as it does ``git``'s; the caller checks the size again afterwards."""
    m = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    if hasattr(m, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
        m.madvise(mmap.MADV_SEQUENTIAL)
    view = memoryview(m)
    for start in range(0, size, MAPPED_PIECE):
        yield view[start:start + MAPPED_PIECE]


def file_sha256(path: str | os.PathLike[str]) -> bytes:
    """Flat sha256 of a file's bytes (what ``nix-prefetch-url`` and ``sha256sum`` hash)."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        if size >= MAPPED:
            for piece in mapped(fd, size):
                h.update(piece)
            if os.fstat(fd).st_size != size:
                raise OSError(errno.ESTALE, "changed while it was hashed", os.fspath(path))
        else:
            while data := os.read(fd, CHUNK):
                h.update(data)
    finally:
        os.close(fd)
    return h.digest()


# A file this large is hashed on a worker thread: reading and hashing it release the GIL
# for nearly all of its time. Smaller files spend most of theirs in Python (open, stat,
# close), holding the GIL: on worker threads they only take it in turns (20,000 small
# files took three times as long on two threads as on one), so they are hashed by one
# thread, or by a forked process (see :class:`Hashing`).
LARGE = 1 << 20
# So many small files are worth a process of their own (a fork costs about a millisecond).
FORKED_SMALL = 2_000
_RECORD = 33  # a forked process's answer for a file: 0 and its digest, or 1 and its errno


class Hashing:
    """The sha256 of many files (``sizes`` their sizes), under way while the caller does
    other work; :meth:`result` has them, or the OSError that reading each raised.

    The large files are hashed on a worker thread per core but one, largest first. Many
    small files go to a forked process when this one runs no other thread (a fork is safe
    only then) and the machine has another core: it writes each digest to memory both
    share, and the Python work of 20,000 small files runs beside this process's. Else,
    and for what a forked process did not finish, :meth:`result` hashes them here."""

    def __init__(self, paths: list[str], sizes: list[int]) -> None:
        self.paths = paths
        self.found: list[bytes | OSError | None] = [None] * len(paths)
        self.large = sorted((i for i, n in enumerate(sizes) if n >= LARGE), key=lambda i: -sizes[i])
        self.small = [i for i, n in enumerate(sizes) if n < LARGE]
        self.lock = threading.Lock()
        self.child: tuple[int, mmap.mmap, list[int]] | None = None
        cores = os.cpu_count() or 1
        if len(self.small) >= FORKED_SMALL and cores > 1 and threading.active_count() == 1 and hasattr(os, "fork"):
            self.child = self._fork(self.small)
            self.small = []
        self.workers = [threading.Thread(target=self._take_large, daemon=True) for _ in range(min(len(self.large), max(1, cores - 1)))]
        for w in self.workers:
            w.start()

    def _fork(self, share: list[int]) -> tuple[int, mmap.mmap, list[int]]:
        shared = mmap.mmap(-1, _RECORD * len(share))
        pid = os.fork()
        if pid == 0:  # the forked process: never returns
            code = 1
            try:
                for k, i in enumerate(share):
                    try:
                        record = b"\0" + file_sha256(self.paths[i])
                    except OSError as exc:
                        record = b"\1" + struct.pack("<i", exc.errno or 0).ljust(32, b"\0")
                    shared[k * _RECORD:(k + 1) * _RECORD] = record
                code = 0
            finally:
                os._exit(code)
        return pid, shared, share

    def _one(self, i: int) -> None:
        try:
            self.found[i] = file_sha256(self.paths[i])
        except OSError as exc:
            self.found[i] = exc

    def _take_large(self) -> None:
        while True:
            with self.lock:
                if not self.large:
                    return
                i = self.large.pop(0)
            self._one(i)

    def result(self) -> list[bytes | OSError]:
        for i in self.small:
            self._one(i)
        self._take_large()
        for w in self.workers:
            w.join()
        if self.child is not None:
            pid, shared, share = self.child
            _, status = os.waitpid(pid, 0)
            for k, i in enumerate(share):
                record = shared[k * _RECORD:(k + 1) * _RECORD]
                if status != 0:  # stopped before it was done: what it wrote may be partial
                    self._one(i)
                elif record[0] == 0:
                    self.found[i] = bytes(record[1:])
                else:
                    number = struct.unpack("<i", record[1:5])[0]
                    self.found[i] = OSError(number, os.strerror(number), self.paths[i])
            shared.close()
            self.child = None
        return self.found  # type: ignore[return-value]


def swhid(path: str | os.PathLike[str]) -> str:
    """Software Heritage identifier of a file's content (a git blob id)."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(b"blob %d\0" % os.path.getsize(path))
    for chunk in chunks(path):
        h.update(chunk)
    return f"swh:1:cnt:{h.hexdigest()}"


