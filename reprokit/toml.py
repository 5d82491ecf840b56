"""TOML: read with the standard library's ``tomllib`` (``tomli`` before Python 3.11), and
write the small part of it reprokit writes (``pylock.toml``).

The writer knows strings, integers, booleans, UTC datetimes, lists of those, tables of
those (written inline) and lists of tables (``[[name]]``); anything else is a bug.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Mapping
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    """The document; a :class:`TOMLDecodeError` for anything tomllib cannot read, nesting
    too deep for its recursive parser included."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except RecursionError:
        raise TOMLDecodeError("nested deeper than can be read (arrays or inline tables within each other)") from None
    return data


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(k: str) -> str:
    return k if _BARE.fullmatch(k) else _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dt.datetime):
        if v.utcoffset() != dt.timedelta(0):
            raise ValueError(f"{v!r}: reprokit writes UTC datetimes only")
        return v.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML for {type(v).__name__}")


def _is_tables(v: object) -> bool:
    return isinstance(v, list | tuple) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _table(data: Mapping[str, Any], path: str, lines: list[str]) -> None:
    """Plain values (and inline tables) first, then each list of tables as ``[[path.key]]``."""
    for k, v in data.items():
        if not _is_tables(v):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in data.items():
        if _is_tables(v):
            name = f"{path}.{_key(k)}" if path else _key(k)
            for item in v:
                lines += ["", f"[[{name}]]"]
                _table(item, name, lines)


def dumps(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _table(data, "", lines)
    return "\n".join(lines) + "\n"
