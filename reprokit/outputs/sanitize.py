"""Sanitizers: rewrite what changes on every run without being a result (memory
addresses, time stamps, absolute paths, durations, random ids) into fixed placeholders.

As nbval does with regexes, but by name, so a rule can list the ones it applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reprokit.outputs.rule import Sanitizer

_PATTERNS: dict[Sanitizer, tuple[tuple[re.Pattern[str], str], ...]] = {
    "addresses": ((re.compile(r"\b0x[0-9a-fA-F]{6,16}\b"), "0xADDRESS"),),
    "timestamps": (
        # 2024-02-15 10:11:12.345+01:00, 2024-02-15T10:11:12Z, 2024/02/15 10:11
        (re.compile(r"\b\d{4}[-/]\d{2}[-/]\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"), "TIMESTAMP"),
        # Thu Feb 15 10:11:12 2024 (time.ctime, asctime)
        (re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}\b"),
         "TIMESTAMP"),
        (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "TIME"),
    ),
    "paths": (
        # An absolute path of two or more parts, after a quote, a space or the line start.
        (re.compile(r"(?:(?<=^)|(?<=[\s'\"(=]))(?:/[\w.+~@-]+){2,}/?", re.MULTILINE), "/PATH"),
        (re.compile(r"\b[A-Za-z]:\\(?:[\w.+~@ -]+\\)+[\w.+~@-]*"), r"C:\\PATH"),
    ),
    "durations": (
        (re.compile(r"^(CPU times|Wall time):.*$", re.MULTILINE), r"\1: DURATION"),
        (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s|sec|seconds|min)\b(?: ± [\d.]+\s?(?:ns|µs|us|ms|s))?"), "DURATION"),
        (re.compile(r"\b\d+(?:\.\d+)?\s?(?:it/s|s/it)\b"), "RATE"),
    ),
    # uuid4 ids, as plotly and bokeh give the elements of every figure they draw
    "uuids": ((re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "UUID"),),
}


def sanitize(text: str, names: Iterable[Sanitizer]) -> str:
    for name in names:
        for pattern, replacement in _PATTERNS[name]:
            text = pattern.sub(replacement, text)
    return text


def which_change(a: str, b: str, names: Iterable[Sanitizer]) -> list[Sanitizer]:
    """The sanitizers that rewrite something in ``a`` or ``b``."""
    return [n for n in names if sanitize(a, [n]) != a or sanitize(b, [n]) != b]
