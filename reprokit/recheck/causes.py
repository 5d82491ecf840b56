"""Why a bundle fails, in the words a reproducibility editor groups failures by ("sdist no
longer builds", "output differs", "time bomb"), and what changed between a bundle's last
pass and its first failure after it: which check, which output, which environment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reprokit.recheck.results import Result

# The steps of a rebuild that build an sdist (reprokit.resolve.pipoutput's words) and the
# causes that only a build has.
_BUILD = re.compile(r"building its wheel|preparing its metadata|asking its build backend|installing its build tools|running setup\.py install|"
                    r"missing C header|missing tool|the compiler|missing system library|its build imports", re.IGNORECASE)
_NO_PYTHON = re.compile(r"no Python \d+(\.\d+)* on this machine")


@dataclass(frozen=True, kw_only=True, slots=True)
class Cause:
    label: str  # the group: "sdist no longer builds"
    reason: str  # this bundle's: the failing check's reason


# Every label, in the order a dashboard lists the groups.
LABELS = ("bundle changed or damaged", "record unavailable", "kills its worker", "check crashed", "imports not locked",
          "interpreter missing", "sdist no longer builds", "environment no longer builds", "output differs", "entry point fails",
          "time bomb", "could not run")


def cause(r: Result) -> Cause | None:
    """Why ``r`` failed; None when it passed."""
    if r.ok:
        return None
    if r.status == "unavailable":
        return Cause(label="record unavailable", reason=r.detail)
    if r.status == "killed-workers":
        return Cause(label="kills its worker", reason=r.detail)
    if r.status == "error":
        return Cause(label="check crashed", reason=r.detail)
    failed = {s.name: s for s in r.steps if s.status == "failed"}
    if "integrity" in failed:
        return Cause(label="bundle changed or damaged", reason=failed["integrity"].reason)
    if "completeness" in failed:
        return Cause(label="imports not locked", reason=failed["completeness"].reason)
    for name in ("rebuild-pip", "rebuild-nix"):
        if name in failed:
            why = failed[name].reason
            if _NO_PYTHON.search(why):
                return Cause(label="interpreter missing", reason=why)
            return Cause(label="sdist no longer builds" if _BUILD.search(why) else "environment no longer builds", reason=why)
    if "rerun" in failed:
        counts = r.verdicts()
        label = "output differs" if counts["different"] or counts["missing"] else "entry point fails"
        return Cause(label=label, reason=failed["rerun"].reason)
    if "rerun-clock-ahead" in failed:
        return Cause(label="time bomb", reason=r.time_bombs[0].removeprefix("time bomb: ") if r.time_bombs else failed["rerun-clock-ahead"].reason)
    if failed:
        name, step = next(iter(failed.items()))
        return Cause(label="could not run", reason=f"{name}: {step.reason}")
    not_run = next((s for s in r.steps if s.status == "not-run"), None)
    return Cause(label="could not run", reason=f"{not_run.name}: {not_run.reason}" if not_run else r.detail or "failed")


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """What differs between a bundle's last pass and the first failure after it."""

    last_pass: Result
    first_failure: Result
    checks: tuple[tuple[str, str, str], ...]  # check, status at the pass, status at the failure
    outputs: tuple[tuple[str, str, str], ...]  # output, verdict at the pass, verdict at the failure
    around: tuple[tuple[str, str, str], ...]  # what else changed: the bundle's bytes, reprokit, Python, platform, clock


def change(history: Sequence[Result]) -> Change | None:
    """For a bundle failing now that passed before: its last pass and the first failure
    after it, compared. None when it passes now, or never passed."""
    ordered = sorted(history, key=lambda r: (r.checked_at, r.run_id))
    if not ordered or ordered[-1].ok:
        return None
    last = max((i for i, r in enumerate(ordered) if r.ok), default=None)
    if last is None:
        return None
    before, after = ordered[last], ordered[last + 1]
    was = {s.name: s.status for s in before.steps}
    now = {s.name: s.status for s in after.steps}
    checks = tuple((n, was.get(n, "absent"), now.get(n, "absent")) for n in dict.fromkeys([*was, *now]) if was.get(n) != now.get(n))
    seen_before = {(o.path, o.ahead): o.status for o in before.outputs}
    seen_after = {(o.path, o.ahead): o.status for o in after.outputs}
    outputs = tuple((path + (" (clock ahead)" if ahead else ""), seen_before.get((path, ahead), "absent"), seen_after.get((path, ahead), "absent"))
                    for path, ahead in dict.fromkeys([*seen_before, *seen_after])
                    if seen_before.get((path, ahead)) != seen_after.get((path, ahead)))
    facts = [("the bundle's SHA256SUMS", (before.sums_sha256 or "?")[:12], (after.sums_sha256 or "?")[:12]),
             ("reprokit", before.reprokit_version, after.reprokit_version), ("Python", before.python, after.python),
             ("platform", before.platform, after.platform),
             ("clock ahead", before.clock_ahead or "none", after.clock_ahead or "none")]
    around = tuple(f for f in facts if f[1] != f[2])
    return Change(last_pass=before, first_failure=after, checks=checks, outputs=outputs, around=around)


def grouped(results: Sequence[Result]) -> list[tuple[str, list[tuple[Result, Cause]]]]:
    """The failing results grouped by cause, in :data:`LABELS` order."""
    groups: dict[str, list[tuple[Result, Cause]]] = {}
    for r in results:
        c = cause(r)
        if c is not None:
            groups.setdefault(c.label, []).append((r, c))
    return [(label, groups[label]) for label in LABELS if label in groups]
