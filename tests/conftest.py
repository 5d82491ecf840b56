"""Fixtures for every test; the builders they use are in tests/helpers.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import SAMPLE_PAPER


@pytest.fixture(autouse=True, scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """uv's cache for the whole run: its own, not the user's, and set the way pytest
    puts it back afterwards."""
    cache = tmp_path_factory.mktemp("uv-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture
def sample_paper(tmp_path: Path) -> Path:
    dest = tmp_path / "sample_paper"
    shutil.copytree(SAMPLE_PAPER, dest, ignore=shutil.ignore_patterns("results", "__pycache__"))
    return dest
