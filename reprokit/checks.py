"""What each check of ``validate`` found: passed, failed, or not run (with the reason),
and the exit status that follows. :class:`Check` and :class:`Problem` are how the checks
gather what they find (the integrity check of :mod:`reprokit.bundle.integrity` too).

A check that could not run is never a pass: it fails the run unless the user allowed
it to be skipped (``--allow-skip NAME``). A requested check with no result also fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["passed", "failed", "not-run"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """One fact behind a check's status: a file and what was found there."""

    path: str | None
    message: str

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckResult:
    name: str  # integrity, completeness, rebuild-pip, rebuild-nix, airgap, rerun, …
    status: Status
    reason: str = ""  # why it failed or did not run; what it established when it passed
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status, "reason": self.reason, "evidence": [e.to_json() for e in self.evidence]}


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """The checks of one validate run, judged against what was asked for."""

    checks: tuple[CheckResult, ...]
    requested: tuple[str, ...] = ()  # checks the user asked for; each must have a result
    allow_skip: frozenset[str] = field(default_factory=frozenset)  # names that may be not run

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """Checks that make the run fail: failed, not run and not allowed to skip, or
        requested and absent (reported as not run)."""
        out = [c for c in self.checks if c.status == "failed" or (c.status == "not-run" and c.name not in self.allow_skip)]
        seen = {c.name for c in self.checks}
        out += [CheckResult(name=n, status="not-run", reason="requested, but no result was recorded")
                for n in self.requested if n not in seen and n not in self.allow_skip]
        return tuple(out)

    @property
    def skipped(self) -> tuple[CheckResult, ...]:
        """Checks that did not run, with the user's leave."""
        return tuple(c for c in self.checks if c.status == "not-run" and c.name in self.allow_skip)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def verdict_line(self) -> str:
        if self.ok:
            skipped = self.skipped
            note = f" ({', '.join(c.name for c in skipped)} not run, as allowed)" if skipped else ""
            return f"OK: every requested check ran and passed{note}"
        parts = [f"{c.name} {'failed' if c.status == 'failed' else 'did not run'}" for c in self.failures]
        return "FAILED: " + "; ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "exit_status": self.exit_status, "allow_skip": sorted(self.allow_skip),
                "checks": [c.to_json() for c in self.checks], "failures": [c.name for c in self.failures]}


def judge(checks: Iterable[CheckResult], requested: Sequence[str] = (), allow_skip: Iterable[str] = ()) -> Outcome:
    return Outcome(checks=tuple(checks), requested=tuple(requested), allow_skip=frozenset(allow_skip))


def from_legacy(name: str, ok: bool | None, skipped: str | None, problems: Iterable[tuple[str | None, str]], details: str = "") -> CheckResult:
    """A result from validate's earlier ``Check`` (``ok`` None meant skipped)."""
    evidence = tuple(Evidence(path=p, message=m) for p, m in problems)
    if ok is None:
        return CheckResult(name=name, status="not-run", reason=skipped or "not run", evidence=evidence)
    if ok:
        return CheckResult(name=name, status="passed", reason=details, evidence=evidence)
    first = evidence[0] if evidence else None
    reason = (f"{first.path}: {first.message}" if first and first.path else first.message if first else "failed")
    more = f" (and {len(evidence) - 1} more)" if len(evidence) > 1 else ""
    return CheckResult(name=name, status="failed", reason=reason + more, evidence=evidence)


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    path: str | None
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Check:
    name: str
    ok: bool | None
    skipped: str | None = None
    problems: tuple[Problem, ...] = ()
    details: str = ""

    def result(self) -> CheckResult:
        return from_legacy(self.name, self.ok, self.skipped, [(p.path, p.message) for p in self.problems], self.details)

    def to_json(self) -> dict[str, object]:
        r = self.result()
        return {"name": self.name, "status": r.status, "reason": r.reason, "ok": self.ok, "skipped": self.skipped,
                "problems": [{"path": p.path, "message": p.message} for p in self.problems]}
