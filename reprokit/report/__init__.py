"""The reviewer's report of a validate run: a typed model (:mod:`.model`) with the ACM
badges worked out, drawn as one self-contained HTML page (:mod:`.html`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprokit import lazy

if TYPE_CHECKING:
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
else:
    __getattr__ = lazy.exports(__name__)

__all__ = ["IMAGE_SUFFIXES", "Badge", "EntryPointResult", "Holdings", "Likeness", "OutputView", "Paper", "Report", "build", "likenesses",
           "output_view", "render"]
