"""``reprokit.yaml``: the bundle's manifest, validated against ``schemas/manifest.schema.json``.

It says what the bundle holds and why: the paper, the target Python and platform, the
nixpkgs pin, every import and its distribution, every package with its provider and
artifacts, the entry points and their recorded outputs, and every file of ``paper/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprokit import schemas

FORMAT = 1


def validate(data: Any, where: str = "reprokit.yaml") -> None:
    schemas.check(data, "manifest.schema.json", where)


def render(data: dict[str, Any]) -> str:
    validate(data)
    return schemas.dump(data, "reprokit manifest: what this bundle holds and how it was made. Schema: reprokit manifest format 1.")


def read(path: Path) -> dict[str, Any]:
    data = schemas.load(path)
    validate(data, str(path))
    return data  # type: ignore[no-any-return]
