"""JSON compared by value: the same keys (in any order), the same lengths and types,
strings equal, numbers within the rule. Places are JSON paths (``$.model.slope``); at the
rule's time stamps (:mod:`.clock`) presence and type are compared, not the value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from reprokit.errors import InputError
from reprokit.outputs import clock
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Tally

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"), parse_constant=lambda c: {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[c])
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text, so not JSON") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{where}: nested deeper than can be read as JSON") from None


def key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if _IDENT.match(key) else f"{parent}[{json.dumps(key)}]"


def _kind(x: Any) -> str:
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int | float):
        return "number"
    if x is None:
        return "null"
    if isinstance(x, dict):
        return "object"
    if isinstance(x, list):
        return "array"
    return "string" if isinstance(x, str) else type(x).__name__


def _show(x: Any) -> str:
    return json.dumps(x)[:120]


def walk(a: Any, b: Any, where: str, tally: Tally) -> None:
    ka, kb = _kind(a), _kind(b)
    if tally.rule.stamps and ka != "object" and ka != "array" and clock.place(where) in tally.rule.stamps:
        stamp(a, b, where, tally)
    elif ka != kb:
        tally.mismatch(where, _show(a), _show(b), f"{ka} recorded, {kb} in the rerun")
    elif ka == "number":
        tally.number(float(a), float(b), where, shown=(_show(a), _show(b)))
    elif ka == "object":
        for key in a:
            if key in b:
                walk(a[key], b[key], key_path(where, key), tally)
            else:
                tally.mismatch(key_path(where, key), _show(a[key]), "(absent)", "key missing from the rerun")
        for key in b:
            if key not in a:
                tally.mismatch(key_path(where, key), "(absent)", _show(b[key]), "key not in the recorded output")
    elif ka == "array":
        if len(a) != len(b):
            tally.mismatch(where, f"{len(a)} items", f"{len(b)} items", "arrays differ in length")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            walk(x, y, f"{where}[{i}]", tally)
    else:
        tally.compared += 1
        if a != b:
            tally.mismatch(where, _show(a), _show(b))


def stamp(a: Any, b: Any, where: str, tally: Tally) -> None:
    """A time stamp's place: the rerun must hold a time stamp of the same type there."""
    tally.compared += 1
    if _kind(a) != _kind(b) or not clock.looks_like_stamp(b):
        tally.mismatch(where, _show(a), _show(b), "a time stamp was recorded here")
    elif a != b:
        tally.note(f"{clock.place(where)}: time stamps, compared by presence and type")


def leaves(doc: Any, where: str = "$") -> Iterator[tuple[str, Any]]:
    """Every scalar of a JSON document with its place, indices as ``[*]``."""
    stack = [(where, doc)]
    while stack:
        at, x = stack.pop()
        if isinstance(x, dict):
            stack.extend((key_path(at, str(k)), v) for k, v in x.items())
        elif isinstance(x, list):
            stack.extend((f"{at}[*]", v) for v in x)
        else:
            yield at, x


def compare_values(a: Any, b: Any, rule: Rule, tally: Tally | None = None, root: str = "$") -> Tally:
    tally = tally or Tally(rule)
    walk(a, b, root, tally)
    return tally


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> Tally:
    return compare_values(parse(recorded, f"{path} (recorded)"), parse(rerun, f"{path} (rerun)"), rule)
