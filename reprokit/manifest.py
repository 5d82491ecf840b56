"""``reprokit.yaml``: the bundle's manifest, validated against ``schemas/manifest.schema.json``.

It says what the bundle holds and why: the paper, the target Python and platform, the
nixpkgs pin, every import and its distribution, every package with its provider and
artifacts, the entry points and their recorded outputs, and every file of ``paper/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprokit import schemas

# 2: outputs carry their rule and what archive-time runs measured; format 1 still validates.
FORMAT = 2


def validate(data: Any, where: str = "reprokit.yaml") -> None:
    schemas.check(data, "manifest.schema.json", where)


def render(data: dict[str, Any]) -> str:
    validate(data)
    return schemas.dump(data, f"reprokit manifest: what this bundle holds and how it was made. Schema: reprokit manifest format {FORMAT}.")


def read(path: Path) -> dict[str, Any]:
    data = schemas.load(path)
    validate(data, str(path))
    return data  # type: ignore[no-any-return]
