"""``validate --clock-ahead 10y``: the entry points rerun once more with the clock moved
ahead (libfaketime, :mod:`reprokit.sandbox.clock`), their outputs compared by the same
rules. What fails or differs only then, and not in today's rerun, is a time bomb: an
expired certificate, a hard-coded year, a licence check, code that counts days to a date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reprokit import run as rerun
from reprokit import sandbox
from reprokit.bundle.manifest import Manifest
from reprokit.checks import Check, Problem
from reprokit.outputs import Verdict
from reprokit.validate.reruns import rerun_check

NAME = "rerun-clock-ahead"


@dataclass(frozen=True, kw_only=True, slots=True)
class ClockAhead:
    """The rerun with the clock ahead: by how much, what it saw, and the time bombs."""

    spec: str  # as asked: 10y
    seconds: int
    date: str  # the date the runs saw when they started, YYYY-MM-DD
    verdicts: tuple[Verdict, ...] = ()
    time_bombs: tuple[Problem, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"ahead": self.spec, "seconds": self.seconds, "date": self.date,
                "time_bombs": [{"path": p.path, "message": p.message} for p in self.time_bombs],
                "outputs": [v.to_json() for v in self.verdicts]}


def clock_ahead_check(bundle: Path, man: Manifest, env: rerun.Env, policy: sandbox.Policy, spec: str, today: Check, *,
                      timeout: int | None = None, progress: Callable[[str], None] | None = None) -> tuple[Check, ClockAhead | None]:
    """Rerun with the clock ``spec`` ahead; ``today`` is the rerun check at the real time.
    Passed when nothing fails or differs only with the clock ahead (what fails today too
    is today's rerun's finding, not a time bomb)."""
    ahead, why = sandbox.clock_ahead(policy, spec, python=str(env.python), readonly=env.readonly, mounts=env.mounts)
    if ahead is None or ahead.clock is None:
        return Check(name=NAME, ok=None, skipped=f"not run: {why}"), None
    clock = ahead.clock
    say = progress or (lambda line: None)
    say(f"rerunning with the {clock.describe()}")
    check, _, verdicts = rerun_check(bundle, man, env, ahead, timeout=timeout, progress=progress)
    date = f"{clock.now():%Y-%m-%d}"
    failing_today = {p.path for p in today.problems}
    bombs = tuple(Problem(path=p.path, message=f"time bomb: {p.message} (only with the clock {spec} ahead, at {date})")
                  for p in check.problems if p.path not in failing_today)
    found = ClockAhead(spec=spec, seconds=clock.seconds, date=date, verdicts=verdicts, time_bombs=bombs)
    if bombs:
        return Check(name=NAME, ok=False, problems=bombs, details=f"{clock.describe()}"), found
    if check.ok is None:
        return Check(name=NAME, ok=None, skipped=f"{check.skipped} ({clock.describe()})"), found
    also = len(check.problems)
    details = (f"{clock.describe()}: nothing fails or differs that does not today"
               + (f" ({also} problem(s) fail today too)" if also else f"; {check.details}"))
    return Check(name=NAME, ok=True, details=details), found
