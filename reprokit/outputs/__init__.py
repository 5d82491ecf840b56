"""Outputs compared as a scientist would: per file type, numbers within a tolerance,
figures as pixels, notebooks cell by cell, with the measured difference and where.
The two calls the rest of reprokit makes: :func:`learn` at archive time (N runs of an
entry point -> a :class:`RecordedOutput` per output, with its rule), and
:func:`compare_outputs` at validate time (recorded outputs, a rerun -> a :class:`Verdict`
per output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprokit import lazy

if TYPE_CHECKING:
    from reprokit.outputs.comparison import compare, compare_outputs
    from reprokit.outputs.config import OutputsConfig
    from reprokit.outputs.learn import Learned
    from reprokit.outputs.record import RecordedOutput
    from reprokit.outputs.rule import Rule
    from reprokit.outputs.verdict import Difference, Verdict
else:
    __getattr__ = lazy.exports(__name__)

__all__ = ["Difference", "Learned", "OutputsConfig", "RecordedOutput", "Rule", "Verdict", "compare", "compare_outputs"]
