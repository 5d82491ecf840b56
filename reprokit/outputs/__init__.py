"""Outputs compared as a scientist would: per file type, numbers within a tolerance,
figures as pixels, notebooks cell by cell, with the measured difference and where.

The two calls the rest of reprokit makes: :func:`learn` at archive time (N runs of an
entry point -> a :class:`RecordedOutput` per output, with its rule), and
:func:`compare_outputs` at validate time (recorded outputs, a rerun -> a :class:`Verdict`
per output).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from reprokit.outputs.comparison import by_hash, compare
from reprokit.outputs.config import OutputsConfig
from reprokit.outputs.learn import Learned, learn
from reprokit.outputs.record import RecordedOutput
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Difference, Verdict, missing

__all__ = ["Difference", "Learned", "OutputsConfig", "RecordedOutput", "Rule", "Verdict", "compare", "compare_outputs", "learn"]


def compare_outputs(recorded: Sequence[RecordedOutput], recorded_dir: Path, rerun_dir: Path) -> tuple[Verdict, ...]:
    """A verdict for each recorded output: its kept copy under ``recorded_dir`` (or its
    sha256, when kept by hash only) against the file at the same path under ``rerun_dir``.
    An output the archive-time runs already disagreed on (``varies``) that differs again,
    or is missing, ``varies``: reported with its difference, not judged different."""
    out = []
    for rec in recorded:
        verdict = _verdict(rec, recorded_dir, rerun_dir)
        if rec.varies and verdict.status in ("different", "missing"):
            noise = f" ({rec.noise})" if rec.noise else ""
            verdict = dataclasses.replace(verdict, status="varies",
                                          summary=f"varies between runs, as between the archive's own{noise}: {verdict.summary}")
        out.append(verdict)
    return tuple(out)


def _verdict(rec: RecordedOutput, recorded_dir: Path, rerun_dir: Path) -> Verdict:
    target = rerun_dir / rec.path
    if not target.is_file():
        return missing(rec.path, rec.rule, "the rerun did not write it")
    kept = recorded_dir / rec.path
    if not rec.kept:
        return by_hash(rec.path, rec.rule, rec.sha256, target.read_bytes(), "kept by sha256 only")
    if not kept.is_file():
        return by_hash(rec.path, rec.rule, rec.sha256, target.read_bytes(), "the recorded copy is not in the bundle")
    return compare(rec.path, kept.read_bytes(), target.read_bytes(), rec.rule)
