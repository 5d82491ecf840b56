"""Hashes that standard tools recompute: sha256 (hex, SRI, Nix base32), NAR, SWHID.

The NAR (Nix ARchive) serialisation and Nix's base32 are implemented here byte for byte
as Nix does, so ``narHash`` values equal ``nix hash path`` / ``nix-hash --type sha256``
and flat hashes equal ``nix-prefetch-url``. Large files are streamed in constant memory,
and reading overlaps hashing on a second thread (``hashlib`` releases the GIL).
"""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import shutil
import stat
import struct
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reprokit.errors import InputError

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


@dataclass(frozen=True, kw_only=True, slots=True)
class Digest:
    """One sha256 in the three spellings the bundle uses."""

    hex: str
    sri: str
    nix32: str

    @classmethod
    def of(cls, digest: bytes) -> Digest:
        return cls(hex=digest.hex(), sri=sri(digest), nix32=nix32_encode(digest))


# --- streaming -----------------------------------------------------------------------

def _chunks(path: str | os.PathLike[str]) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _threaded(produce: Callable[[Callable[[bytes], object]], None], depth: int = 16) -> Iterator[bytes]:
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


def _prefetched(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Read ahead on a thread so disk reads overlap hashing."""

    def produce(put: Callable[[bytes], object]) -> None:
        for c in chunks:
            put(c)

    return _threaded(produce, depth=4)


def file_sha256(path: str | os.PathLike[str]) -> bytes:
    """Flat sha256 of a file's bytes (what ``nix-prefetch-url`` and ``sha256sum`` hash)."""
    h = hashlib.sha256()
    size = os.path.getsize(path)
    source = _prefetched(_chunks(path)) if size > 8 * CHUNK else _chunks(path)
    for chunk in source:
        h.update(chunk)
    return h.digest()


def swhid(path: str | os.PathLike[str]) -> str:
    """Software Heritage identifier of a file's content (a git blob id)."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(b"blob %d\0" % os.path.getsize(path))
    for chunk in _chunks(path):
        h.update(chunk)
    return f"swh:1:cnt:{h.hexdigest()}"


# --- NAR -----------------------------------------------------------------------------

def _str(data: bytes) -> bytes:
    pad = (-len(data)) % 8
    return struct.pack("<Q", len(data)) + data + b"\0" * pad


_OPEN, _CLOSE = _str(b"("), _str(b")")
_MAGIC = _str(b"nix-archive-1")


class _NarWriter:
    """Feeds the NAR serialisation of a tree to a sink without building it in memory."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self.sink = sink
        self.small: list[bytes] = []
        self.small_len = 0

    def put(self, data: bytes) -> None:
        # Batch the many tiny framing strings: one sink call per ~256 KiB.
        self.small.append(data)
        self.small_len += len(data)
        if self.small_len >= 1 << 18:
            self.flush()

    def flush(self) -> None:
        if self.small:
            self.sink(b"".join(self.small))
            self.small.clear()
            self.small_len = 0

    def node(self, path: str, st: os.stat_result) -> None:
        mode = st.st_mode
        put = self.put
        put(_OPEN)
        if stat.S_ISLNK(mode):
            put(_str(b"type") + _str(b"symlink") + _str(b"target") + _str(os.fsencode(os.readlink(path))))
        elif stat.S_ISREG(mode):
            put(_str(b"type") + _str(b"regular"))
            if mode & stat.S_IXUSR:
                put(_str(b"executable") + _str(b""))
            size = st.st_size
            put(_str(b"contents") + struct.pack("<Q", size))
            if size <= CHUNK:
                with open(path, "rb") as fh:
                    data = fh.read()
                if len(data) != size:
                    raise InputError(f"{path}: changed while it was hashed")
                put(data)
            else:
                self.flush()
                got = 0
                for chunk in _chunks(path):
                    self.sink(chunk)
                    got += len(chunk)
                if got != size:
                    raise InputError(f"{path}: changed while it was hashed")
            put(b"\0" * ((-size) % 8))
        elif stat.S_ISDIR(mode):
            put(_str(b"type") + _str(b"directory"))
            names = sorted(os.fsencode(n) for n in os.listdir(path))
            for name in names:
                child = os.path.join(path, os.fsdecode(name))
                put(_str(b"entry") + _OPEN + _str(b"name") + _str(name) + _str(b"node"))
                self.node(child, os.lstat(child))
                put(_CLOSE)
        else:
            raise InputError(f"{path}: a NAR holds only files, directories and symlinks")
        put(_CLOSE)


def nar_serialise(path: str | os.PathLike[str], sink: Callable[[bytes], object]) -> None:
    """Write the NAR of ``path`` to ``sink`` piece by piece."""
    w = _NarWriter(sink)
    w.put(_MAGIC)
    p = os.fspath(path)
    w.node(p, os.lstat(p))
    w.flush()


def nar_sha256(path: str | os.PathLike[str]) -> bytes:
    """sha256 of the NAR of ``path``: ``narHash`` / ``nix hash path``.

    One thread walks the tree and reads files into the NAR stream while this one hashes
    it: ``hashlib`` and file reads both release the GIL, so the walk's cost hides behind
    the hashing.
    """
    h = hashlib.sha256()
    for piece in _threaded(lambda put: nar_serialise(path, put)):
        h.update(piece)
    return h.digest()


# --- archives ------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class UnpackedHash:
    nar: bytes
    last_modified: int  # newest entry mtime, as Nix records for a tarball input


def _single_top(root: Path) -> Path:
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return root


def unpack_archive(archive: Path, dest: Path) -> int:
    """Unpack a .tar(.gz/.bz2/.xz) or .zip safely into ``dest``; returns newest mtime."""
    newest = 0
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    target = (dest / info.filename).resolve()
                    if not target.is_relative_to(dest.resolve()):
                        raise InputError(f"{archive}: member {info.filename!r} points outside the archive")
                zf.extractall(dest)
                for info in zf.infolist():
                    mode = (info.external_attr >> 16) & 0o777
                    if mode and not info.is_dir():
                        os.chmod(dest / info.filename, mode)
            return newest
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                newest = max(newest, int(m.mtime))
            tf.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{archive}: not a readable archive ({exc})") from exc
    return newest


def unpacked_nar_sha256(archive: Path) -> UnpackedHash:
    """NAR hash of an archive's contents after stripping a single top folder (as Nix)."""
    with tempfile.TemporaryDirectory(prefix="reprokit-unpack-") as tmp:
        dest = Path(tmp) / "x"
        dest.mkdir()
        newest = unpack_archive(archive, dest)
        digest = nar_sha256(_single_top(dest))
        shutil.rmtree(dest, ignore_errors=True)
    return UnpackedHash(nar=digest, last_modified=newest)
