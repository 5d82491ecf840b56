"""The YAML documents reprokit writes (lock, manifest) and the JSON Schemas they obey.

One place to dump and load them, and to validate against ``reprokit/data/*.schema.json``
(also linked from ``schemas/``), so both documents fail the same way: a one-line error
naming the file and the place in it.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from reprokit import data, lazy, schemacheck
from reprokit.errors import InputError

if TYPE_CHECKING:
    import jsonschema
else:
    jsonschema = lazy.module("jsonschema")


class _Resolver(VersionedResolver):
    """ruamel's resolver, reading the document's YAML version once. Its own looks the
    version up for every scalar (three attribute lookups that raise, with libyaml's
    parser), a fifth of the time a large manifest takes to load; a document has one
    version, set by its directives before its first scalar."""

    _version: Any = None

    @property
    def processing_version(self) -> Any:
        if self._version is None:
            self._version = VersionedResolver.processing_version.fget(self)  # type: ignore[attr-defined]
        return self._version


_STR = "tag:yaml.org,2002:str"


def plain_is_str(value: str) -> bool:
    """Whether ``value``, written as a plain scalar, reads as a string (not a number, a
    date, a boolean or null) in a document without directives."""
    resolver = _plain_resolver()
    # The resolver tries only the patterns filed under a scalar's first character (and
    # those under None, for any first character).
    table = resolver.versioned_resolver
    if value[:1] not in table and None not in table:
        return True
    return resolver.resolve(ScalarNode, value, (True, False)) == _STR  # type: ignore[no-any-return]


@functools.cache
def _plain_resolver() -> _Resolver:
    return _Resolver()


def _yaml() -> YAML:
    yaml = YAML(typ="safe")
    yaml.Resolver = _Resolver
    return yaml


def load_schema(name: str) -> dict[str, Any]:
    return data.load_json(name)  # type: ignore[no-any-return]


@functools.cache
def _compiled(schema_name: str) -> schemacheck.Check | None:
    try:
        return schemacheck.compile_schema(load_schema(schema_name))
    except schemacheck.Unknown:
        return None


def check(data: Any, schema_name: str, where: str) -> None:
    """Refuse ``data`` that does not match the schema, in one line naming the place. The
    schema's compiled form answers first; ``jsonschema`` says why when it does not pass."""
    fast = _compiled(schema_name)
    if fast is not None and fast(data):
        return
    try:
        jsonschema.validate(data, load_schema(schema_name))
    except jsonschema.ValidationError as exc:
        at = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise InputError(f"{where}: does not match {schema_name} at {at}: {exc.message}") from None


def dump(data: Any, header: str) -> str:
    """Block-style YAML with a comment line on top; key order kept."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 200
    buf = io.StringIO()
    buf.write(f"# {header}\n")
    yaml.dump(data, buf)
    return buf.getvalue()


# Far above any real manifest or lock (a paper of 100,000 files writes about 15 MB).
MAX_BYTES = 128 * 1024 * 1024
# The YAML parser takes time that grows with the square of the nesting, and a node costs it
# tens of microseconds: a document is measured before it is parsed. reprokit's own nest
# less than ten levels deep and hold a few nodes per file of the paper.
MAX_DEPTH = 64
MAX_COLUMN = 256
MAX_NODES = 1_000_000
_BLOCK_PREFIX = re.compile(r"[ ]*(?:(?:-|\?|:)[ ]+)*")
_FLOW_TOKEN = re.compile(r"""[\[\]{},]|"(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?|(?:^|(?<=[ \t]))#.*""")


def _shape(text: str, where: Path | str) -> None:
    """Refuse, in one line, a document nested deeper or with more nodes than any reprokit
    writes (or a person does), in time linear in its size and before the parser sees it."""
    nodes = 0
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        column = _BLOCK_PREFIX.match(line).end()  # type: ignore[union-attr]  # matches the empty string
        if column > MAX_COLUMN and line[column:column + 1] not in ("", "#"):
            raise InputError(f"{where}:{number}: nested deeper than any YAML document reprokit reads (starts at column {column})")
        nodes += 1
        if depth or "[" in line or "{" in line:
            depth, nodes = _flow(line, number, depth, nodes, where)
        if nodes > MAX_NODES:
            raise InputError(f"{where}:{number}: more than {MAX_NODES:,} nodes; larger than any YAML document reprokit reads")


def _flow(line: str, number: int, depth: int, nodes: int, where: Path | str) -> tuple[int, int]:
    """The flow nesting after ``line`` and the nodes counted so far."""
    for m in _FLOW_TOKEN.finditer(line):
        token = m.group(0)
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError(f"{where}:{number}: nested deeper than {MAX_DEPTH} levels; deeper than any YAML document reprokit reads")
        elif token in "]}":
            depth = max(depth - 1, 0)
        elif token == ",":
            nodes += 1
    return depth, nodes


def load(path: Path) -> Any:
    """A YAML document reprokit wrote. Anchors and aliases are refused: reprokit never
    writes them, and a few lines of them expand to billions of nodes (billion laughs)."""
    return parse_yaml(read_text(path), path)


def read_text(path: Path) -> str:
    """The text of a YAML document, refused when it is larger than any reprokit writes or
    is not UTF-8."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: larger than {MAX_BYTES >> 20} MiB; not a document reprokit wrote")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    return text


def parse_yaml(text: str, where: Path | str) -> Any:
    """A YAML document (reprokit's own, or a paper's CITATION.cff or environment.yml),
    bounded in nesting and size before it is parsed. Anchors and aliases are refused:
    reprokit never writes them, people seldom do, and a few lines of them expand to
    billions of nodes (billion laughs)."""
    _shape(text, where)
    yaml = _yaml()
    try:
        # Anchors start with '&' and aliases with '*': without either character the text
        # has none, and the events need not be read twice.
        if "&" in text or "*" in text:
            for event in yaml.parse(text):
                if getattr(event, "anchor", None) is not None:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    raise InputError(f"{where}:{line}: YAML anchors and aliases are refused (reprokit never writes them)")
        return yaml.load(text)
    except InputError:
        raise
    except Exception as exc:  # ruamel raises many YAML error types
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark is not None else f"{where}"
        raise InputError(f"{at}: not valid YAML ({getattr(exc, 'problem', None) or exc.__class__.__name__})") from None
