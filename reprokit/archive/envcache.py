"""Environments kept between archives of a paper, so that a second archive of it does not
install its lock again nor build its sdists a second time.

An environment is kept under the cache (``envs/KEY/``) by what makes it: the lock (its
``requirements.lock``, which pins every file by sha256), the names and sizes of the
vendored files (build tools included), the interpreter (its path, size and time), and
the sdists built without isolation. Only a sandboxed archive keeps one: its runs see the
environment read-only, so no run can change what the next archive reuses. A lock file
makes a second archive wait for the first one's build, and keeps an environment in use
from being pruned; the two most recently used are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from reprokit import sandbox
from reprokit.run.rebuild import Env

FORMAT = 1
KEEP = 2


def key(bundle: Path, python: str, unisolated: Mapping[str, Sequence[str]] | None) -> str:
    """What the environment of ``bundle``'s lock on ``python`` is made from, hashed."""
    h = hashlib.sha256(f"reprokit-env {FORMAT}\n".encode())
    h.update((bundle / "requirements.lock").read_bytes())
    for sub in ("wheels", "sdist", "build"):
        folder = bundle / "vendor" / sub
        for f in sorted(folder.iterdir()) if folder.is_dir() else ():
            h.update(f"{sub}/{f.name} {f.stat().st_size}\n".encode())
    exe = Path(python).resolve()
    st = exe.stat()
    h.update(f"{exe} {st.st_size} {st.st_mtime_ns}\n".encode())
    h.update(json.dumps({k: list(v) for k, v in sorted((unisolated or {}).items())}).encode())
    return h.hexdigest()[:32]


def _save(env: Env, path: Path) -> None:
    doc = {"python": str(env.python), "bindir": str(env.bindir), "pythonpath": env.pythonpath,
           "readonly": [str(p) for p in env.readonly],
           "mounts": [{"source": str(m.source), "at": m.at, "writable": m.writable} for m in env.mounts]}
    path.write_text(json.dumps(doc), encoding="utf-8")


def _load(path: Path) -> Env:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return Env(python=Path(doc["python"]), bindir=Path(doc["bindir"]), pythonpath=doc["pythonpath"],
               readonly=tuple(Path(p) for p in doc["readonly"]),
               mounts=tuple(sandbox.Mount(source=Path(m["source"]), at=m["at"], writable=m["writable"]) for m in doc["mounts"]))


@contextlib.contextmanager
def environment(cache: Path, name: str, build: Callable[[Path], Env]) -> Iterator[tuple[Env, bool]]:
    """The environment kept as ``name``, built with ``build(dest)`` when there is none
    yet; yields it and whether it was reused."""
    folder = cache / "envs" / name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reused = (folder / "complete").is_file()
        if reused:
            env = _load(folder / "env.json")
        else:
            shutil.rmtree(folder / "env", ignore_errors=True)
            env = build(folder / "env")
            _save(env, folder / "env.json")
            (folder / "complete").write_text("")
        os.utime(folder / "complete")
        fcntl.flock(lock, fcntl.LOCK_SH)  # in use: not pruned, not rebuilt
        _prune(cache / "envs", keep=folder)
        yield env, reused


def _prune(envs: Path, keep: Path) -> None:
    """Remove all but the most recently used environments (and what an archive stopped
    while building left), never one in use."""
    others = [d for d in envs.iterdir() if d.is_dir() and d != keep]
    kept = sorted((d for d in others if (d / "complete").is_file()), key=lambda d: (d / "complete").stat().st_mtime, reverse=True)
    for old in kept[KEEP - 1:] + [d for d in others if not (d / "complete").is_file()]:
        with open(old / ".lock", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # another archive is using it
            (old / "complete").unlink(missing_ok=True)
            shutil.rmtree(old / "env", ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
