"""The skeleton of a source: the statements that can hold an import, every other one
blanked line for line, so that ``ast`` parses a few lines instead of a whole file.

``ast.parse`` builds a node for every expression of a file, and imports are a few lines of
it. The skeleton keeps the statements that can hold an import (whole, except classes and
functions, whose bodies are skeletonised in turn) and blanks the others line for line, so
that line numbers stay and the kept statements parse to the same nodes. Statements start
on lines that begin at the block's indentation outside strings; a line that only looks
like a start (a continuation inside brackets) leaves a kept statement with unbalanced
brackets, and the whole file is then parsed instead. (Such a statement may well parse:
two halves of a bracket split by a blanked run join into valid code with other nesting.)
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re

_STRING_OR_COMMENT = re.compile(
    r"#[^\n]*"
    r'|"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*(?:"""|\Z)'
    r"|'''[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*(?:'''|\Z)"
    r'|"[^"\\\n]*(?:\\[\s\S][^"\\\n]*)*"?'
    r"|'[^'\\\n]*(?:\\[\s\S][^'\\\n]*)*'?"
)
# Where an import may start; false alarms only keep more. (Patterns that begin with one
# literal character are searched several times faster by ``re`` than alternatives.)
_CANDIDATES = (
    re.compile(r"\n[ \t]*(?:import|from)\b"),
    re.compile(r";[ \t]*(?:import|from)\b"),
    re.compile(r":[ \t]*(?:import|from)\b"),
)
_DYNAMIC = re.compile(r"import_module|__import__")
_ALIAS = re.compile(r"import_module[ \t]+as[ \t]+(\w+)")
# Python 2 statements: the full parse rejects them and the tokenizer reads the file (a
# skeleton could parse and hide that the file is not Python 3).
_PYTHON2 = (
    re.compile(r"\n[ \t]*(?:print[ \t]+[\"'\w>]|exec[ \t]+[\"'])"),
    re.compile(r"except\b[^:\n]*,[ \t]*\w+[ \t]*:"),
)
_CLAUSE = re.compile(r"(?:else|elif|except|finally)\b")
# A class or function header on one line: its body can be skeletonised in turn.
_BLOCK_HEADER = re.compile(r"[ \t]*(?:class|def|async[ \t]+def)\b[^\n]*:[ \t]*(?:#[^\n]*)?\r?\n")
_BODY_INDENT = re.compile(r"\n([ \t]+)[^ \t\r\n#]")


@functools.lru_cache(maxsize=64)
def _line_start(indent: str) -> re.Pattern[str]:
    """A line at exactly ``indent`` that starts something other than a comment or a
    closing bracket (the match is the newline before it and the indentation)."""
    return re.compile("\n" + re.escape(indent) + r"(?![ \t\f\r\n#)\]}])")


@functools.lru_cache(maxsize=64)
def _shallower(indent: str) -> re.Pattern[str]:
    """A line with code that does not start with ``indent``."""
    return re.compile("\n(?!" + re.escape(indent) + r")[ \t]*[^ \t\f\r\n#]")


def _multiline_strings(text: str) -> list[tuple[int, int]]:
    """Spans of the string literals that cross a line break."""
    spans = []
    for m in _STRING_OR_COMMENT.finditer(text):
        start, end = m.span()
        if text[start] != "#" and text.find("\n", start, end) >= 0:
            spans.append((start, end))
    return spans


class _Unbalanced(Exception):
    """A kept statement opens a bracket it does not close, or closes one it did not open."""


_BRACKETS = str.maketrans({c: None for c in "()[]{}"})


def _balanced(chunk: str) -> bool:
    code = _STRING_OR_COMMENT.sub("", chunk)
    if len(code.translate(_BRACKETS)) == len(code):
        return True
    depth = 0
    for ch in code:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


