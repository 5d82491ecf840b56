"""reprokit: archive a research paper's code so it can be rebuilt and rerun years later."""

from __future__ import annotations

__version__ = "0.1.0"
