"""Nix's archive format (NAR) and the hashes Nix computes from it: of a file or folder (as
``nix hash path``, ``nix-hash``) and of a tar or zip archive's contents (as
``nix-prefetch-url --unpack``), read in memory with Nix's unpacking rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import lzma
import multiprocessing
import os
import stat
import struct
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from reprokit.errors import InputError
from reprokit.hashes import CHUNK, chunks, threaded


def _str(data: bytes) -> bytes:
    pad = (-len(data)) % 8
    return struct.pack("<Q", len(data)) + data + b"\0" * pad


_MAGIC = _str(b"nix-archive-1")
_OPEN, _CLOSE = _str(b"("), _str(b")")


# Framing that repeats for every node, built once.
_ENTRY = _str(b"entry") + _OPEN + _str(b"name")
_NODE = _str(b"node")
_REGULAR = _OPEN + _str(b"type") + _str(b"regular")
_EXECUTABLE = _str(b"executable") + _str(b"")
_CONTENTS = _str(b"contents")
_DIRECTORY = _OPEN + _str(b"type") + _str(b"directory")
_SYMLINK = _OPEN + _str(b"type") + _str(b"symlink") + _str(b"target")
_PACK = struct.Struct("<Q").pack
_REGULAR_PLAIN = _REGULAR + _CONTENTS
_REGULAR_EXEC = _REGULAR + _EXECUTABLE + _CONTENTS
_PADDING = tuple(b"\0" * ((-n) % 8) for n in range(8))
_CLOSE_CLOSE = _CLOSE + _CLOSE
_NODE_DIRECTORY = _NODE + _DIRECTORY
_NODE_SYMLINK = _NODE + _SYMLINK
# Pieces are gathered into buffers of about this size before the sink gets them: one
# hashlib call per buffer, which releases the GIL for the walk to go on.
_BATCH = 1 << 20
# Files up to this size are read whole with one call; larger ones are streamed.
_SMALL = 1 << 18
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _name(data: bytes) -> bytes:
    return _PACK(len(data)) + data + b"\0" * ((-len(data)) % 8)


def _read_whole(path: bytes, size: int) -> bytes:
    fd = os.open(path, _OPEN_FLAGS)
    try:
        data = os.read(fd, size + 1)
        while len(data) < size:  # a read may return less than asked
            more = os.read(fd, size + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    if len(data) != size:
        raise InputError(f"{os.fsdecode(path)}: changed while it was hashed")
    return data


# A large file in a serialisation: (path, size), streamed by whoever hashes it.
Large = tuple[bytes, int]
Piece = bytes | Large


def _serialise_into(top: bytes, st: os.stat_result, add: Callable[[Piece], object]) -> None:
    """Give ``add`` the NAR node of ``top`` (without the archive's magic) piece by piece;
    a file larger than :data:`_SMALL` is given as ``(path, size)`` for the receiver to
    stream. Works on bytes paths with ``os.scandir`` (a folder's entries say what they
    are without a ``stat``; files are ``lstat``-ed for size and mode), reads each small
    file with one call, builds each node's framing from prepared pieces, and walks
    folders without recursion (a tree thousands of folders deep is no stack overflow)."""

    def regular(p: bytes, st: os.stat_result) -> None:
        size = st.st_size
        add(_REGULAR_EXEC if st.st_mode & stat.S_IXUSR else _REGULAR_PLAIN)
        add(_PACK(size))
        add(_read_whole(p, size) if size <= _SMALL else (p, size))
        add(_PADDING[size & 7] + _CLOSE)

    mode = st.st_mode
    if stat.S_ISREG(mode):
        regular(top, st)
        return
    if stat.S_ISLNK(mode):
        add(_SYMLINK + _name(os.readlink(top)) + _CLOSE)
        return
    if not stat.S_ISDIR(mode):
        raise InputError(f"{os.fsdecode(top)}: a NAR holds only files, directories and symlinks")
    add(_DIRECTORY)
    stack = [_entries(top)]
    while stack:
        names = stack[-1]
        if not names:
            stack.pop()
            add(_CLOSE_CLOSE if stack else _CLOSE)  # the folder node, then its entry
            continue
        entry = names.pop()
        add(_ENTRY)
        add(_name(entry.name))
        if entry.is_dir(follow_symlinks=False):
            add(_NODE_DIRECTORY)
            stack.append(_entries(entry.path))
        elif entry.is_symlink():
            add(_NODE_SYMLINK + _name(os.readlink(entry.path)) + _CLOSE_CLOSE)
        else:
            est = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(est.st_mode):
                raise InputError(f"{os.fsdecode(entry.path)}: a NAR holds only files, directories and symlinks")
            add(_NODE)
            regular(entry.path, est)
            add(_CLOSE)


def _entries(folder: bytes) -> list[os.DirEntry[bytes]]:
    """A folder's entries, last name first (popped in NAR order: by bytes)."""
    with os.scandir(folder) as it:
        found = list(it)
    found.sort(key=lambda e: e.name, reverse=True)
    return found


def _stream(piece: Piece, sink: Callable[[bytes], object]) -> None:
    if isinstance(piece, bytes):
        sink(piece)
        return
    path, size = piece
    got = 0
    for chunk in chunks(path):
        sink(chunk)
        got += len(chunk)
    if got != size:
        raise InputError(f"{os.fsdecode(path)}: changed while it was hashed")


def nar_serialise(path: str | os.PathLike[str], sink: Callable[[bytes], object]) -> None:
    """Write the NAR of ``path`` to ``sink`` in buffers of about a MiB."""
    batches = _Batches(sink)

    def add(piece: Piece) -> None:
        if isinstance(piece, bytes):
            batches.put(piece)
        else:
            batches.flush()
            _stream(piece, sink)

    batches.put(_MAGIC)
    top = os.fsencode(os.fspath(path))
    _serialise_into(top, os.lstat(top), add)
    batches.flush()


# Trees with at least this many entries in their first levels are walked by several
# processes, each a share of the subtrees, the hashing staying in order here.
PARALLEL_UNITS = 64


def _unit(path: bytes) -> list[Piece]:
    """A subtree's NAR node as pieces (run in a worker process)."""
    out: list[Piece] = []
    pieces: list[bytes] = []

    def add(piece: Piece) -> None:
        if isinstance(piece, bytes):
            pieces.append(piece)
        else:
            if pieces:
                out.append(b"".join(pieces))
                pieces.clear()
            out.append(piece)

    _serialise_into(path, os.lstat(path), add)
    if pieces:
        out.append(b"".join(pieces))
    return out


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
            opened.append(_DIRECTORY)
            for entry in reversed(_entries(x[0])):
                opened += [_ENTRY, _name(entry.name), _NODE, (entry.path,), _CLOSE]
            opened.append(_CLOSE)
        plan = opened


def nar_sha256(path: str | os.PathLike[str], jobs: int | None = None) -> bytes:
    """sha256 of the NAR of ``path``: ``narHash`` / ``nix hash path``.

    A large tree is walked by ``jobs`` processes (default: the cores; forked, so only
    when no other thread runs here), each serialising a share of its subtrees, while this
    one hashes them in order; a small one, or a file, by one thread walking while this one
    hashes (``hashlib`` on MiB buffers and file reads release the GIL)."""
    h = hashlib.sha256()
    top = os.fsencode(os.fspath(path))
    st = os.lstat(top)
    jobs = jobs or os.cpu_count() or 1
    # Workers are forked, which is safe only while this process runs no other thread.
    parallel = jobs > 1 and stat.S_ISDIR(st.st_mode) and threading.active_count() == 1
    plan = _plan(top, PARALLEL_UNITS) if parallel else []
    subtrees = [x[0] for x in plan if isinstance(x, tuple)]
    if len(subtrees) < PARALLEL_UNITS:
        for piece in threaded(lambda put: nar_serialise(path, put), depth=8):
            h.update(piece)
        return h.digest()
    h.update(_MAGIC)
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs) as pool:
        results = pool.imap(_unit, subtrees, chunksize=4)
        for item in plan:
            if isinstance(item, bytes):
                h.update(item)
            else:
                for part in next(results):
                    _stream(part, h.update)
    return h.digest()


