"""Data shipped with reprokit: the import table, standard library lists, nixpkgs pins and
the JSON Schemas, read by file name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load_json(name: str) -> Any:
    """Parse ``reprokit/data/<name>``."""
    return json.loads((HERE / name).read_text("utf-8"))
