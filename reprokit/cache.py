"""Where reprokit keeps what it downloads and computes once: ``$XDG_CACHE_HOME/reprokit``,
else ``~/.cache/reprokit`` (files by sha256, pinned nixpkgs tarballs, built wheels)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(cache_dir: Path | None = None) -> Path:
    if cache_dir:
        return cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reprokit"
