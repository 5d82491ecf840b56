"""``reprokit validate``: is a bundle intact, complete, rebuildable, and does it rerun?

Levels, each a :class:`Check` with its problems: integrity (SHA256SUMS, manifest,
flake.lock; requirements.lock, pylock.toml and the flake agree with the manifest), completeness (every third-party import is locked),
rebuild (pip offline from vendor/, or ``nix build`` in Nix's sandbox), rerun (entry points in the rebuilt
environment, outputs compared by their rules, :mod:`reprokit.outputs`). A check that could
not run fails the run unless allowed to be skipped (:mod:`reprokit.checks`); with
``report`` the findings are also gathered for the HTML report (:mod:`reprokit.report`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reprokit import __version__, sandbox
from reprokit import run as rerun
from reprokit.bundle import tarball
from reprokit.bundle.integrity import integrity_and_manifest
from reprokit.bundle.manifest import Manifest
from reprokit.checks import Check, Outcome, Problem, judge
from reprokit.errors import RebuildFailed
from reprokit.fsutil import reap_temporary, temporary_folder
from reprokit.outputs import Verdict
from reprokit.sandbox.clock import seconds_ahead
from reprokit.validate import review
from reprokit.validate.completeness import check_completeness
from reprokit.validate.nixbuild import rebuild_nix
from reprokit.validate.reruns import rerun_check
from reprokit.validate.timebomb import NAME as TIMEBOMB
from reprokit.validate.timebomb import ClockAhead, clock_ahead_check


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidateSettings:
    bundle: Path
    rebuild: Literal["pip", "nix", "none"] = "none"
    rerun: bool = False
    allow_skip: frozenset[str] = frozenset()  # checks that may be not run without failing
    report: bool = False  # gather what the HTML report shows (figures, badges)
    # Bundle code (build backends, entry points) runs in the sandbox with no network
    # unless asked; ``sandboxed=False`` is the explicit --no-sandbox.
    network: bool = False
    sandboxed: bool = True
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    # nix build runs with Nix's own sandbox on, or not at all, unless this is set.
    nix_without_sandbox: bool = False
    caps: tarball.Caps = field(default_factory=tarball.Caps)
    # Seconds each entry point may run; None: what the bundle was made with.
    run_timeout: int | None = None
    # A line for people when each entry point starts and ends, and every 30 s between.
    progress: Callable[[str], None] | None = None
    # Rerun once more with the clock this far ahead (10y, 400d): what fails only then is a
    # time bomb (:mod:`.timebomb`). Needs the rerun.
    clock_ahead: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    bundle: str
    checks: tuple[Check, ...] = field(default=())
    allow_skip: frozenset[str] = frozenset()
    verdicts: tuple[Verdict, ...] = ()
    review: review.Report | None = None
    # How bundle code ran: sandboxed or not, with or without network; "" when none ran.
    sandbox: str = ""
    clock_ahead: ClockAhead | None = None  # the rerun with the clock ahead, when one ran

    @property
    def outcome(self) -> Outcome:
        return judge([c.result() for c in self.checks], allow_skip=self.allow_skip)

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def to_json(self) -> dict[str, object]:
        outcome = self.outcome
        return {"reprokit_validate": 2, "bundle": self.bundle, "ok": outcome.ok, "exit_status": outcome.exit_status,
                "sandbox": self.sandbox or None, "allow_skip": sorted(self.allow_skip), "checks": [c.to_json() for c in self.checks],
                "outputs": [v.to_json() for v in self.verdicts], "clock_ahead": self.clock_ahead.to_json() if self.clock_ahead else None}


def open_bundle(path: Path, tmp: Path, caps: tarball.Caps | None = None) -> Path:
    """A bundle folder, or a .tar.gz extracted safely into ``tmp``."""
    return tarball.open_bundle(path, tmp, caps or tarball.Caps())


def validate(settings: ValidateSettings) -> Report:
    if settings.clock_ahead:
        seconds_ahead(settings.clock_ahead)  # a bad span is a usage error before any work
    reap_temporary()  # what a killed reprokit left in the temporary folder
    with temporary_folder("validate") as tmp:
        bundle = open_bundle(settings.bundle, Path(tmp), settings.caps).absolute()
        integrity, man = integrity_and_manifest(bundle)
        checks = [integrity]
        if man is None:
            return Report(bundle=str(settings.bundle), checks=tuple(checks), allow_skip=settings.allow_skip)
        checks.append(check_completeness(bundle, man))
        ran: tuple[review.EntryPointResult, ...] = ()
        verdicts: tuple[Verdict, ...] = ()
        how = ""
        ahead = None
        if settings.rebuild != "none" or settings.rerun or settings.clock_ahead:
            more, ran, verdicts, how, ahead = run_bundle_code(settings, bundle, man, integrity, Path(tmp))
            checks += more
        done = Report(bundle=str(settings.bundle), checks=tuple(checks), allow_skip=settings.allow_skip, verdicts=verdicts, sandbox=how,
                      clock_ahead=ahead)
        if not settings.report:
            return done
        return Report(bundle=done.bundle, checks=done.checks, allow_skip=done.allow_skip, verdicts=verdicts, sandbox=done.sandbox,
                      clock_ahead=ahead, review=gather_review(settings.bundle, bundle, man, done.outcome, ran))


def run_bundle_code(settings: ValidateSettings, bundle: Path, man: Manifest, integrity: Check, tmp: Path
                    ) -> tuple[list[Check], tuple[review.EntryPointResult, ...], tuple[Verdict, ...], str, ClockAhead | None]:
    """The checks that run the bundle's code: rebuild and rerun (and the rerun with the
    clock ahead). They run only when the bundle is intact and the sandbox can be set up
    (or --no-sandbox was given)."""
    wanted = ([f"rebuild-{settings.rebuild}"] if settings.rebuild != "none" else []) + (["rerun"] if settings.rerun else []) \
        + ([TIMEBOMB] if settings.clock_ahead else [])
    if not integrity.ok:
        # Fail closed: code from a bundle that is not what its author sealed never runs.
        return [Check(name=w, ok=None, skipped="not run: integrity failed, and nothing of such a bundle runs") for w in wanted], (), (), "", None
    policy = sandbox.Policy(contained=settings.sandboxed, network=settings.network, limits=settings.limits)
    why = sandbox.available() if settings.sandboxed else None
    if why is not None:
        return [Check(name="sandbox", ok=False, problems=(Problem(path=None, message=f"{why}; --no-sandbox runs bundle code uncontained"),)),
                *[Check(name=w, ok=None, skipped="not run: no sandbox") for w in wanted]], (), (), "", None
    checks: list[Check] = []
    env = None
    if settings.rebuild == "pip":
        exe, why_not = rerun.find_python(man.python.version)
        if exe is None:
            checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path=None, message=why_not),)))
        else:
            try:
                env = rerun.rebuild_pip(bundle, exe, tmp / "env", policy=policy,
                                        unisolated={p.name: p.build_with for p in man.packages if p.build_undeclared})
                checks.append(Check(name="rebuild-pip", ok=True, details="offline from vendor/, " + policy.describe()))
            except RebuildFailed as exc:
                checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path="requirements.lock", message=str(exc)),)))
    elif settings.rebuild == "nix":
        checks.append(rebuild_nix(bundle, man, allow_unsandboxed=settings.nix_without_sandbox))
    ran: tuple[review.EntryPointResult, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    ahead = None
    if settings.rerun:
        if env is None:
            checks.append(Check(name="rerun", ok=None, skipped="needs --rebuild pip"))
        else:
            check, ran, verdicts = rerun_check(bundle, man, env, policy, views=settings.report, timeout=settings.run_timeout,
                                               progress=settings.progress)
            checks.append(check)
            if settings.clock_ahead:
                later, ahead = clock_ahead_check(bundle, man, env, policy, settings.clock_ahead, check, timeout=settings.run_timeout,
                                                 progress=settings.progress)
                checks.append(later)
    if settings.clock_ahead and not any(c.name == TIMEBOMB for c in checks):
        checks.append(Check(name=TIMEBOMB, ok=None, skipped="needs --rebuild pip and --rerun (it reruns the entry points)"))
    return checks, ran, verdicts, policy.describe(), ahead


def gather_review(shown_as: Path, bundle: Path, man: Manifest, outcome: Outcome,
                  ran: tuple[review.EntryPointResult, ...]) -> review.Report:
    paper = man.paper
    files = [p for p in bundle.rglob("*") if p.is_file()]
    record = ""
    published = shown_as.with_name(shown_as.name + ".zenodo.json")
    if published.is_file():
        try:
            record = str(json.loads(published.read_text(encoding="utf-8")).get("doi") or "")
        except (OSError, ValueError, AttributeError, RecursionError):
            record = ""
    holdings = review.Holdings(
        files=len(man.paper_files), size_bytes=sum(p.stat().st_size for p in files), packages=len(man.packages),
        python=man.python.version, platform=man.python.platform,
        nixpkgs=f"{man.nixpkgs.channel} @ {man.nixpkgs.rev[:12]}" if man.nixpkgs else "none (archived without Nix)", entry_points=len(man.entry_points),
        recorded_outputs=sum(len(e.outputs) for e in man.entry_points), archive_record=record,
    )
    return review.build(
        bundle=str(shown_as), paper=review.Paper(title=paper.title, authors=paper.authors, doi=paper.doi, date=paper.date.isoformat(),
                                                 name=paper.name),
        holdings=holdings, outcome=outcome, entry_points=ran, generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        tool_version=__version__,
    )
