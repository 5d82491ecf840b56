from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"
SAMPLE_PAPER = ROOT / "sample_paper"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> text or bytes) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def notebook(*cells: str, nbformat: int = 4, language: str = "python") -> str:
    """A minimal notebook JSON text with the given code cells."""
    if nbformat == 3:
        return json.dumps({
            "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
            "worksheets": [{"cells": [{"cell_type": "code", "input": c, "language": "python", "outputs": [], "metadata": {}} for c in cells], "metadata": {}}],
        })
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "k", "display_name": "k", "language": language}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "source": c, "metadata": {}, "outputs": [], "execution_count": None} for i, c in enumerate(cells)],
    })


@pytest.fixture
def sample_paper(tmp_path: Path) -> Path:
    dest = tmp_path / "sample_paper"
    shutil.copytree(SAMPLE_PAPER, dest, ignore=shutil.ignore_patterns("results", "__pycache__"))
    return dest
