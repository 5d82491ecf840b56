"""Which files of a paper folder reprokit looks at.

Walks a folder the way a person would read it: honours ``.gitignore`` files (nested ones
too), skips version control, virtual environments, installed packages, build output and
caches, and survives symlink loops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pathspec

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", "__pycache__", "node_modules", "site-packages",
        "dist-packages", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", ".ipynb_checkpoints", ".cache", "build", "dist", ".venv", "venv",
        ".direnv", ".idea", ".vscode", "__pypackages__", ".pixi", ".conda", "result",
    }
)
SOURCE_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True, kw_only=True, slots=True)
class Walk:
    """The files found under a root, relative to it, folders skipped with why, and
    ``.gitignore`` lines that are not patterns (path, line, message)."""

    root: Path
    files: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())
    bad_ignores: tuple[tuple[str, int, str], ...] = field(default=())


def _is_venv(path: str) -> bool:
    return os.path.exists(os.path.join(path, "pyvenv.cfg")) or os.path.exists(
        os.path.join(path, "conda-meta")
    )


def _read_ignore(dirpath: str) -> tuple[pathspec.PathSpec[Any] | None, list[tuple[int, str]]]:
    """The folder's ``.gitignore`` as a spec, and what is wrong with its lines (git skips
    a pattern it cannot read, such as a lone ``!``, and so does the walk)."""
    try:
        with open(os.path.join(dirpath, ".gitignore"), encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None, []
    import pathspec  # on the first .gitignore: a tree without one never loads it
    import pathspec.util

    # pathspec >= 0.12.2 calls git's own semantics "gitignore"; older releases "gitwildmatch".
    pattern = "gitignore" if "gitignore" in pathspec.util._registered_patterns else "gitwildmatch"
    factory = pathspec.util.lookup_pattern(pattern)
    patterns = []
    problems: list[tuple[int, str]] = []
    for n, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            patterns.append(factory(line))
        except Exception:  # pathspec's pattern errors have no common base across releases
            problems.append((n, f"{line!r} is not a pattern git reads: ignored, as git does"))
    return (pathspec.PathSpec(patterns) if patterns else None), problems


def walk(root: Path, suffixes: tuple[str, ...] | None = SOURCE_SUFFIXES) -> Walk:
    """List files under ``root`` (or ``root`` itself when it is a file).

    ``suffixes=None`` lists every file (used when copying a paper into a bundle).
    Paths are POSIX-style and relative to ``root``, sorted.
    """
    root = Path(root)
    if root.is_file():
        return Walk(root=root.parent, files=(root.name,))
    found: list[str] = []
    skipped: list[tuple[str, str]] = []
    bad_ignores: list[tuple[str, int, str]] = []
    seen: set[tuple[int, int]] = set()
    # Each stack entry: directory, its path relative to root, and the ignore specs that
    # apply there (each with the folder it is relative to).
    stack: list[tuple[str, str, tuple[tuple[str, pathspec.PathSpec[Any]], ...]]] = [
        (str(root), "", ())
    ]
    while stack:
        dirpath, rel, specs = stack.pop()
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            skipped.append((rel or ".", f"cannot read: {exc.strerror}"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            skipped.append((rel, "symlink loop or repeated folder"))
            continue
        seen.add(key)
        own, problems = _read_ignore(dirpath)
        bad_ignores.extend((f"{rel}/.gitignore" if rel else ".gitignore", n, why) for n, why in problems)
        if own is not None:
            specs = specs + ((rel, own),)
        try:
            entries = sorted(os.scandir(dirpath), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((rel or ".", f"cannot read: {exc.strerror}"))
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            child_rel = f"{rel}/{name}" if rel else name
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if _ignored(specs, child_rel, is_dir):
                continue
            if is_dir:
                if name in SKIP_DIRS or name.endswith(".egg-info"):
                    continue
                if _is_venv(entry.path):
                    skipped.append((child_rel, "virtual environment"))
                    continue
                subdirs.append((entry.path, child_rel, specs))
            elif suffixes is None or name.endswith(suffixes):
                try:
                    if entry.is_file():
                        found.append(child_rel)
                except OSError:
                    continue
        stack.extend(reversed(subdirs))
    found.sort()
    return Walk(root=root, files=tuple(found), skipped=tuple(skipped), bad_ignores=tuple(bad_ignores))


def _ignored(specs: tuple[tuple[str, pathspec.PathSpec[Any]], ...], rel: str, is_dir: bool) -> bool:
    result = False
    for base, spec in specs:
        sub = rel[len(base) + 1 :] if base else rel
        if is_dir:
            sub += "/"
        # Later (deeper) files override earlier ones, like git; within a file the last
        # matching pattern wins, negations included.
        verdict = None
        for pattern in spec.patterns:
            if pattern.include is None:
                continue
            if pattern.match_file(sub):
                verdict = pattern.include
        if verdict is not None:
            result = verdict
    return result
