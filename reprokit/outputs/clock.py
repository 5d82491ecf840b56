"""Time stamps in JSON and tables: values that say when a run wrote them, not what it found.

A number that is the epoch time (seconds, milliseconds, microseconds or nanoseconds) or an
ISO 8601 date-time lying within the run that wrote it is a time stamp, as a person reading
the file sees at once. The places that hold one in every archive-time run (a JSON path,
array indices read as ``[*]``, or a table column) are learned into the output's rule, and
a rerun is compared there by presence and type only.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

# A run's window is widened by this much on each side: a time written with whole seconds
# reads up to a second early, and clocks are read at slightly different moments.
SLACK = 2.0
_EPOCH_SCALES = (1.0, 1e3, 1e6, 1e9)
# An ISO date with a time of day: a date alone names a day, not a moment of the run.
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?")
_INDEX = re.compile(r"\[\d+\]")

Window = tuple[float, float]  # epoch seconds: when the run started and ended


def place(where: str) -> str:
    """A JSON path with its array indices as ``[*]``: one place for every element."""
    return _INDEX.sub("[*]", where)


def moments(value: Any) -> list[float]:
    """The epoch seconds ``value`` may stand for: a number at each scale, a naive ISO
    date-time as UTC and as local time; empty when it is neither."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        x = float(value)
        return [x / s for s in _EPOCH_SCALES] if math.isfinite(x) and x > 0 else []
    if isinstance(value, str):
        text = value.strip()
        if not _ISO.fullmatch(text):
            return []
        try:
            when = dt.datetime.fromisoformat(text.replace(",", "."))
        except ValueError:
            return []
        if when.tzinfo is not None:
            return [when.timestamp()]
        return [when.replace(tzinfo=dt.timezone.utc).timestamp(), when.timestamp()]
    return []


def is_stamp(value: Any, window: Window) -> bool:
    start, end = window
    return any(start - SLACK <= t <= end + SLACK for t in moments(value))


def looks_like_stamp(value: Any) -> bool:
    """A value of a time stamp's form (a positive number, an ISO date-time), whenever."""
    return bool(moments(value))


def number_or_text(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


def stamped(leaves_per_run: Sequence[list[tuple[str, Any]]], windows: Sequence[Window]) -> tuple[str, ...]:
    """The places where every value, in every run, is a time within that run's window."""
    found: set[str] | None = None
    for leaves, window in zip(leaves_per_run, windows, strict=True):
        good: dict[str, bool] = {}
        for where, value in leaves:
            good[where] = good.get(where, True) and is_stamp(value, window)
        here = {w for w, ok in good.items() if ok}
        found = here if found is None else found & here
    return tuple(sorted(found or ()))
