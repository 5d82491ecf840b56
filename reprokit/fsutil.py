"""Small filesystem helpers: atomic writes and a stable file digest.

Every file reprokit writes goes to a temporary name in the same folder first and is renamed
into place, so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reprokit.hashes import file_sha256


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (what ``sha256sum`` prints)."""
    return file_sha256(path).hex()


def files_under(root: Path, *, dirs: bool = False) -> list[str]:
    """Every file and symlink under ``root`` (and every folder, with ``dirs``) as sorted
    POSIX paths relative to it, folders walked without recursion (a tree thousands of
    folders deep is no stack overflow) and symlinked folders not followed."""
    found: list[str] = []
    stack = [(str(root), "")]
    while stack:
        path, rel = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                child = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, child))
                    if dirs:
                        found.append(child)
                else:
                    found.append(child)
    found.sort()
    return found
