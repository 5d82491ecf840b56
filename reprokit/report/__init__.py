"""The reviewer's report of a validate run: a typed model (:mod:`.model`) with the ACM
badges worked out, drawn as one self-contained HTML page (:mod:`.html`)."""

from __future__ import annotations

from reprokit.report.html import render
from reprokit.validate.review import (
    IMAGE_SUFFIXES,
    Badge,
    EntryPointResult,
    Holdings,
    Likeness,
    OutputView,
    Paper,
    Report,
    build,
    likenesses,
    output_view,
)

__all__ = ["IMAGE_SUFFIXES", "Badge", "EntryPointResult", "Holdings", "Likeness", "OutputView", "Paper", "Report", "build", "likenesses",
           "output_view", "render"]
