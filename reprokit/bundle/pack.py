"""A bundle's files sealed and packed: ``SHA256SUMS`` over every file, and the ``.tar.gz``
that is the same bytes for the same inputs (sorted members, fixed mtimes, uid/gid 0,
gzip header mtime 0, the folder inside named after the paper).
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path

from reprokit.bundle.place import reap
from reprokit.fsutil import files_under, sha256_file


def epoch(date: dt.date) -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return int(env)
    return int(dt.datetime.combine(date, dt.time(), dt.timezone.utc).timestamp())


def sums(root: Path, known: Mapping[str, str] | None = None) -> str:
    """``SHA256SUMS`` of every file under ``root``; ``known`` gives digests already
    computed (relative path -> sha256), which are not hashed again."""
    known = known or {}
    lines = []
    for rel in files_under(root):
        p = root / rel
        if p.is_file() and not p.is_symlink() and rel != "SHA256SUMS":
            lines.append(f"{known.get(rel) or sha256_file(p)}  {rel}")
    return "\n".join(lines) + "\n"


def write_tar(bundle: Path, name: str, out: Path, mtime: int) -> None:
    """A byte-reproducible .tar.gz: sorted entries, fixed mtime, uid/gid 0, no names.
    Streamed: files go through gzip in chunks, never whole into memory."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    reap(out)
    try:
        with open(tmp, "wb") as out_fh, gzip.GzipFile(filename="", mode="wb", fileobj=out_fh, mtime=0, compresslevel=9) as gz:
            _write_members(bundle, name, gz, mtime)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_members(bundle: Path, name: str, gz: gzip.GzipFile, mtime: int) -> None:
    with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
        paths = [bundle / r for r in files_under(bundle, dirs=True)]
        for p in [bundle, *paths]:
            rel = p.relative_to(bundle).as_posix()
            arc = name if rel == "." else f"{name}/{rel}"
            info = tf.gettarinfo(str(p), arcname=arc)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.pax_headers = {}
            if info.isdir():
                info.mode = 0o755
                tf.addfile(info)
            elif info.issym():
                info.mode = 0o777
                tf.addfile(info)
            else:
                info.mode = 0o755 if os.access(p, os.X_OK) else 0o644
                with open(p, "rb") as fh:
                    tf.addfile(info, fh)