class _Batches:
    """Pieces gathered into buffers of about a MiB for a sink."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self.sink = sink
        self.small: list[bytes] = []
        self.small_len = 0

    def put(self, data: bytes) -> None:
        self.small.append(data)
        self.small_len += len(data)
        if self.small_len >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.small:
            self.sink(b"".join(self.small))
            self.small.clear()
            self.small_len = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class UnpackedHash:
    nar: bytes
    last_modified: int  # newest entry mtime, as Nix records for a tarball input


class _Node:
    """A file, folder or symlink of the tree an archive unpacks to; a file's bytes are a
    slice of the spooled blob."""

    __slots__ = ("children", "executable", "kind", "offset", "size", "target")

    def __init__(self, kind: Literal["directory", "regular", "symlink"], *, executable: bool = False, offset: int = 0, size: int = 0,
                 target: bytes = b"") -> None:
        self.kind = kind
        self.children: dict[bytes, _Node] = {}
        self.executable, self.offset, self.size, self.target = executable, offset, size, target

    def copy(self) -> _Node:
        return _Node(self.kind, executable=self.executable, offset=self.offset, size=self.size, target=self.target)


class _Unpacked:
    """The tree an archive unpacks to, built in memory by the rules Nix unpacks with
    (libarchive with ``SECURE_SYMLINKS`` and ``SECURE_NODOTDOT``): a later member replaces
    an earlier one, folders are made as paths need them, links are kept as they are
    (absolute or dangling), and a path with ``..`` or through a symlink is refused.
    File contents go into one spooled temporary blob, never to a path on disk."""

    def __init__(self, archive: Path, blob: IO[bytes]) -> None:
        self.archive, self.blob = archive, blob
        self.root = _Node("directory")
        self.newest = 0

    def refuse(self, name: str, why: str) -> InputError:
        return InputError(f"{self.archive}: member {name!r} {why}; Nix refuses it too")

    def _walk(self, name: str, parts: list[bytes]) -> _Node:
        """The folder holding ``parts[-1]``, made as needed."""
        here = self.root
        for i, part in enumerate(parts[:-1]):
            child = here.children.get(part)
            if child is None:
                child = here.children[part] = _Node("directory")
            elif child.kind != "directory":
                what = "symlink" if child.kind == "symlink" else "file"
                raise self.refuse(name, f"goes through the {what} {b'/'.join(parts[: i + 1]).decode('utf-8', 'replace')}")
            here = child
        return here

    def parts(self, name: str, raw: bytes) -> list[bytes]:
        parts = [p for p in raw.split(b"/") if p not in (b"", b".")]
        if b".." in parts:
            raise self.refuse(name, "has '..' in its path")
        return parts

    def put(self, name: str, raw: bytes, node: _Node) -> None:
        parts = self.parts(name, raw)
        if not parts:  # "./": the folder it all unpacks into
            if node.kind != "directory":
                raise self.refuse(name, "is the archive's top, and not a folder")
            return
        folder = self._walk(name, parts)
        old = folder.children.get(parts[-1])
        if old is not None and old.kind == "directory":
            if node.kind == "directory":
                return
            raise self.refuse(name, "would replace a folder with a non-folder")
        folder.children[parts[-1]] = node

    def find(self, name: str, raw: bytes) -> _Node:
        """The node a hard link names (a path from the archive's top)."""
        here = self.root
        parts = self.parts(name, raw)
        for part in parts:
            nxt = here.children.get(part) if here.kind == "directory" else None
            if nxt is None:
                raise self.refuse(name, f"is a hard link to {raw.decode('utf-8', 'replace')}, which is not in the archive before it")
            here = nxt
        if here.kind == "directory":
            raise self.refuse(name, "is a hard link to a folder")
        return here.copy()

    def keep(self, src: IO[bytes]) -> tuple[int, int]:
        """Copy a member's bytes into the blob; returns (offset, size)."""
        offset = self.blob.seek(0, os.SEEK_END)
        size = 0
        while chunk := src.read(CHUNK):
            self.blob.write(chunk)
            size += len(chunk)
        return offset, size

    def read_tar(self, tf: tarfile.TarFile) -> None:
        for m in tf:
            self.newest = max(self.newest, int(m.mtime))
            raw = m.name.encode("utf-8", "surrogateescape")
            if m.isdir():
                self.put(m.name, raw, _Node("directory"))
            elif m.issym():
                self.put(m.name, raw, _Node("symlink", target=m.linkname.encode("utf-8", "surrogateescape")))
            elif m.islnk():
                self.put(m.name, raw, self.find(m.name, m.linkname.encode("utf-8", "surrogateescape")))
            elif m.isreg():
                src = tf.extractfile(m)
                assert src is not None  # a regular member
                offset, size = self.keep(src)
                self.put(m.name, raw, _Node("regular", executable=bool(m.mode & stat.S_IXUSR), offset=offset, size=size))
            else:
                raise self.refuse(m.name, "is a device or FIFO, which a NAR cannot hold")

    def read_zip(self, zf: zipfile.ZipFile) -> None:
        for info in zf.infolist():
            self.newest = max(self.newest, _zip_mtime(info))
            raw = info.filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
            # Unix file types and modes are in the high bits of external_attr when the
            # entry was made on Unix; otherwise a name ending in / is a folder.
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            if stat.S_ISLNK(mode):
                self.put(info.filename, raw, _Node("symlink", target=zf.read(info)))
            elif info.is_dir() or stat.S_ISDIR(mode):
                self.put(info.filename, raw, _Node("directory"))
            else:
                with zf.open(info) as src:
                    offset, size = self.keep(src)
                self.put(info.filename, raw, _Node("regular", executable=bool(mode & stat.S_IXUSR), offset=offset, size=size))

    def nar(self, sink: Callable[[bytes], object]) -> None:
        """The NAR of what Nix hashes: the single entry at the top when there is exactly
        one (a folder, or even a file or a link), else the top folder itself."""
        top = next(iter(self.root.children.values())) if len(self.root.children) == 1 else self.root
        w = _Batches(sink)
        w.put(_MAGIC)
        # Iterative: an archive can nest folders deeper than Python's recursion limit.
        todo: list[_Node | bytes] = [top]
        while todo:
            item = todo.pop()
            if isinstance(item, bytes):
                w.put(item)
            elif item.kind == "symlink":
                w.put(_OPEN + _str(b"type") + _str(b"symlink") + _str(b"target") + _str(item.target) + _CLOSE)
            elif item.kind == "regular":
                w.put(_OPEN + _str(b"type") + _str(b"regular") + (_str(b"executable") + _str(b"") if item.executable else b"")
                      + _str(b"contents") + struct.pack("<Q", item.size))
                self.blob.seek(item.offset)
                left = item.size
                while left:
                    chunk = self.blob.read(min(CHUNK, left))
                    w.put(chunk)
                    left -= len(chunk)
                w.put(b"\0" * ((-item.size) % 8) + _CLOSE)
            else:
                w.put(_OPEN + _str(b"type") + _str(b"directory"))
                later: list[_Node | bytes] = []
                for name in sorted(item.children):
                    later += [_str(b"entry") + _OPEN + _str(b"name") + _str(name) + _str(b"node"), item.children[name], _CLOSE]
                later.append(_CLOSE)
                todo.extend(reversed(later))
        w.flush()


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    """An entry's mtime: its extended timestamp (extra field 0x5455, UTC) where it has one,
    else its MS-DOS date and time read as UTC (libarchive reads those as local time: the
    same on a machine set to UTC, as Nix's builders are)."""
    extra = info.extra
    while len(extra) >= 4:
        kind, size = struct.unpack("<HH", extra[:4])
        body = extra[4 : 4 + size]
        if kind == 0x5455 and len(body) >= 5 and body[0] & 1:
            return int(struct.unpack("<i", body[1:5])[0])
        extra = extra[4 + size :]
    try:
        return int(dt.datetime(*info.date_time, tzinfo=dt.timezone.utc).timestamp())
    except ValueError:  # a date MS-DOS cannot mean (month 0)
        return 0


def unpacked_nar_sha256(archive: Path) -> UnpackedHash:
    """NAR hash of an archive's contents as ``nix-prefetch-url --unpack`` computes it (a
    single top entry stripped), and its newest entry's mtime. Read as a stream into an
    in-memory tree: nothing is unpacked to disk, so absolute or dangling symlinks in it
    are data like any other."""
    h = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as blob:
        tree = _Unpacked(archive, blob)
        try:
            with open(archive, "rb") as fh:
                zipped = fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
            if zipped or (not tarfile.is_tarfile(archive) and zipfile.is_zipfile(archive)):
                with zipfile.ZipFile(archive) as zf:
                    tree.read_zip(zf)
            else:
                with tarfile.open(archive, encoding="utf-8", errors="surrogateescape") as tf:
                    tree.read_tar(tf)
        except InputError:
            raise
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, RuntimeError, ValueError, zlib.error, lzma.LZMAError) as exc:
            raise InputError(f"{archive}: not a readable archive ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})") from None
        tree.nar(h.update)
    return UnpackedHash(nar=h.digest(), last_modified=tree.newest)
