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


# Far above any real manifest or lock (a paper of 100,000 files writes about 15 MB).
MAX_BYTES = 128 * 1024 * 1024


def load(path: Path) -> Any:
    """A YAML document reprokit wrote. Anchors and aliases are refused: reprokit never
    writes them, and a few lines of them expand to billions of nodes (billion laughs)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: larger than {MAX_BYTES >> 20} MiB; not a document reprokit wrote")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    yaml = YAML(typ="safe")
    try:
        for event in yaml.parse(text):
            if getattr(event, "anchor", None) is not None:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise InputError(f"{path}:{line}: YAML anchors and aliases are refused (reprokit never writes them)")
        return yaml.load(text)
    except InputError:
        raise
    except Exception as exc:  # ruamel raises many YAML error types
        raise InputError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
