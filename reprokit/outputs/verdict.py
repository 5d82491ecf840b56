"""What comparing one output found: identical, equivalent within its rule, different, or
missing, with the measured difference and where it is.

:class:`Tally` is the accumulator every comparison feeds while it walks two outputs; it
turns into a :class:`Verdict` at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from reprokit.outputs.rule import Rule

# "varies": different (or missing) from the record, for an output the archive-time runs
# already disagreed on beyond its rule: no evidence either way, and not reproduced.
Status = Literal["identical", "equivalent", "different", "missing", "varies"]

# A verdict names this many failing places; the rest are counted.
MAX_FAILURES = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class Difference:
    """One place where recorded and rerun differ: ``where`` is a JSON path, a row and
    column, a line and number, a notebook cell or a pixel."""

    where: str
    recorded: str
    rerun: str
    abs: float | None = None
    rel: float | None = None
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "recorded": self.recorded, "rerun": self.rerun,
                "abs": _finite(self.abs), "rel": _finite(self.rel), "note": self.note}

    def describe(self) -> str:
        size = ""
        if self.rel is not None and self.abs is not None:
            size = f" (abs {self.abs:.3g}, rel {self.rel:.3g})"
        elif self.abs is not None:
            size = f" (difference {self.abs:.3g})"
        note = f"; {self.note}" if self.note else ""
        return f"{self.where}: recorded {self.recorded}, rerun {self.rerun}{size}{note}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    path: str
    status: Status
    rule: Rule
    method: str  # how the two were compared, in words
    summary: str  # one line for tables
    compared: int = 0  # numbers, cells or pixels compared
    worst_abs: Difference | None = None
    worst_rel: Difference | None = None
    failures: tuple[Difference, ...] = ()
    failed: int = 0  # how many places failed (failures lists the first MAX_FAILURES)
    notes: tuple[str, ...] = ()
    changed_pixels: float = 0.0  # largest fraction of an image's pixels that changed beyond anti-aliasing
    magnitude: float = 0.0  # the largest finite |number| compared: the scale a zero crossing is measured against
    diff_image: bytes | None = field(default=None, repr=False)  # PNG: where pixels differ

    @property
    def ok(self) -> bool:
        return self.status in ("identical", "equivalent")

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path, "status": self.status, "rule": self.rule.to_dict(), "method": self.method,
            "summary": self.summary, "compared": self.compared,
            "worst_abs": self.worst_abs.to_json() if self.worst_abs else None,
            "worst_rel": self.worst_rel.to_json() if self.worst_rel else None,
            "failures": [f.to_json() for f in self.failures], "failed": self.failed,
            "notes": list(self.notes), "changed_pixels": self.changed_pixels, "diff_image": self.diff_image is not None,
        }


def _finite(x: float | None) -> float | str | None:
    if x is None or math.isfinite(x):
        return x
    return str(x)


def number_text(x: float) -> str:
    return repr(int(x)) if isinstance(x, int) else repr(x)


def relative(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)``: 0 for equal numbers, 1 for a sign flip or a zero."""
    if a == b:
        return 0.0
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


class Tally:
    """Walks along two outputs: counts what was compared, keeps the worst absolute and
    relative differences seen and the places that fall outside the rule."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.compared = 0
        self.worst_abs: Difference | None = None
        self.worst_rel: Difference | None = None
        self.failures: list[Difference] = []
        self.failed = 0
        self.notes: list[str] = []
        self.changed_pixels = 0.0
        self.magnitude = 0.0

    def number(self, recorded: float, rerun: float, where: str, shown: tuple[str, str] | None = None) -> bool:
        """Compare two numbers under the rule; True when they agree."""
        self.compared += 1
        for x in (recorded, rerun):
            if math.isfinite(x) and abs(x) > self.magnitude:
                self.magnitude = abs(x)
        if recorded == rerun or (math.isnan(recorded) and math.isnan(rerun)):
            return True
        both_finite = math.isfinite(recorded) and math.isfinite(rerun)
        diff_abs = abs(recorded - rerun) if both_finite else math.inf
        diff_rel = relative(recorded, rerun)
        a, b = shown or (number_text(recorded), number_text(rerun))
        d = Difference(where=where, recorded=a, rerun=b, abs=diff_abs, rel=diff_rel)
        if self.worst_abs is None or (self.worst_abs.abs or 0.0) < diff_abs:
            self.worst_abs = d
        if self.worst_rel is None or (self.worst_rel.rel or 0.0) < diff_rel:
            self.worst_rel = d
        ok = both_finite and (diff_abs <= self.rule.abs or diff_rel <= self.rule.rel)
        if not ok:
            self.fail(d)
        return ok

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def fail(self, difference: Difference) -> None:
        self.failed += 1
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(difference)

    def mismatch(self, where: str, recorded: str, rerun: str, note: str = "") -> None:
        """A difference no tolerance covers: structure, text, type."""
        self.compared += 1
        self.fail(Difference(where=where, recorded=_short(recorded), rerun=_short(rerun), note=note))

    def verdict(self, path: str, method: str, *, identical_bytes: bool = False, diff_image: bytes | None = None,
                summary: str | None = None) -> Verdict:
        notes = tuple(self.notes)
        common = {"path": path, "rule": self.rule, "method": method, "compared": self.compared, "worst_abs": self.worst_abs,
                  "worst_rel": self.worst_rel, "notes": notes, "diff_image": diff_image, "changed_pixels": self.changed_pixels,
                  "magnitude": self.magnitude}
        if identical_bytes:
            return Verdict(status="identical", summary="identical bytes", **common)  # type: ignore[arg-type]
        if self.failed:
            first = self.failures[0]
            more = f" (and {self.failed - 1} more)" if self.failed > 1 else ""
            return Verdict(status="different", summary=f"different at {first.describe()}{more}", failures=tuple(self.failures),
                           failed=self.failed, **common)  # type: ignore[arg-type]
        return Verdict(status="equivalent", summary=summary or equivalent_summary(self.worst_abs, self.worst_rel, self.rule, self.notes),
                       **common)  # type: ignore[arg-type]


def equivalent_summary(worst_abs: Difference | None, worst_rel: Difference | None, rule: Rule, notes: list[str]) -> str:
    if worst_rel is None and worst_abs is None:
        return "equivalent: " + (notes[0] if notes else "same content, different bytes")
    worst = worst_rel or worst_abs
    assert worst is not None
    return (f"equivalent within rel {rule.rel:.0e} / abs {rule.abs:.0e}: worst rel {worst.rel or 0:.2g} "
            f"(abs {worst.abs or 0:.2g}) at {worst.where}, recorded {worst.recorded}, rerun {worst.rerun}")


def _short(text: str, limit: int = 120) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text) if text.strip() != text or not text else text


def missing(path: str, rule: Rule, why: str) -> Verdict:
    return Verdict(path=path, status="missing", rule=rule, method="none", summary=why)
