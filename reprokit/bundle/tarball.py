"""A bundle's ``.tar.gz``, opened without trusting it, and compared with its folder.

Every member is checked before anything is written: a relative path with no ``..``, not
too deep, under the one top folder; a regular file or a folder (no links, devices, FIFOs
or sparse files: reprokit writes none); and the running totals stay under the caps on
size, compression ratio and file count. Files are written by reprokit itself, never
through a link, so this holds on every Python that reprokit runs on, with or without
tarfile's extraction filters (which had bypasses in 2025).
"""

from __future__ import annotations

import hashlib
import lzma
import os
import stat
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reprokit.errors import InputError, TarballRefused, UsageError
from reprokit.fsutil import files_under

CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class Caps:
    """Limits on what one tarball may unpack to; each has a validate flag to raise it."""

    size: int = 32 << 30  # bytes extracted, all files together
    ratio: int = 200  # extracted bytes per byte of the tarball (beyond the first MiB)
    files: int = 200_000
    depth: int = 64  # folders in one member's path


def _check_name(name: str, caps: Caps) -> list[str]:
    if not name or "\x00" in name or name.startswith("/") or "\\" in name:
        raise TarballRefused(f"member {name!r}: not a plain relative path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise TarballRefused(f"member {name!r}: '..' or an empty path")
    if len(parts) > caps.depth:
        raise TarballRefused(f"member {name[:80]!r}…: {len(parts)} folders deep, over the cap of {caps.depth} (--max-depth)")
    return parts


def extract(path: Path, dest: Path, caps: Caps) -> None:
    """Unpack ``path`` into the empty folder ``dest``, member by member, within ``caps``."""
    compressed = max(path.stat().st_size, 1)
    budget = max(compressed * caps.ratio, 1 << 20)
    total = files = 0
    top: str | None = None
    with tarfile.open(path) as tf:
        for m in tf:
            parts = _check_name(m.name, caps)
            if top is None:
                top = parts[0]
            elif parts[0] != top:
                raise TarballRefused(f"member {m.name!r}: outside the bundle's one top folder {top!r}")
            if m.issym() or m.islnk():
                raise TarballRefused(f"member {m.name!r}: a link ({m.linkname!r}); bundles hold regular files and folders only")
            if m.isdev() or m.isfifo():
                raise TarballRefused(f"member {m.name!r}: a device or FIFO")
            if m.issparse():
                raise TarballRefused(f"member {m.name!r}: a sparse file; reprokit never writes one")
            if not (m.isreg() or m.isdir()):
                raise TarballRefused(f"member {m.name!r}: not a regular file or folder")
            files += 1
            if files > caps.files:
                raise TarballRefused(f"more than {caps.files} members (--max-files)")
            total += m.size
            if total > caps.size:
                raise TarballRefused(f"extracts to more than {caps.size} bytes (--max-extract-size)")
            if total > budget:
                raise TarballRefused(f"extracts to over {caps.ratio} times its own size, a compression bomb? (--max-ratio)")
            target = dest.joinpath(*parts)
            # Only reprokit writes under dest, and it writes no links: still, make sure
            # no folder on the way is anything but a real folder inside dest.
            here = dest
            for part in parts[:-1]:
                here = here / part
                try:
                    st = os.lstat(here)
                except FileNotFoundError:
                    os.mkdir(here, 0o755)
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    raise TarballRefused(f"member {m.name!r}: {part!r} is already a file")
            if m.isdir():
                try:
                    os.mkdir(target, 0o755)
                except FileExistsError:
                    if not stat.S_ISDIR(os.lstat(target).st_mode):
                        raise TarballRefused(f"member {m.name!r}: already a file") from None
                continue
            src = tf.extractfile(m)
            assert src is not None  # a regular member
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if m.mode & 0o100 else 0o644)
            except FileExistsError:
                raise TarballRefused(f"member {m.name!r}: appears twice") from None
            written = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(CHUNK):
                    written += len(chunk)
                    if written > m.size:
                        raise TarballRefused(f"member {m.name!r}: more bytes than its header says")
                    out.write(chunk)


def open_bundle(path: Path, tmp: Path, caps: Caps) -> Path:
    """A bundle folder as given, or a tarball extracted into ``tmp``; its one top folder."""
    if path.is_dir():
        return path
    if not path.is_file():
        raise UsageError(f"{path}: no such bundle")
    dest = tmp / "extracted"
    dest.mkdir()
    try:
        extract(path, dest, caps)
    except TarballRefused as exc:
        raise InputError(f"{path}: refused, {exc}") from None
    except tarfile.ReadError:
        raise InputError(f"{path}: not a bundle folder, and not readable as a tarball (gzip, bzip2, xz or plain tar)") from None
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputError(f"{path}: not a readable bundle tarball ({why})") from None
    tops = list(dest.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise InputError(f"{path}: a bundle tarball holds exactly one top folder")
    return tops[0]


def differs(path: Path, folder: Path, name: str, digests: Mapping[str, str]) -> str | None:
    """The first way the tarball at ``path`` differs from ``folder`` packed under the top
    folder ``name``, or None when it holds exactly the folder's files (same paths, bytes
    and executable bits) and folders. ``digests`` gives the sha256 of every file of the
    folder (relative path -> hex), so the folder is not read again. Read as a stream:
    nothing is extracted."""
    dirs = {rel for rel in files_under(folder, dirs=True) if (folder / rel).is_dir() and not (folder / rel).is_symlink()}
    seen: set[str] = set()
    try:
        with tarfile.open(path) as tf:
            for m in tf:
                parts = [p for p in m.name.split("/") if p not in ("", ".")]
                if not parts or parts[0] != name:
                    return f"it holds {m.name!r}, outside {name}/"
                rel = "/".join(parts[1:])
                if m.isdir():
                    if rel and rel not in dirs:
                        return f"it holds the folder {rel}/, which the folder has not"
                    continue
                if not m.isreg():
                    return f"it holds {m.name!r}, which is not a regular file or folder"
                if rel not in digests:
                    return f"it holds {rel}, which the folder has not"
                src = tf.extractfile(m)
                assert src is not None  # a regular member
                h = hashlib.sha256()
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                if h.hexdigest() != digests[rel]:
                    return f"its {rel} has other bytes than the folder's"
                if bool(m.mode & 0o100) != os.access(folder / rel, os.X_OK):
                    return f"its {rel} differs from the folder's in the executable bit"
                seen.add(rel)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        return f"it is not a readable tarball ({exc.__class__.__name__})"
    missing = sorted(set(digests) - seen)
    return f"it lacks {missing[0]}" if missing else None

