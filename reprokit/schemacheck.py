"""A JSON Schema (2020-12) compiled once into Python closures: is a document valid?

``jsonschema`` walks a schema for every node of a document, tens of microseconds each; a
manifest of 20,000 paper files took it seconds. This compiles the keywords reprokit's own
schemas use into nested functions that answer valid or not in about a microsecond a node.
It gives no messages: when it says invalid, ``jsonschema`` runs to say why (and has the
last word). A schema with any keyword it does not know is not compiled (:class:`Unknown`),
so it never passes what a keyword it skipped would have refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Keywords that say nothing about validity (without a format checker, "format" is one).
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "examples", "default", "format"})
_KNOWN = _ANNOTATIONS | {"type", "$ref", "enum", "const", "anyOf", "oneOf", "allOf", "not", "properties", "required",
                         "additionalProperties", "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength",
                         "pattern", "minimum", "maximum"}


class Unknown(Exception):
    """The schema uses something this compiler does not check."""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    "integer": lambda x: (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and x.is_integer()),
}


def _key(x: Any) -> Any:
    """A hashable stand-in equal for values JSON Schema calls equal: 1 and 1.0 are, True
    and 1 are not, objects by their members whatever their order."""
    if isinstance(x, bool) or x is None:
        return ("b", x)
    if isinstance(x, (int, float)):
        return ("n", int(x) if isinstance(x, float) and x.is_integer() else x)
    if isinstance(x, str):
        return ("s", x)
    if isinstance(x, list):
        return ("a", tuple(_key(v) for v in x))
    if isinstance(x, dict):
        return ("o", frozenset((k, _key(v)) for k, v in x.items()))
    try:
        hash(x)
    except TypeError:
        return ("?", id(x))
    return ("?", x)  # a date or other scalar YAML makes: equal when Python says so


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """A function telling whether a document is valid against ``schema``; raises
    :class:`Unknown` for a schema it cannot check completely."""
    if schema.get("$schema") != DIALECT:  # older drafts read $ref and items otherwise
        raise Unknown(f"$schema {schema.get('$schema')}")
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    compiled: dict[str, Check] = {}
    building: set[str] = set()

    def ref(target: str) -> Check:
        m = re.fullmatch(r"#/(?:\$defs|definitions)/([^/~%]+)", target)
        if not m or m.group(1) not in defs:
            raise Unknown(f"$ref {target}")
        name = m.group(1)
        if name in building:  # a recursive reference: looked up when it runs, once built
            return lambda x: compiled[name](x)
        if name not in compiled:
            building.add(name)
            compiled[name] = build(defs[name])
            building.discard(name)
        return compiled[name]

    def build(s: Any) -> Check:
        if s is True:
            return lambda x: True
        if s is False:
            return lambda x: False
        if not isinstance(s, dict):
            raise Unknown(repr(s))
        unknown = set(s) - _KNOWN
        if unknown:
            raise Unknown(", ".join(sorted(unknown)))
        checks: list[Check] = []
        if "type" in s:
            names = [s["type"]] if isinstance(s["type"], str) else list(s["type"])
            if any(n not in _TYPES for n in names):
                raise Unknown(f"type {names}")
            kinds = [_TYPES[n] for n in names]
            checks.append(kinds[0] if len(kinds) == 1 else lambda x: any(k(x) for k in kinds))
        if "$ref" in s:
            checks.append(ref(s["$ref"]))
        if "enum" in s:
            allowed = {_key(v) for v in s["enum"]}
            checks.append(lambda x: _key(x) in allowed)
        if "const" in s:
            want = _key(s["const"])
            checks.append(lambda x: _key(x) == want)
        if "anyOf" in s:
            some = [build(p) for p in s["anyOf"]]
            checks.append(lambda x: any(p(x) for p in some))
        if "allOf" in s:
            every = [build(p) for p in s["allOf"]]
            checks.append(lambda x: all(p(x) for p in every))
        if "oneOf" in s:
            one = [build(p) for p in s["oneOf"]]
            checks.append(lambda x: sum(1 for p in one if p(x)) == 1)
        if "not" in s:
            negated = build(s["not"])
            checks.append(lambda x: not negated(x))
        checks += _object(s, build) + _array(s, build) + _string(s) + _number(s)
        if not checks:
            return lambda x: True
        return _every(checks)

    return build(dict(schema))


def _every(checks: list[Check]) -> Check:
    """All of ``checks``, in order, stopping at the first that fails: a loop, not a
    generator, since it runs for every node of a document."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)
    every = tuple(checks)

    def run(x: Any) -> bool:
        for c in every:  # noqa: SIM110 (a generator costs a frame per node)
            if not c(x):
                return False
        return True
    return run


def _object(s: dict[str, Any], build: Callable[[Any], Check]) -> list[Check]:
    checks: list[Check] = []
    if "required" in s:
        required = frozenset(s["required"])
        checks.append(lambda x: not isinstance(x, dict) or required <= x.keys())
    props = {k: build(v) for k, v in s.get("properties", {}).items()}
    extra = build(s["additionalProperties"]) if "additionalProperties" in s else None
    if props or extra is not None:
        def members(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for k, v in x.items():
                p = props.get(k)
                if p is not None:
                    if not p(v):
                        return False
                elif extra is not None and not extra(v):
                    return False
            return True
        checks.append(members)
    return checks


def _sized(s: dict[str, Any], low_key: str, high_key: str, kind: type[list[Any]] | type[str]) -> list[Check]:
    """``minItems``/``maxItems`` of an array, ``minLength``/``maxLength`` of a string."""
    checks: list[Check] = []
    if low_key in s:
        low = s[low_key]
        checks.append(lambda x: not isinstance(x, kind) or len(x) >= low)
    if high_key in s:
        high = s[high_key]
        checks.append(lambda x: not isinstance(x, kind) or len(x) <= high)
    return checks


def _array(s: dict[str, Any], build: Callable[[Any], Check]) -> list[Check]:
    checks: list[Check] = []
    if "items" in s:
        each = build(s["items"])
        def items(x: Any) -> bool:
            if isinstance(x, list):
                for v in x:
                    if not each(v):
                        return False
            return True
        checks.append(items)
    checks += _sized(s, "minItems", "maxItems", list)
    if s.get("uniqueItems"):
        checks.append(lambda x: not isinstance(x, list) or len({_key(v) for v in x}) == len(x))
    return checks


def _string(s: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    checks += _sized(s, "minLength", "maxLength", str)
    if "pattern" in s:
        search = re.compile(s["pattern"]).search
        checks.append(lambda x: not isinstance(x, str) or search(x) is not None)
    return checks


def _number(s: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "minimum" in s:
        low = s["minimum"]
        checks.append(lambda x: not _is_number(x) or x >= low)
    if "maximum" in s:
        high = s["maximum"]
        checks.append(lambda x: not _is_number(x) or x <= high)
    return checks
