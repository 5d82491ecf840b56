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

from reprokit import lazy

if TYPE_CHECKING:
    import pathspec
    import pathspec.util
else:
    pathspec = lazy.module("pathspec")  # on the first .gitignore: a tree without one never loads it

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", "__pycache__", "node_modules", "site-packages",
        "dist-packages", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", ".ipynb_checkpoints", ".cache", "build", "dist", ".venv", "venv",
        ".direnv", ".idea", ".vscode", "__pypackages__", ".pixi", ".conda", "result",
    }
)
# Of those, the ones that may be a paper's own content (its build/ of figures, a dist/ of
# data): left out like the others, but named in Walk.skipped so a person can keep them.
OUTPUT_DIRS = frozenset({"build", "dist", "result", ".cache", ".eggs"})
BUILD_OUTPUT = "build or tool output"
SOURCE_SUFFIXES = (".py", ".ipynb")
# Reasons in Walk.skipped that mean the listing is incomplete (archive refuses them) or
# that a link was not followed (archive reports it).
CANNOT_READ = "cannot read"
NOT_UTF8 = "name is not valid UTF-8"
LEAVES = "a symlink leaving the folder"


def shown(rel: str) -> str:
    """A path for a message, even one whose name is not valid UTF-8."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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


def walk(root: Path, suffixes: tuple[str, ...] | None = SOURCE_SUFFIXES, keep: frozenset[str] = frozenset()) -> Walk:
    """List files under ``root`` (or ``root`` itself when it is a file).

    ``suffixes=None`` lists every file (used when copying a paper into a bundle).
    ``keep``: folders (relative) walked even though their name says build output.
    Paths are POSIX-style and relative to ``root``, sorted.
    """
    root = Path(root)
    if root.is_file():
        return Walk(root=root.parent, files=(root.name,))
    found: list[str] = []
    skipped: list[tuple[str, str]] = []
    bad_ignores: list[tuple[str, int, str]] = []
    seen: set[tuple[int, int]] = set()
    real_root = root.resolve()
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
            skipped.append((rel or ".", f"{CANNOT_READ}: {exc.strerror}"))
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
            skipped.append((rel or ".", f"{CANNOT_READ}: {exc.strerror}"))
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            child_rel = f"{rel}/{name}" if rel else name
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                skipped.append((child_rel, NOT_UTF8))
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if entry.is_symlink():
                try:
                    target = Path(entry.path).resolve()
                except (OSError, RuntimeError):
                    skipped.append((child_rel, f"{LEAVES}: a broken or looping link, not followed"))
                    continue
                if target != real_root and real_root not in target.parents:
                    if not _ignored(specs, child_rel, is_dir):
                        skipped.append((child_rel, f"{LEAVES} (to {target}): not followed"))
                    continue
            if _ignored(specs, child_rel, is_dir):
                continue
            if is_dir:
                if child_rel in keep:
                    pass
                elif name in SKIP_DIRS or name.endswith(".egg-info"):
                    if name in OUTPUT_DIRS:
                        skipped.append((child_rel, BUILD_OUTPUT))
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


class Unmatchable(ValueError):
    """A pattern's regex uses more than the small subset gitignore translation produces."""


