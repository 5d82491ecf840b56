"""Why a run failed, in one line as a person reads it: the exception a traceback ended with
and the innermost frame of the paper's or a library's code, the crash of compiled code,
the sandbox's memory limit, a prompt with nothing on stdin, a folder it lacked, data
the paper does not hold.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from reprokit import sandbox
from reprokit.scan.entrypoints import EntryPoint

_NO_SUCH = re.compile(r"No such file or directory: '([^']+)'")


def missing_folder(ep: EntryPoint, message: str, work_root: str = "") -> str | None:
    """The folder (inside the paper) a failed run wanted to write into and did not find,
    when that is what its error says; None otherwise. Whether it was a write is not known
    from the message: the caller makes the folder once and runs again."""
    m = _NO_SUCH.search(message)
    if not m or m.group(1).startswith("/"):
        return None
    base = ep.cwd if ep.cwd is not None else posixpath.dirname(ep.path)
    folder = posixpath.normpath(posixpath.join(base or ".", posixpath.dirname(m.group(1))))
    if folder in (".", "") or folder.startswith(".."):
        return None
    return folder


# What a program says when a file it reads is not there: Python's open() and os
# (FileNotFoundError), pandas before 1.0 ("File b'x.csv' does not exist"), numpy's
# loadtxt and genfromtxt ("x.csv not found."), h5py ("name = 'x.h5', errno = 2").
_ABSENT = (
    _NO_SUCH,
    re.compile(r"\bFile b?'([^']+)' does not exist"),
    re.compile(r"(?:OSError|IOError|FileNotFoundError): (\S+) not found\."),
    re.compile(r"name = '([^']+)', errno = 2\b"),
)


def absent_data(message: str, cwd: Path, paper: Path, seen: Path | None = None) -> str | None:
    """The file a failed run wanted and that is not in the paper, when its error says so:
    ``data absent: data/flint.mat is not in the paper``. ``cwd`` is the folder it ran
    in and ``paper`` the copy of the paper it ran in, as they are after the run (what a
    run writes, it makes; a name still absent with its folder present was read);
    ``seen``, the paper's path inside the sandbox, as errors print it. A folder the run
    lacked to write into is :func:`missing_folder`'s, not data: a name whose folder is
    absent too is not judged here."""
    for pattern in _ABSENT:
        m = pattern.search(message)
        if m:
            break
    else:
        return None
    name = m.group(1)
    if name.startswith("/"):
        if seen is None or not name.startswith(f"{seen}/"):
            return f"data absent: {name}, a path outside the paper (a file on its author's machine)"
        target = paper / name[len(str(seen)) + 1:]
    else:
        target = cwd / name
    try:
        rel = Path(os.path.normpath(target)).relative_to(paper)
    except ValueError:
        return f"data absent: {name}, a path outside the paper"
    if target.exists() or not target.parent.is_dir():
        return None
    return f"data absent: {rel.as_posix()} is not in the paper"


_READ_ONLY = re.compile(r"\[Errno 30\] Read-only file system: '([^']+)'")


def writes_outside(message: str, cwd: Path, paper: Path, seen: Path | None = None) -> str | None:
    """What a run failed writing outside the paper, when its error says so: the sandbox
    shows it only the paper's copy writable, and a bundle holds only the paper, so a
    download cache above it (``../../mnist_data``) or in a home folder is not there."""
    m = _READ_ONLY.search(message)
    if m is None:
        return None
    name = m.group(1)
    target = Path(os.path.normpath(name if name.startswith("/") else cwd / name))
    inside = seen is not None and name.startswith(f"{seen}/")
    if inside or target == paper or target.is_relative_to(paper):
        return None
    where = f"{name}, above the paper's folder" if not name.startswith("/") else name
    return (f"it writes outside the paper ({where}): runs may write only in the paper's folder, and a bundle holds only the "
            "paper, so what it downloads or caches there at run time is not in it")


_FATAL = re.compile(r"^Fatal Python error: (Segmentation fault|Bus error|Illegal instruction|Floating point exception|Aborted)", re.M)


_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+)', re.M)


_SIGNALS = {4: "Illegal instruction", 6: "Aborted", 7: "Bus error", 8: "Floating point exception", 11: "Segmentation fault"}


def crash(returncode: int, stderr: str, work: Path | None = None) -> str | None:
    """How a run crashed in compiled code, when it did: the fatal signal, and the innermost
    Python frame ``faulthandler`` printed (a path inside an environment is shortened to
    what follows ``site-packages/``): ``Segmentation fault in numba/lowering.py, line 709``."""
    fatal = _FATAL.search(stderr)
    signal_no = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    what = fatal.group(1) if fatal else _SIGNALS.get(signal_no)
    if what is None:
        return None
    frame = _FRAME.search(stderr, fatal.end()) if fatal else None
    if frame is None:
        return what
    return f"{what} in {_short(frame.group(1), work)}, line {frame.group(2)}"


def _short(path: str, work: Path | None) -> str:
    """A traceback's file as a person finds it: inside an environment, what follows
    ``site-packages/``; inside the paper's run folder, its path in the paper."""
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1]
    if work is not None and path.startswith(f"{work}/"):
        return path[len(str(work)) + 1:]
    return path


_STDLIB = re.compile(r"^<frozen |/lib/python\d+\.\d+/(?!(.*/)?(site|dist)-packages/)")


_EXCEPTION = re.compile(r"^[ \t]*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit))\b.*$", re.M)


_NO_INPUT = ("it asked for keyboard input (input()), and entry points run with nothing on stdin: "
             "make it take its answer from an argument or a file")


def failure(returncode: int, stderr: str, work: Path | None = None) -> str:
    """The line that says why a run failed: the exception at the end of a traceback with
    the innermost frame it was raised in (``EOFError: EOF when reading a line (in
    volcano_base/config.py, line 25)``), or the crash of compiled code (see :func:`crash`)."""
    killed = next((ln for ln in reversed(stderr.splitlines()) if ln.startswith(sandbox.KILLED_PREFIX)), None)
    if killed is not None:
        return killed[len(sandbox.KILLED_PREFIX):].strip()
    stderr = "\n".join(ln for ln in stderr.splitlines() if not ln.startswith(sandbox.PROGRESS_PREFIX))
    crashed = crash(returncode, stderr, work)
    if crashed:
        return f"crashed: {crashed}"
    exc = next(reversed(list(_EXCEPTION.finditer(stderr))), None)
    if exc is None:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        return f"exited with status {returncode}: {lines[-1].strip() if lines else f'exit {returncode}'}"
    # The innermost frame of the paper's or a library's code: the standard library's own
    # (importlib, json.decoder) says less about where it went wrong than its caller.
    frames = list(_FRAME.finditer(stderr, 0, exc.start()))
    frame = next((f for f in reversed(frames) if not _STDLIB.search(f.group(1))), frames[-1] if frames else None)
    where = f" (in {_short(frame.group(1), work)}, line {frame.group(2)})" if frame else ""
    hint = f"; {_NO_INPUT}" if exc.group(0).strip().startswith("EOFError: EOF when reading a line") else ""
    return f"exited with status {returncode}: {exc.group(0).strip()}{where}{hint}"
