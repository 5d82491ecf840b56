"""Small filesystem helpers: atomic writes and a stable file digest.

Every file reprokit writes goes to a temporary name in the same folder first and is renamed
into place, so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
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


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temporary_folder(kind: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder named for what it holds and the process that made it
    (``reprokit-KIND-PID-…``): one a killed reprokit left behind (an environment, a copy
    of a paper, hundreds of MB) is removed by the next (:func:`reap_temporary`)."""
    return tempfile.TemporaryDirectory(prefix=f"reprokit-{kind}-{os.getpid()}-")


_TEMPORARY = re.compile(r"^reprokit-[a-z]+-(\d+)-")


# A folder younger than this is left alone even when its process looks gone: a process
# of another PID namespace (a container sharing this temporary folder) looks gone too.
REAP_AGE = 6 * 3600


def reap_temporary(folder: str | None = None, age: float = REAP_AGE) -> list[Path]:
    """Remove the temporary folders of reprokit processes that are gone (this user's
    only, untouched for ``age`` seconds); returns what was removed. Folders a sandboxed
    run made read-only are made writable first."""
    removed = []
    top = Path(folder or tempfile.gettempdir())
    try:
        entries = list(os.scandir(top))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        m = _TEMPORARY.match(entry.name)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not m or not entry.is_dir(follow_symlinks=False) or st.st_uid != os.getuid() or now - st.st_mtime < age:
            continue
        if alive(int(m.group(1))):
            continue
        for root, dirs, _ in os.walk(entry.path):
            for d in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, d), 0o700, follow_symlinks=False)
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed
