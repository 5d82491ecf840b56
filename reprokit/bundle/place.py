"""Writing a bundle in place: assembled in a temporary folder beside OUT and renamed over
it only when whole; what an interrupted archive left behind is cleared once its process
is gone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from reprokit.fsutil import alive


def reap(out: Path) -> None:
    """Remove what killed runs left next to ``out`` (``.OUT.<pid>.*.tmp`` folders and
    files of runs no longer alive); a bundle set aside by an interrupted ``--force``
    goes back in place when OUT is gone."""
    prefix = f".{out.name}."
    try:
        entries = sorted(out.parent.iterdir())
    except OSError:
        return
    for p in entries:
        name = p.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or alive(int(pid)):
            continue
        if ".old." in name and p.is_dir() and not out.exists() and not out.is_symlink():
            os.replace(p, out)
        elif p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _replace_dir(work: Path, out: Path) -> None:
    """Put ``work`` at ``out``: the old one is renamed aside first and deleted last, so a
    kill at any moment leaves a whole bundle at OUT or aside (which :func:`reap` restores)."""
    aside = None
    if out.exists() or out.is_symlink():
        aside = out.with_name(f".{out.name}.{os.getpid()}.old.tmp")
        os.replace(out, aside)
    try:
        os.replace(work, out)
    except BaseException:
        if aside is not None:
            os.replace(aside, out)
        raise
    if aside is not None:
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside)
        else:
            aside.unlink()