class Matcher:
    """A regex of the subset pathspec writes for gitignore lines (literals, ``.``,
    classes, ``(?:…)`` groups, ``|``, ``* + ?``, ``^ $``), matched by simulating all its
    states at once: time linear in the path for a given pattern, where Python's
    backtracking ``re`` takes minutes on lines such as ``*a*a*a*a*b`` or ``**/a/**/a/**/b``."""

    def __init__(self, regex: str) -> None:
        self.src, self.i = regex, 0
        self.prog: list[tuple[Any, ...]] = []
        node = self._alt()
        if self.i != len(self.src):
            raise Unmatchable(f"unexpected {self.src[self.i]!r} at {self.i}")
        self._emit(node)
        self.prog.append(("match",))

    # -- parsing into a tree of tuples ---------------------------------------------
    def _peek(self) -> str:
        return self.src[self.i] if self.i < len(self.src) else ""

    def _alt(self) -> tuple[Any, ...]:
        branches = [self._seq()]
        while self._peek() == "|":
            self.i += 1
            branches.append(self._seq())
        return ("alt", branches) if len(branches) > 1 else branches[0]

    def _seq(self) -> tuple[Any, ...]:
        items: list[tuple[Any, ...]] = []
        while self._peek() not in ("", "|", ")"):
            atom = self._atom()
            q = self._peek()
            if q in ("*", "+", "?"):
                self.i += 1
                if self._peek() == "?":  # lazy: the same language
                    self.i += 1
                atom = (q, atom)
            items.append(atom)
        return ("seq", items)

    def _atom(self) -> tuple[Any, ...]:
        c = self.src[self.i]
        self.i += 1
        if c == "(":
            if self.src.startswith("?:", self.i):
                self.i += 2
            elif self.src.startswith("?P<", self.i):
                self.i = self.src.index(">", self.i) + 1
            elif self._peek() == "?":
                raise Unmatchable("a group kind other than (?:…) and (?P<name>…)")
            inner = self._alt()
            if self._peek() != ")":
                raise Unmatchable("an unclosed group")
            self.i += 1
            return inner
        if c == "[":
            return ("char", self._class())
        if c == ".":
            return ("char", lambda ch: ch != "\n")
        if c in "^$":
            return ("bol",) if c == "^" else ("eol",)
        if c == "\\":
            if self.i >= len(self.src) or self.src[self.i].isalnum():
                raise Unmatchable("a backslash class")
            c = self.src[self.i]
            self.i += 1
            return ("char", lambda ch, c=c: ch == c)
        if c in "*+?{}":
            raise Unmatchable(f"{c!r} with nothing to repeat, or a counted repeat")
        return ("char", lambda ch, c=c: ch == c)

    def _class(self) -> Any:
        negate = self._peek() == "^"
        if negate:
            self.i += 1
        singles: set[str] = set()
        ranges: list[tuple[str, str]] = []
        first = True
        while True:
            if self.i >= len(self.src):
                raise Unmatchable("an unclosed character class")
            c = self.src[self.i]
            self.i += 1
            if c == "]" and not first:
                break
            first = False
            if c == "\\":
                c = self.src[self.i]
                self.i += 1
            if self._peek() == "-" and self.i + 1 < len(self.src) and self.src[self.i + 1] != "]":
                hi = self.src[self.i + 1]
                self.i += 2
                if hi == "\\":
                    hi = self.src[self.i]
                    self.i += 1
                ranges.append((c, hi))
            else:
                singles.add(c)

        def pred(ch: str) -> bool:
            hit = ch in singles or any(lo <= ch <= hi for lo, hi in ranges)
            return hit != negate
        return pred

    # -- code for a Pike VM ----------------------------------------------------------
    def _emit(self, node: tuple[Any, ...]) -> None:
        kind, prog = node[0], self.prog
        if kind == "seq":
            for item in node[1]:
                self._emit(item)
        elif kind == "alt":
            jumps = []
            for branch in node[1][:-1]:
                split = len(prog)
                prog.append(("split", split + 1, None))
                self._emit(branch)
                jumps.append(len(prog))
                prog.append(("jmp", None))
                prog[split] = ("split", split + 1, len(prog))
            self._emit(node[1][-1])
            for j in jumps:
                prog[j] = ("jmp", len(prog))
        elif kind == "*":
            start = len(prog)
            prog.append(("split", start + 1, None))
            self._emit(node[1])
            prog.append(("jmp", start))
            prog[start] = ("split", start + 1, len(prog))
        elif kind == "+":
            start = len(prog)
            self._emit(node[1])
            prog.append(("split", start, len(prog) + 1))
        elif kind == "?":
            split = len(prog)
            prog.append(("split", split + 1, None))
            self._emit(node[1])
            prog[split] = ("split", split + 1, len(prog))
        else:
            prog.append(node)

    def match(self, text: str) -> bool:
        """Whether the regex matches at the start of ``text`` (as ``re.match``)."""
        prog, end = self.prog, len(text)

        def closure(pcs: list[int], pos: int) -> tuple[set[int], bool]:
            seen: set[int] = set()
            stack = list(pcs)
            while stack:
                pc = stack.pop()
                if pc in seen:
                    continue
                seen.add(pc)
                op = prog[pc]
                if op[0] == "match":
                    return seen, True
                if op[0] == "jmp":
                    stack.append(op[1])
                elif op[0] == "split":
                    stack += [op[2], op[1]]
                elif (op[0] == "bol" and pos == 0) or (op[0] == "eol" and pos == end):
                    stack.append(pc + 1)
            return seen, False

        states, done = closure([0], 0)
        for pos, ch in enumerate(text):
            if done:
                return True
            step = [pc + 1 for pc in states if prog[pc][0] == "char" and prog[pc][1](ch)]
            if not step:
                return False
            states, done = closure(step, pos + 1)
        return done


_MATCHERS: dict[str, Matcher | None] = {}
_RISKY: dict[str, bool] = {}


def risky(regex: str) -> bool:
    """Whether Python's backtracking ``re`` may take polynomial time of a high degree on
    this regex: two repeats that can cross a ``/`` (``**/a/**/b``), or two within one
    path segment (``*a*b``). The common lines (``*.py[cod]``, ``build/``, ``a/**/b``)
    have at most one of each and stay with ``re``, which is much faster on them."""
    crossing = within = 0
    i, last_class_local = 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            i += 2
            last_class_local = False
            continue
        if c == "[":
            j = i + 1 + (regex[i + 1:i + 2] == "^")
            j += regex[j:j + 1] == "]"
            end = regex.index("]", j)
            last_class_local = regex[i + 1] == "^" and "/" in regex[i + 2:end]
            i = end + 1
            continue
        if c in "*+":
            if last_class_local:
                within += 1
            else:
                crossing += 1
        elif c == "/":
            within = 0
        if crossing >= 2 or within >= 2:
            return True
        last_class_local = False
        i += 1
    return False


def _matches(pattern: Any, path: str) -> bool:
    regex = pattern.regex.pattern if getattr(pattern, "regex", None) is not None else None
    if not isinstance(regex, str):
        return bool(pattern.match_file(path))
    if regex not in _RISKY:
        try:
            _RISKY[regex] = risky(regex)
        except ValueError:
            _RISKY[regex] = True
    if not _RISKY[regex]:
        return bool(pattern.match_file(path))
    if regex not in _MATCHERS:
        try:
            _MATCHERS[regex] = Matcher(regex)
        except (Unmatchable, IndexError, ValueError):
            _MATCHERS[regex] = None
    m = _MATCHERS[regex]
    if m is None:  # outside the subset: Python's re, on paths short enough to bound it
        return len(path) <= 256 and bool(pattern.match_file(path))
    return m.match(path)


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
            if _matches(pattern, sub):
                verdict = pattern.include
        if verdict is not None:
            result = verdict
    return result
