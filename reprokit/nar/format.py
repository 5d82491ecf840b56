"""Nix's archive format (NAR): the framing of files, folders and symlinks, and a tree
walked into it piece by piece (``nix-store --dump``'s bytes)."""

from __future__ import annotations

import operator
import os
import stat
import struct
from collections.abc import Callable, Iterator

from reprokit.errors import InputError
from reprokit.hashes import mapped


def field(data: bytes) -> bytes:
    pad = (-len(data)) % 8
    return struct.pack("<Q", len(data)) + data + b"\0" * pad


MAGIC = field(b"nix-archive-1")
OPEN, CLOSE = field(b"("), field(b")")


# Framing that repeats for every node, built once.
ENTRY = field(b"entry") + OPEN + field(b"name")
NODE = field(b"node")
REGULAR = OPEN + field(b"type") + field(b"regular")
EXECUTABLE = field(b"executable") + field(b"")
CONTENTS = field(b"contents")
DIRECTORY = OPEN + field(b"type") + field(b"directory")
SYMLINK = OPEN + field(b"type") + field(b"symlink") + field(b"target")
PACK = struct.Struct("<Q").pack
REGULAR_PLAIN = REGULAR + CONTENTS
REGULAR_EXEC = REGULAR + EXECUTABLE + CONTENTS
PADDING = tuple(b"\0" * ((-n) % 8) for n in range(8))
CLOSE_CLOSE = CLOSE + CLOSE
NODE_DIRECTORY = NODE + DIRECTORY
NODE_SYMLINK = NODE + SYMLINK
# Pieces are gathered into buffers of about this size before the sink gets them: one
# hashlib call per buffer, which releases the GIL for the walk to go on.
BATCH = 1 << 20
# Files up to this size are read whole with one call; larger ones are streamed.
SMALL = 1 << 18
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def name_field(data: bytes) -> bytes:
    return PACK(len(data)) + data + b"\0" * ((-len(data)) % 8)


def read_whole(path: bytes, size: int) -> bytes:
    fd = os.open(path, OPEN_FLAGS)
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


def pieces(top: bytes, st: os.stat_result) -> Iterator[Piece]:
    """The NAR node of ``top`` (without the archive's magic) as buffers of about a MiB; a
    file larger than :data:`SMALL` comes as ``(path, size)`` for the receiver to stream.
    Works on bytes paths with ``os.scandir`` (a folder's entries say what they are without
    a ``stat``; files are ``lstat``-ed for size and mode), reads each small file with one
    call, joins each node from prepared framing in one step, and walks folders without
    recursion (a tree thousands of folders deep is no stack overflow)."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        yield SYMLINK + name_field(os.readlink(top)) + CLOSE
        return
    if stat.S_ISREG(mode):
        yield from file_node(top, st)
        return
    if not stat.S_ISDIR(mode):
        raise InputError(f"{os.fsdecode(top)}: a NAR holds only files, directories and symlinks")
    buf: list[bytes] = [DIRECTORY]
    size = 0
    append, join, lstat_regular = buf.append, b"".join, stat.S_ISREG
    stack = [entries(top)]
    while stack:
        names = stack[-1]
        if not names:
            stack.pop()
            append(CLOSE_CLOSE if stack else CLOSE)  # the folder node, then its entry
            continue
        entry = names.pop()
        name = entry.name
        framed = ENTRY + PACK(len(name)) + name + PADDING[len(name) & 7] + NODE
        if entry.is_dir(follow_symlinks=False):
            append(framed + DIRECTORY)
            stack.append(entries(entry.path))
            continue
        if entry.is_symlink():
            append(framed + SYMLINK + name_field(os.readlink(entry.path)) + CLOSE_CLOSE)
            continue
        est = entry.stat(follow_symlinks=False)
        if not lstat_regular(est.st_mode):
            raise InputError(f"{os.fsdecode(entry.path)}: a NAR holds only files, directories and symlinks")
        n = est.st_size
        head = REGULAR_EXEC if est.st_mode & stat.S_IXUSR else REGULAR_PLAIN
        if n <= SMALL:
            append(join((framed, head, PACK(n), read_whole(entry.path, n), PADDING[n & 7], CLOSE_CLOSE)))
            size += n + 200
            if size >= BATCH:
                yield join(buf)
                buf.clear()
                size = 0
            continue
        append(framed + head + PACK(n))
        yield join(buf)
        buf.clear()
        size = 0
        yield (entry.path, n)
        append(PADDING[n & 7] + CLOSE_CLOSE)
    yield join(buf)


def file_node(path: bytes, st: os.stat_result) -> Iterator[Piece]:
    """The NAR node of a single regular file."""
    n = st.st_size
    head = (REGULAR_EXEC if st.st_mode & stat.S_IXUSR else REGULAR_PLAIN) + PACK(n)
    if n <= SMALL:
        yield head + read_whole(path, n) + PADDING[n & 7] + CLOSE
        return
    yield head
    yield (path, n)
    yield PADDING[n & 7] + CLOSE


_by_name = operator.attrgetter("name")


def entries(folder: bytes) -> list[os.DirEntry[bytes]]:
    """A folder's entries, last name first (popped in NAR order: by bytes)."""
    with os.scandir(folder) as it:
        found = list(it)
    found.sort(key=_by_name, reverse=True)
    return found


def stream(piece: Piece, sink: Callable[[bytes], object]) -> None:
    """Give ``sink`` a piece's bytes: a large file's as views of the file mapped in memory
    (see :func:`reprokit.hashes.mapped`)."""
    if isinstance(piece, bytes):
        sink(piece)
        return
    path, size = piece
    fd = os.open(path, OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            raise InputError(f"{os.fsdecode(path)}: changed while it was hashed")
        for view in mapped(fd, size):
            sink(view)  # type: ignore[arg-type]
        if os.fstat(fd).st_size != size:
            raise InputError(f"{os.fsdecode(path)}: changed while it was hashed")
    finally:
        os.close(fd)


def nar_serialise(path: str | os.PathLike[str], sink: Callable[[bytes], object]) -> None:
    """Write the NAR of ``path`` to ``sink`` in buffers of about a MiB."""
    sink(MAGIC)
    top = os.fsencode(os.fspath(path))
    for piece in pieces(top, os.lstat(top)):
        stream(piece, sink)
