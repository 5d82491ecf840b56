"""The reviewer's report of a validate run: a typed model (:mod:`.model`) with the ACM
badges worked out, drawn as one self-contained HTML page (:mod:`.html`)."""

from __future__ import annotations

from reprokit.report.html import render
from reprokit.report.model import Badge, EntryPointResult, Holdings, OutputView, Paper, Report, build, output_view

__all__ = ["Badge", "EntryPointResult", "Holdings", "OutputView", "Paper", "Report", "build", "output_view", "render"]
