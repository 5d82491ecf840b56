"""The reviewer's report as typed data: the paper, what the bundle holds, each check,
each entry point's outputs (recorded and rerun side by side), and the ACM artifact badges
with the reason each was or was not earned. :mod:`reprokit.report.html` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from reprokit.checks import CheckResult, Outcome
from reprokit.outputs.image import likeness
from reprokit.outputs.verdict import Verdict

BadgeKey = Literal["available", "functional", "reproduced"]
RunStatus = Literal["ran", "failed", "not-run"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True, kw_only=True, slots=True)
class Paper:
    title: str
    authors: tuple[str, ...] = ()
    doi: str = ""
    date: str = ""
    name: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Holdings:
    """What the bundle holds."""

    files: int
    size_bytes: int
    packages: int
    python: str
    platform: str
    nixpkgs: str  # channel and short rev
    entry_points: int
    recorded_outputs: int
    archive_record: str = ""  # DOI or URL of the archived bundle (e.g. a Zenodo record)


@dataclass(frozen=True, kw_only=True, slots=True)
class OutputView:
    """One output, with the bytes to show when it is a figure."""

    verdict: Verdict
    recorded_image: bytes | None = field(default=None, repr=False)
    rerun_image: bytes | None = field(default=None, repr=False)
    media: str = "image/png"

    @property
    def path(self) -> str:
        return self.verdict.path


@dataclass(frozen=True, kw_only=True, slots=True)
class Likeness:
    """A figure the paper commits beside the most alike figure a rerun showed: informative,
    as nothing says they are the same figure."""

    committed: str  # path in paper/
    shown: str  # path of the rerun's figure (shown/figure-N.png)
    differing: float  # fraction of the committed figure's pixels that differ
    committed_image: bytes = field(repr=False)
    shown_image: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryPointResult:
    name: str
    path: str
    kind: Literal["script", "notebook"]
    status: RunStatus
    message: str = ""  # why it failed or did not run
    outputs: tuple[OutputView, ...] = ()
    likenesses: tuple[Likeness, ...] = ()


# A committed figure is put beside a shown one when at most this many of its pixels differ.
ALIKE = 0.5


def likenesses(committed: dict[str, bytes], shown: dict[str, bytes]) -> tuple[Likeness, ...]:
    """Each shown figure beside the committed figure most like it (each committed one used
    once, the most alike pairs first), where they are alike at all (:data:`ALIKE`)."""
    scored = []
    for s_path, s_bytes in shown.items():
        for c_path, c_bytes in committed.items():
            score = likeness(c_bytes, s_bytes)
            if score is not None and score <= ALIKE:
                scored.append((score, c_path, s_path))
    out, used_c, used_s = [], set(), set()
    for score, c_path, s_path in sorted(scored):
        if c_path in used_c or s_path in used_s:
            continue
        used_c.add(c_path)
        used_s.add(s_path)
        out.append(Likeness(committed=c_path, shown=s_path, differing=score, committed_image=committed[c_path], shown_image=shown[s_path]))
    return tuple(sorted(out, key=lambda x: x.shown))


@dataclass(frozen=True, kw_only=True, slots=True)
class Badge:
    key: BadgeKey
    title: str  # the ACM name
    earned: bool
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    bundle: str
    paper: Paper
    holdings: Holdings
    outcome: Outcome
    entry_points: tuple[EntryPointResult, ...]
    badges: tuple[Badge, ...]
    generated: str  # ISO date and time
    tool_version: str

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        return self.outcome.checks


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def available(paper: Paper, holdings: Holdings) -> Badge:
    title = "Artifacts Available"
    if holdings.archive_record:
        return Badge(key="available", title=title, earned=True, reason=f"archived with a persistent identifier: {holdings.archive_record}")
    if paper.doi:
        return Badge(key="available", title=title, earned=True, reason=f"DOI {paper.doi} (from CITATION.cff)")
    return Badge(key="available", title=title, earned=False,
                 reason="no DOI and no archive record: publish the bundle (reprokit publish) or add its DOI to CITATION.cff")


def functional(checks: Sequence[CheckResult], entry_points: Sequence[EntryPointResult]) -> Badge:
    title = "Artifacts Evaluated – Functional"
    rebuilds = [c for c in checks if c.name.startswith("rebuild")]
    rebuilt = [c for c in rebuilds if c.status == "passed"]
    if not rebuilds:
        return Badge(key="functional", title=title, earned=False, reason="the environment was not rebuilt (validate --rebuild pip or nix)")
    if not rebuilt:
        c = rebuilds[0]
        verb = "failed" if c.status == "failed" else "did not run"
        return Badge(key="functional", title=title, earned=False, reason=f"{c.name} {verb}: {c.reason}")
    if not entry_points:
        return Badge(key="functional", title=title, earned=False, reason="no entry point was run (validate --rerun)")
    bad = [e for e in entry_points if e.status != "ran"]
    if bad:
        e = bad[0]
        verb = "failed" if e.status == "failed" else "did not run"
        return Badge(key="functional", title=title, earned=False,
                     reason=f"{e.path} {verb}" + (f": {e.message}" if e.message else "") + (f" ({len(bad) - 1} more)" if len(bad) > 1 else ""))
    how = " and ".join(c.name.removeprefix("rebuild-") for c in rebuilt)
    return Badge(key="functional", title=title, earned=True,
                 reason=f"rebuilt ({how}) from the bundle's own files, and all {_count(len(entry_points), 'entry point')} ran to completion")


def reproduced(entry_points: Sequence[EntryPointResult]) -> Badge:
    title = "Results Reproduced"
    if not entry_points or any(e.status != "ran" for e in entry_points):
        return Badge(key="reproduced", title=title, earned=False, reason="not every entry point ran, so not every result could be compared")
    verdicts = [o.verdict for e in entry_points for o in e.outputs]
    if not verdicts:
        return Badge(key="reproduced", title=title, earned=False, reason="ran, nothing to compare: the bundle records no outputs a rerun could be compared with")
    bad = sorted((v for v in verdicts if not v.ok), key=lambda v: v.status == "varies")  # a difference first, then what varies
    if bad:
        v = bad[0]
        return Badge(key="reproduced", title=title, earned=False,
                     reason=f"{_count(len(bad), 'output')} of {len(verdicts)} not reproduced; first: {v.path}: {v.summary}")
    same = sum(v.status == "identical" for v in verdicts)
    return Badge(key="reproduced", title=title, earned=True,
                 reason=f"all {_count(len(verdicts), 'output')} reproduced: {same} identical, {len(verdicts) - same} equivalent within their rules")


def build(*, bundle: str, paper: Paper, holdings: Holdings, outcome: Outcome, entry_points: Sequence[EntryPointResult],
          generated: str, tool_version: str) -> Report:
    badges = (available(paper, holdings), functional(outcome.checks, entry_points), reproduced(entry_points))
    return Report(bundle=bundle, paper=paper, holdings=holdings, outcome=outcome, entry_points=tuple(entry_points), badges=badges,
                  generated=generated, tool_version=tool_version)


def output_view(verdict: Verdict, recorded: bytes | None, rerun: bytes | None) -> OutputView:
    """The view of an output: figures carry their bytes, other files only their verdict."""
    path = verdict.path.lower()
    if path.endswith(IMAGE_SUFFIXES):
        media = "image/jpeg" if path.endswith((".jpg", ".jpeg")) else "image/png"
        return OutputView(verdict=verdict, recorded_image=recorded, rerun_image=rerun, media=media)
    return OutputView(verdict=verdict)
