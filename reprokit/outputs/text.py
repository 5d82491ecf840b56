"""Text compared as a scientist reads it: the words must match, the numbers within a
tolerance.

Each line is split into numbers and the text between them; the text between must be
equal (after the rule's sanitizers), the numbers agree under the rule.
"""

from __future__ import annotations

import re

from reprokit.outputs.rule import Rule
from reprokit.outputs.sanitize import sanitize
from reprokit.outputs.verdict import Tally

NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])|(?<![\w])[-+]?(?:nan|NaN|inf|Inf|infinity|Infinity)(?!\w)"
)


def split(line: str) -> tuple[list[str], list[str]]:
    """The numbers of a line and the text around them (one more text part than numbers)."""
    texts: list[str] = []
    numbers: list[str] = []
    last = 0
    for m in NUMBER.finditer(line):
        texts.append(line[last : m.start()])
        numbers.append(m.group())
        last = m.end()
    texts.append(line[last:])
    return texts, numbers


def compare_lines(recorded: str, rerun: str, rule: Rule, tally: Tally, where: str) -> None:
    """Compare two texts line by line; ``where`` prefixes each place ("cell 3, ")."""
    a = sanitize(recorded, rule.sanitize).splitlines()
    b = sanitize(rerun, rule.sanitize).splitlines()
    # Trailing blank lines are layout, not content.
    while a and not a[-1].strip():
        a.pop()
    while b and not b[-1].strip():
        b.pop()
    for n, (la, lb) in enumerate(zip(a, b, strict=False), 1):
        ta, na = split(la.rstrip())
        tb, nb = split(lb.rstrip())
        if ta != tb or len(na) != len(nb):
            tally.mismatch(f"{where}line {n}", la.strip(), lb.strip(), "the text differs")
            continue
        for i, (xa, xb) in enumerate(zip(na, nb, strict=True), 1):
            label = f"{where}line {n}" + (f", number {i}" if len(na) > 1 else "")
            tally.number(float(xa), float(xb), label, shown=(xa, xb))
    if len(a) != len(b):
        n = min(len(a), len(b)) + 1
        extra = (a if len(a) > len(b) else b)[n - 1]
        tally.mismatch(f"{where}line {n}", extra.strip() if len(a) > len(b) else "(no line)",
                       extra.strip() if len(b) > len(a) else "(no line)",
                       f"{len(a)} lines recorded, {len(b)} in the rerun")


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> Tally:
    tally = Tally(rule)
    compare_lines(recorded.decode("utf-8", errors="replace"), rerun.decode("utf-8", errors="replace"), rule, tally, "")
    return tally
