"""The YAML documents reprokit writes (lock, manifest) and the JSON Schemas they obey.

One place to dump and load them, and to validate against ``reprokit/data/*.schema.json``
(also linked from ``schemas/``), so both documents fail the same way: a one-line error
naming the file and the place in it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML

from reprokit import data
from reprokit.errors import InputError


def load_schema(name: str) -> dict[str, Any]:
    return data.load_json(name)  # type: ignore[no-any-return]


def check(data: Any, schema_name: str, where: str) -> None:
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


def load(path: Path) -> Any:
    try:
        return YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except Exception as exc:  # ruamel raises many YAML error types
        raise InputError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