class _Skeleton:
    def __init__(self, text: str) -> None:
        self.text = text  # starts with "\n" so that every line follows a newline
        self.candidates = sorted(
            [m.end() - 1 for pattern in _CANDIDATES for m in pattern.finditer(text)] + dynamic_positions(text)
        )
        # Strings that span lines: no statement starts inside them.
        self.spans = _multiline_strings(text)
        self.span_starts = [s for s, _ in self.spans]

    def in_string(self, pos: int) -> bool:
        i = bisect.bisect_right(self.span_starts, pos) - 1
        return i >= 0 and self.spans[i][1] > pos

    def starts(self, lo: int, hi: int, indent: str) -> list[int]:
        """Statement starts (line beginnings) at ``indent`` in ``text[lo:hi]``."""
        text = self.text
        out = []
        for m in _line_start(indent).finditer(text, lo - 1, hi - 1):
            pos = m.start() + 1
            if (
                _CLAUSE.match(text, m.end())
                or text[pos - 2 : pos] == "\\\n"
                or text[pos - 3 : pos] == "\\\r\n"
                or self.in_string(pos)
            ):
                continue
            out.append(pos)
        return out

    def block(self, lo: int, hi: int, indent: str, out: list[str]) -> None:
        """Append the skeleton of the statements at ``indent`` in ``text[lo:hi]``."""
        bounds = [lo, *(p for p in self.starts(lo, hi, indent) if p > lo), hi]
        cands = self.candidates
        c = bisect.bisect_left(cands, lo)
        run_start = -1
        for a, b in itertools.pairwise(bounds):
            while c < len(cands) and cands[c] < a:
                c += 1
            if c < len(cands) and cands[c] < b:
                if run_start >= 0:
                    self.blank(run_start, a, indent, out)
                    run_start = -1
                self.statement(a, b, indent, out)
            elif run_start < 0:
                run_start = a
        if run_start >= 0:
            self.blank(run_start, hi, indent, out)

    def blank(self, lo: int, hi: int, indent: str, out: list[str]) -> None:
        newlines = self.text.count("\n", lo, hi)
        # A block must keep a statement; the module need not.
        out.append((indent + "pass" if indent else "") + "\n" * newlines)

    def statement(self, lo: int, hi: int, indent: str, out: list[str]) -> None:
        """A kept statement: whole, or for a class or function, its header and the
        skeleton of its body."""
        text = self.text
        header = _BLOCK_HEADER.match(text, lo)
        if header:
            body = _BODY_INDENT.match(text, header.end() - 1, hi)
            inner = body.group(1) if body else ""
            if (
                body
                and len(inner) > len(indent)
                and inner.startswith(indent)
                and all(self.in_string(m.start() + 1) for m in _shallower(inner).finditer(text, header.end() - 1, hi - 1))
            ):
                self.keep(lo, header.end(), out)
                self.block(header.end(), hi, inner, out)
                return
        self.keep(lo, hi, out)

    def keep(self, lo: int, hi: int, out: list[str]) -> None:
        chunk = self.text[lo:hi]
        if not _balanced(chunk):
            raise _Unbalanced
        out.append(chunk)


def skeleton(source: str) -> str | None:
    """``source`` with the statements that cannot hold an import blanked out (the same
    lines); None when the whole source should be parsed."""
    text = "\n" + source
    if any(pattern.search(text) for pattern in _PYTHON2):
        return None
    sk = _Skeleton(text)
    if not sk.candidates:
        return "\n" * source.count("\n")
    out: list[str] = []
    try:
        sk.block(1, len(text), "", out)
    except _Unbalanced:
        return None
    return "".join(out)


def dynamic_positions(text: str) -> list[int]:
    """Offsets of ``import_module``, ``__import__`` and calls of their aliases, sorted."""
    if "import_module" not in text and "__import__" not in text:
        return []
    found = [m.start() for m in _DYNAMIC.finditer(text)]
    # Calls through an alias: ``from importlib import import_module as load``.
    aliases = _ALIAS.findall(text)
    if aliases:
        calls = re.compile(r"\b(?:" + "|".join(map(re.escape, aliases)) + r")[ \t]*\(")
        found += [m.start() for m in calls.finditer(text)]
    return sorted(found)

