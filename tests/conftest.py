"""Fixtures for every test; the builders they use are in tests/helpers.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.helpers import SAMPLE_PAPER

# Property tests draw the same examples on every run ("ci", the default), so a red run
# always means a change broke something. `HYPOTHESIS_PROFILE=explore` draws new, many
# more examples each time (benchmarks/explore_properties.py): the search for new bugs,
# run apart from CI, whose finds become fixed examples in the tests.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
