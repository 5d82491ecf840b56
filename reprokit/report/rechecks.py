"""What people read of ``reprokit recheck``: the bar a run draws as it goes (done, running,
failed, ETA), the table of a run's bundles, and the history as a table (``--history``).
The dashboard page is :mod:`.dashboard`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from reprokit.recheck import Outcome, Tally
from reprokit.recheck.causes import cause
from reprokit.recheck.results import Result, Run, names
from reprokit.wording import counted, duration

WORDS = {"passed": "passed", "failed": "FAILED", "killed-workers": "KILLED", "unavailable": "UNAVAILABLE", "error": "ERROR"}


def megabytes(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n else "-"


class RunBar:
    """The progress of one run: on a terminal, one bar redrawn in place (a line above it
    for each bundle that fails); elsewhere, a line per bundle checked."""

    WIDTH = 32

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.drawn = False

    def line(self, t: Tally) -> str:
        total = max(1, t.total)
        ok = round((t.done - t.failed) / total * self.WIDTH)
        bad = round(t.done / total * self.WIDTH) - ok
        going = min(self.WIDTH - ok - bad, round(t.running / total * self.WIDTH))
        bar = "#" * ok + "x" * bad + ">" * going + "." * (self.WIDTH - ok - bad - going)
        eta = f", ETA {duration(t.eta)}" if t.eta is not None and t.done < t.total else ""
        return f"[{bar}] {t.done}/{t.total} done, {t.running} running, {t.failed} failed{eta}"

    def __call__(self, t: Tally) -> None:
        if self.tty:
            out = "\r\x1b[2K"
            if t.last is not None and not t.last.ok:
                out += f"{WORDS[t.last.status]:<11} {t.last.name}: {_why(t.last)}\n"
            self.stream.write(out + self.line(t))
            self.drawn = True
        elif t.last is not None:
            self.stream.write(f"[{t.done}/{t.total}] {WORDS[t.last.status]:<11} {t.last.name} ({duration(t.last.duration)})"
                              + ("" if t.last.ok else f": {_why(t.last)}") + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _why(r: Result) -> str:
    c = cause(r)
    if c is None:
        return ""
    reason = c.reason if len(c.reason) <= 160 else c.reason[:157] + "..."
    return f"{c.label}: {reason}"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [("  ".join(f"{cell:<{w}}" for cell, w in zip(r, widths, strict=False)) + "  " + r[-1]).rstrip() for r in rows]


def outcome(o: Outcome) -> str:
    """A run's bundles, one a line, and the verdict."""
    lines = [f"note: {n}" for n in o.notes]
    rows = [("STATUS", "BUNDLE", "TIME", "MEMORY", "WHY")]
    called = names(o.results)
    for r in sorted(o.results, key=lambda r: (r.ok, called[r.bundle_id])):
        rows.append((WORDS[r.status], called[r.bundle_id], duration(r.duration), megabytes(r.peak_memory), _why(r)))
    lines += [ln.rstrip() for ln in _table(rows)]
    passed = sum(r.ok for r in o.results)
    lines.append("")
    lines.append(f"run {o.run.id}: {passed} of {counted(len(o.results), 'bundle')} passed" + (" (resumed)" if o.resumed else ""))
    return "\n".join(lines) + "\n"


def history(runs: Sequence[Run], results: Sequence[Result]) -> str:
    """Each bundle's checks over time, oldest first."""
    if not results:
        return "No rechecks recorded yet.\n"
    by_run = {r.id: r for r in runs}
    lines: list[str] = []
    for bundle_id in dict.fromkeys(r.bundle_id for r in sorted(results, key=lambda r: r.name)):
        mine = [r for r in results if r.bundle_id == bundle_id]
        last = mine[-1]
        lines.append(f"{last.name}  ({bundle_id}" + (f", DOI {last.doi}" if last.doi else "") + ")")
        rows = [("WHEN", "RUN", "STATUS", "CHECKS", "OUTPUTS", "REPROKIT", "PYTHON", "TIME", "MEMORY", "WHY")]
        for r in mine:
            checks = " ".join(f"{s.name}:{'ok' if s.status == 'passed' else s.status}" for s in r.steps)
            counts = r.verdicts()
            outputs = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "-"
            run = by_run.get(r.run_id)
            rows.append((r.checked_at.replace("T", " ")[:16], f"{r.run_id}" + ("" if run is None or run.finished else "*"), WORDS[r.status],
                         checks or "-", outputs, r.reprokit_version, r.python, duration(r.duration), megabytes(r.peak_memory), _why(r)))
        lines += ["  " + ln.rstrip() for ln in _table(rows)]
        lines.append("")
    if any(not r.finished for r in runs):
        lines.append("* a run that was interrupted (or still runs): the same command resumes it")
    return "\n".join(lines).rstrip("\n") + "\n"
