"""The NAR hash of a tar or zip archive's contents (as ``nix-prefetch-url --unpack``),
read in memory with Nix's unpacking rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import lzma
import os
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from reprokit.errors import InputError
from reprokit.hashes import CHUNK
from reprokit.nar.format import BATCH, CLOSE, MAGIC, OPEN, field


class _Batches:
    """Pieces gathered into buffers of about a MiB for a sink."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self.sink = sink
        self.small: list[bytes] = []
        self.small_len = 0

    def put(self, data: bytes) -> None:
        self.small.append(data)
        self.small_len += len(data)
        if self.small_len >= BATCH:
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
        w.put(MAGIC)
        # Iterative: an archive can nest folders deeper than Python's recursion limit.
        todo: list[_Node | bytes] = [top]
        while todo:
            item = todo.pop()
            if isinstance(item, bytes):
                w.put(item)
            elif item.kind == "symlink":
                w.put(OPEN + field(b"type") + field(b"symlink") + field(b"target") + field(item.target) + CLOSE)
            elif item.kind == "regular":
                w.put(OPEN + field(b"type") + field(b"regular") + (field(b"executable") + field(b"") if item.executable else b"")
                      + field(b"contents") + struct.pack("<Q", item.size))
                self.blob.seek(item.offset)
                left = item.size
                while left:
                    chunk = self.blob.read(min(CHUNK, left))
                    w.put(chunk)
                    left -= len(chunk)
                w.put(b"\0" * ((-item.size) % 8) + CLOSE)
            else:
                w.put(OPEN + field(b"type") + field(b"directory"))
                later: list[_Node | bytes] = []
                for name in sorted(item.children):
                    later += [field(b"entry") + OPEN + field(b"name") + field(name) + field(b"node"), item.children[name], CLOSE]
                later.append(CLOSE)
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


def unpacked_nar_sha256(path: str | os.PathLike[str]) -> UnpackedHash:
    """NAR hash of an archive's contents as ``nix-prefetch-url --unpack`` computes it (a
    single top entry stripped), and its newest entry's mtime. Read as a stream into an
    in-memory tree: nothing is unpacked to disk, so absolute or dangling symlinks in it
    are data like any other."""
    archive = Path(path)
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
