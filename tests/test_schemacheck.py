"""The compiled schema check gives jsonschema's verdict, on reprokit's documents and on
every edit of them, and never compiles what it cannot check."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reprokit import schemacheck, schemas
from tests.helpers import EXPLORE

GOLDEN = Path(__file__).parent / "golden"
DOCS = {"manifest.schema.json": [GOLDEN / "reprokit.yaml", GOLDEN / "reprokit-format-1.yaml"]}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False, width=16),
                    st.sampled_from(["", "x", "a" * 64, "0" * 64, "../up", "/abs", "wheel", "sdist", "json", "3.8", "sha256-" + "A" * 43 + "=",
                                     "swh:1:cnt:" + "0" * 40, "x86_64-linux"]),
                    st.text(max_size=8), st.just(dt.date(2020, 1, 2)))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["path", "sha256", "kind", "name", "x"]), inner, max_size=3)),
                      max_leaves=8)


def _verdict(schema: dict[str, Any], doc: Any) -> bool:
    return jsonschema.validators.validator_for(schema)(schema).is_valid(doc)


def _places(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member or item of ``doc``."""
    out = [at]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _places(v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _places(v, (*at, i))
    return out


def _edited(doc: Any, place: tuple[Any, ...], how: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not place:
        return value
    parent = doc
    for step in place[:-1]:
        parent = parent[step]
    last = place[-1]
    if how == "set":
        parent[last] = value
    elif how == "drop":
        del parent[last]
    elif how == "twice" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif how == "add" and isinstance(parent, dict):
        parent["unexpected"] = value
    return doc


@pytest.mark.parametrize("name", ["manifest.schema.json", "lock.schema.json"])
def test_reprokit_schemas_compile(name: str) -> None:
    assert schemacheck.compile_schema(schemas.load_schema(name)) is not None


def test_a_schema_with_a_keyword_it_does_not_check_is_not_compiled() -> None:
    with pytest.raises(schemacheck.Unknown, match="patternProperties"):
        schemacheck.compile_schema({"$schema": schemacheck.DIALECT, "patternProperties": {"^x": False}})
    with pytest.raises(schemacheck.Unknown, match="schema"):  # draft-07 reads $ref's siblings otherwise
        schemacheck.compile_schema(schemas.load_schema("cff-1.2.0.schema.json"))
    with pytest.raises(schemacheck.Unknown, match="ref"):
        schemacheck.compile_schema({"$schema": schemacheck.DIALECT, "$ref": "other.json#/x"})


@pytest.mark.parametrize("golden", DOCS["manifest.schema.json"], ids=lambda p: p.name)
@settings(max_examples=300 * EXPLORE, deadline=None)
@given(data=st.data())
def test_every_edit_of_a_manifest_gets_jsonschemas_verdict(golden: Path, data: st.DataObject) -> None:
    schema = schemas.load_schema("manifest.schema.json")
    fast = schemacheck.compile_schema(schema)
    doc = YAML(typ="safe").load(golden.read_text())
    assert fast(doc) and _verdict(schema, doc)
    for _ in range(data.draw(st.integers(1, 3))):
        place = data.draw(st.sampled_from(_places(doc)))
        doc = _edited(doc, place, data.draw(st.sampled_from(["set", "drop", "twice", "add"])), data.draw(values))
    assert fast(doc) == _verdict(schema, doc)


@settings(max_examples=300 * EXPLORE, deadline=None)
@given(doc=values)
def test_any_document_gets_jsonschemas_verdict(doc: Any) -> None:
    for name in ("manifest.schema.json", "lock.schema.json"):
        schema = schemas.load_schema(name)
        assert schemacheck.compile_schema(schema)(doc) == _verdict(schema, doc)


@pytest.mark.parametrize(("schema", "doc", "valid"), [
    ({"enum": [1]}, 1.0, True), ({"enum": [1]}, True, False), ({"const": {"a": [1]}}, {"a": [1.0]}, True),
    ({"uniqueItems": True}, [1, 1.0], False), ({"uniqueItems": True}, [1, True], True), ({"uniqueItems": True}, [{"a": 1}, {"a": 1}], False),
    ({"type": "integer"}, 2.0, True), ({"type": "integer"}, True, False), ({"type": "number"}, False, False),
    ({"type": ["string", "null"]}, None, True), ({"pattern": "^a"}, 5, True), ({"minimum": 0}, "x", True),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, False), ({"not": {"type": "string"}}, "x", False),
    ({"$defs": {"n": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/n"}}]}}, "$ref": "#/$defs/n"}, [[None, [None]]], True),
    ({"$defs": {"n": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/n"}}]}}, "$ref": "#/$defs/n"}, [[None, [1]]], False),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False, "required": ["a"]}, {"a": "x", "b": 1}, False),
    ({"uniqueItems": True}, [dt.date(2020, 1, 1), dt.date(2020, 1, 1)], False),
])
def test_the_corners_of_equality_and_types(schema: dict[str, Any], doc: Any, valid: bool) -> None:
    full = {"$schema": schemacheck.DIALECT, **schema}
    assert _verdict(full, doc) == valid
    assert schemacheck.compile_schema(full)(doc) == valid
