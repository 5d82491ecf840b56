"""``reprokit.yaml``: the bundle's manifest, validated against ``schemas/manifest.schema.json``.

It says what the bundle holds and why: the paper, the target Python and platform, the
nixpkgs pin, every import and its distribution, every package with its provider and
artifacts, the entry points and their recorded outputs, and every file of ``paper/``.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML

from reprokit.errors import InputError

FORMAT = 1


def schema() -> dict[str, Any]:
    return json.loads(resources.files("reprokit.data").joinpath("manifest.schema.json").read_text("utf-8"))


def validate(data: Any, where: str = "reprokit.yaml") -> None:
    try:
        jsonschema.validate(data, schema())
    except jsonschema.ValidationError as exc:
        at = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise InputError(f"{where}: does not match the manifest schema at {at}: {exc.message}") from None


def render(data: dict[str, Any]) -> str:
    validate(data)
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 200
    buf = io.StringIO()
    buf.write("# reprokit manifest: what this bundle holds and how it was made. Schema: reprokit manifest format 1.\n")
    yaml.dump(data, buf)
    return buf.getvalue()


def read(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except Exception as exc:  # ruamel's several YAML error types
        raise InputError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    validate(data, str(path))
    return data  # type: ignore[no-any-return]
