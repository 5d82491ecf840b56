"""Small words for what people read and write: counts with their noun, times as people
say them (and write them: ``90m``, ``2h``)."""

from __future__ import annotations

import re

from reprokit.errors import InputError


def counted(n: int, noun: str) -> str:
    """``1 file``, ``3 files``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 01 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


_DURATION = re.compile(r"(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?")


def parse_duration(value: object, where: str) -> int:
    """Seconds from ``5400``, ``"90m"``, ``"1h30m"`` or ``"45s"``; a one-line error
    naming ``where`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit() and int(text) > 0:
            return int(text)
        m = _DURATION.fullmatch(text)
        if m and any(m.groups()):
            seconds = int(m.group(1) or 0) * 3600 + int(m.group(2) or 0) * 60 + int(m.group(3) or 0)
            if seconds > 0:
                return seconds
    raise InputError(f"{where}: a time must be a number of seconds or like \"90m\", \"2h\" or \"1h30m\", not {value!r}")
