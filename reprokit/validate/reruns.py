"""``validate --rerun``: each entry point run again in the rebuilt environment, its outputs
compared with the recorded ones by their rules; entry points too long to rerun are not
checked unless given more time; for the report, each output's bytes and the paper's
committed figures beside what the rerun showed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from reprokit import run as rerun
from reprokit import sandbox
from reprokit.bundle.manifest import Manifest
from reprokit.checks import Check, Problem
from reprokit.fsutil import temporary_folder
from reprokit.outputs import RecordedOutput, Verdict, compare_outputs
from reprokit.validate import review


def rerun_check(bundle: Path, man: Manifest, env: rerun.Env, policy: sandbox.Policy, *, views: bool = False, timeout: int | None = None,
                progress: Callable[[str], None] | None = None) -> tuple[Check, tuple[review.EntryPointResult, ...], tuple[Verdict, ...]]:
    """Rerun every entry point and compare what it wrote with its recorded outputs, each by
    its rule (format-1 manifests record sha256 only: compared by bytes). Each has
    ``timeout`` seconds (default: what the bundle was made with); one that was too long to
    rerun when the bundle was made runs only when given more than it had then, and is
    otherwise not checked (no pass for it)."""
    recorded_budget = man.run_timeout or rerun.RUN_TIMEOUT
    budget = timeout or recorded_budget
    skipped = [e for e in man.entry_points if e.status == "too-long" and budget <= recorded_budget]
    todo = [e for e in man.entry_points if e not in skipped]
    problems = []
    verdicts: list[Verdict] = []
    ran: list[review.EntryPointResult] = []
    not_checked: list[str] = []
    for e in skipped:
        why = f"not checked: {e.error or rerun.too_long(recorded_budget)}"
        not_checked.append(f"paper/{e.path}: {why}")
        ran.append(review.EntryPointResult(name=e.name, path=e.path, kind=e.entry_point.kind, status="not-run", message=why))
    with temporary_folder("outputs") as tmp:
        written = Path(tmp)
        results = rerun.run_entry_points(bundle / "paper", env, [e.entry_point for e in todo], policy=policy, collect=written,
                                         python_path=man.python_path, timeout=budget, progress=progress)
        failed_as_recorded = 0
        for e, r in zip(todo, results, strict=True):
            ep = e.entry_point
            if r.timed_out:
                not_checked.append(f"paper/{ep.path}: not checked: {r.message}")
                ran.append(review.EntryPointResult(name=ep.name, path=ep.path, kind=ep.kind, status="not-run", message=r.message))
                continue
            if e.status == "too-long":
                # Given more time than it had when the bundle was made: it runs, but no
                # output was recorded to compare it with.
                if r.ok:
                    ran.append(review.EntryPointResult(name=ep.name, path=ep.path, kind=ep.kind, status="ran",
                                                       message="ran to its end; no outputs were recorded to compare"))
                else:
                    problems.append(Problem(path=f"paper/{ep.path}", message=r.message))
                    ran.append(review.EntryPointResult(name=ep.name, path=ep.path, kind=ep.kind, status="failed", message=r.message))
                continue
            if e.status == "failed":
                # It failed when the bundle was made: a rerun shows whether it still does,
                # and either way the paper does not rerun as a whole.
                failed_as_recorded += not r.ok
                message = (f"failed, as when the bundle was made ({r.message})" if not r.ok
                           else "ran, although it failed when the bundle was made; its outputs were never recorded")
                problems.append(Problem(path=f"paper/{ep.path}", message=message))
                ran.append(review.EntryPointResult(name=ep.name, path=ep.path, kind=ep.kind, status="failed", message=message))
                continue
            if not r.ok:
                problems.append(Problem(path=f"paper/{ep.path}", message=r.message))
                ran.append(review.EntryPointResult(name=ep.name, path=ep.path, kind=ep.kind, status="failed", message=r.message))
                continue
            recorded = [o.recorded for o in e.outputs]
            kept, rerun_dir = bundle / "outputs" / ep.name, written / ep.name
            got = compare_outputs(recorded, kept, rerun_dir)
            for v in got:
                if v.status in ("different", "missing"):
                    problems.append(Problem(path=f"paper/{v.path}", message=f"{v.summary} ({ep.name})"))
            verdicts += got
            shown = tuple(review.output_view(v, _recorded_bytes(bundle, ep.name, rec), _read(rerun_dir / v.path))
                          for v, rec in zip(got, recorded, strict=True)) if views else ()
            alike = review.likenesses(committed_figures(bundle, man), shown_figures(rerun_dir)) if views else ()
            ran.append(review.EntryPointResult(name=ep.name, path=ep.path, kind=ep.kind, status="ran", outputs=shown, likenesses=alike))
    same = sum(v.status == "identical" for v in verdicts)
    within = sum(v.status == "equivalent" for v in verdicts)
    varied = sum(v.status == "varies" for v in verdicts)
    details = f"{same + within} recorded outputs match" + (f" ({same} identical, {within} equivalent within their rules)" if within else "")
    if varied:
        details += (f"; {varied} vary between runs, as they did between the archive's own (not judged; the results are not "
                    "reproduced: see the report)")
    if not verdicts:
        details = "ran, nothing to compare (no entry point wrote an output that was recorded)"
    if failed_as_recorded:
        details += f"; {failed_as_recorded} entry point(s) failed, as they did when the bundle was made"
    if not_checked and not problems:
        skipped_why = f"{len(not_checked)} entry point(s) not checked: " + "; ".join(not_checked) + f" ({details})"
        return Check(name="rerun", ok=None, skipped=skipped_why, details=details), tuple(ran), tuple(verdicts)
    problems += [Problem(path=n.split(": ", 1)[0], message=n.split(": ", 1)[1]) for n in not_checked]
    check = Check(name="rerun", ok=not problems, problems=tuple(problems), details=details)
    return check, tuple(ran), tuple(verdicts)


# Figures compared for the report's "committed beside reproduced": at most this many, each
# at most this large (the report embeds them).
MAX_FIGURES = 40


MAX_FIGURE_BYTES = 8 << 20


def shown_figures(rerun_dir: Path) -> dict[str, bytes]:
    """The figures a rerun showed (``shown/figure-N.png``)."""
    folder = rerun_dir / rerun.SHOWN
    found = sorted(folder.glob("figure-*.png"), key=lambda p: (len(p.name), p.name)) if folder.is_dir() else []
    return {f"{rerun.SHOWN}/{p.name}": p.read_bytes() for p in found[:MAX_FIGURES] if p.stat().st_size <= MAX_FIGURE_BYTES}


def committed_figures(bundle: Path, man: Manifest) -> dict[str, bytes]:
    """The figures the paper holds that no entry point writes: the authors' own."""
    written = {o.recorded.path for e in man.entry_points for o in e.outputs}
    out: dict[str, bytes] = {}
    for f in man.paper_files:
        if f.path.lower().endswith(review.IMAGE_SUFFIXES) and f.path not in written and len(out) < MAX_FIGURES:
            path = bundle / "paper" / f.path
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FIGURE_BYTES:
                out[f.path] = path.read_bytes()
    return out


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _recorded_bytes(bundle: Path, entry_point: str, rec: RecordedOutput) -> bytes | None:
    """The recorded copy of an output: kept under outputs/, or the paper's own file when
    it is the one recorded (format 1 kept hashes only)."""
    kept = _read(bundle / "outputs" / entry_point / rec.path)
    if kept is not None:
        return kept
    own = _read(bundle / "paper" / rec.path)
    return own if own is not None and hashlib.sha256(own).hexdigest() == rec.sha256 else None
