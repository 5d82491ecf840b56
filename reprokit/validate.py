"""``reprokit validate``: is a bundle intact, complete, rebuildable, and does it rerun?

Levels, each a :class:`Check` with its problems: integrity (SHA256SUMS, manifest,
flake.lock, lock and flake agree), completeness (every third-party import is locked),
rebuild (pip offline from vendor/, or ``nix build`` in Nix's sandbox), rerun (entry points in the rebuilt
environment, outputs compared by their rules, :mod:`reprokit.outputs`). A check that could
not run fails the run unless allowed to be skipped (:mod:`reprokit.checks`); with
``report`` the findings are also gathered for the HTML report (:mod:`reprokit.report`).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reprokit import __version__, flake, manifest, rerun
from reprokit import report as review
from reprokit.checks import CheckResult, Outcome, from_legacy, judge
from reprokit.errors import InputError, InterpreterUnavailable, UsageError
from reprokit.flake import EntryPoint
from reprokit.nixpkgs import NixpkgsPin
from reprokit.fsutil import sha256_file
from reprokit.outputs import RecordedOutput, Verdict, compare_outputs
from reprokit.scan import ScanSettings, scan


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


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidateSettings:
    bundle: Path
    rebuild: Literal["pip", "nix", "none"] = "none"
    rerun: bool = False
    airgap: bool = False
    allow_skip: frozenset[str] = frozenset()  # checks that may be not run without failing
    report: bool = False  # gather what the HTML report shows (figures, badges)


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    bundle: str
    checks: tuple[Check, ...] = field(default=())
    allow_skip: frozenset[str] = frozenset()
    verdicts: tuple[Verdict, ...] = ()
    review: review.Report | None = None

    @property
    def outcome(self) -> Outcome:
        return judge([c.result() for c in self.checks], allow_skip=self.allow_skip)

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def to_json(self) -> dict[str, object]:
        outcome = self.outcome
        return {"reprokit_validate": 2, "bundle": self.bundle, "ok": outcome.ok, "exit_status": outcome.exit_status,
                "allow_skip": sorted(self.allow_skip), "checks": [c.to_json() for c in self.checks],
                "outputs": [v.to_json() for v in self.verdicts]}


def read_sums(bundle: Path) -> tuple[dict[str, str], list[Problem]]:
    listed: dict[str, str] = {}
    problems = []
    try:
        text = (bundle / "SHA256SUMS").read_text(encoding="utf-8")
    except OSError:
        return {}, [Problem(path="SHA256SUMS", message="missing")]
    for n, line in enumerate(text.splitlines(), 1):
        m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
        if not m:
            problems.append(Problem(path="SHA256SUMS", message=f"line {n} is not 'SHA256  PATH'"))
            continue
        listed[m.group(2)] = m.group(1)
    return listed, problems


def check_integrity(bundle: Path) -> Check:
    listed, problems = read_sums(bundle)
    actual = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if (p.is_file() or p.is_symlink()) and p.name != "SHA256SUMS"}
    actual.discard(".reprokit-published.json")
    for rel in sorted(set(listed) - actual):
        problems.append(Problem(path=rel, message="listed in SHA256SUMS but missing"))
    for rel in sorted(actual - set(listed)):
        problems.append(Problem(path=rel, message="not listed in SHA256SUMS (added or renamed?)"))
    present = sorted(set(listed) & actual)
    links = {rel for rel in present if (bundle / rel).is_symlink()}
    for rel in sorted(links):
        problems.append(Problem(path=rel, message="is a symlink; bundles hold regular files only"))
    regular = [rel for rel in present if rel not in links]
    # hashlib releases the GIL: hashing on every core beats sha256sum's one. Largest
    # files first, so one big file does not finish last on its own.
    order = sorted(regular, key=lambda r: -(bundle / r).stat().st_size)
    with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
        digests = dict(zip(order, pool.map(lambda rel: sha256_file(bundle / rel), order), strict=True))
    for rel in regular:
        if digests[rel] != listed[rel]:
            problems.append(Problem(path=rel, message="sha256 differs from SHA256SUMS"))
    data = None
    try:
        data = manifest.read(bundle / "reprokit.yaml")
    except InputError as exc:
        problems.append(Problem(path="reprokit.yaml", message=str(exc).split(": ", 1)[-1]))
    if data is not None:
        for f in data["paper_files"]:
            rel = "paper/" + f["path"]
            if listed.get(rel) not in (None, f["sha256"]):
                problems.append(Problem(path=rel, message="sha256 in reprokit.yaml differs from SHA256SUMS"))
            if rel not in listed:
                problems.append(Problem(path=rel, message="in reprokit.yaml but not in SHA256SUMS"))
        for e in data["entry_points"]:
            for o in e["outputs"]:
                rel = f"outputs/{e['name']}/{o['path']}"
                if o.get("kept") and listed.get(rel) != o["sha256"]:
                    why = "in reprokit.yaml but not in SHA256SUMS" if rel not in listed else "sha256 in reprokit.yaml differs from SHA256SUMS"
                    problems.append(Problem(path=rel, message=why))
        paper_listed = {k[len("paper/"):] for k in listed if k.startswith("paper/")}
        for rel in sorted(paper_listed - {f["path"] for f in data["paper_files"]}):
            problems.append(Problem(path="paper/" + rel, message="not recorded in reprokit.yaml"))
        lock_text = (bundle / "requirements.lock").read_text(encoding="utf-8") if (bundle / "requirements.lock").is_file() else ""
        nix_doc: dict[str, Any] | None = None
        if "nixpkgs" in data:
            nix_doc, nix_problems = read_nix_lock(bundle)
            # Bundles of earlier reprokit versions built from nix/python-packages.nix instead.
            if not (nix_doc is None and (bundle / "nix" / "python-packages.nix").is_file()):
                problems += nix_problems
        built_from = {p["name"]: p["src"]["path"] for p in nix_doc["packages"] if "src" in p} if nix_doc else {}
        tools = data.get("build_tools", {}).get("packages", [])
        kept = {a["path"] for p in [*data["packages"], *tools] for a in p["artifacts"]}
        for rel in sorted(k for k in listed if k.startswith("vendor/") and not k.startswith("vendor/nixpkgs/") and k not in kept):
            problems.append(Problem(path=rel, message="vendored but named by no package or build tool in reprokit.yaml"))
        for tool in tools:
            for a in tool["artifacts"]:
                if listed.get(a["path"]) not in (None, a["sha256"]):
                    problems.append(Problem(path=a["path"], message="sha256 in reprokit.yaml differs from SHA256SUMS"))
                if a["path"] not in listed:
                    problems.append(Problem(path=a["path"], message="in reprokit.yaml but not in SHA256SUMS"))
        for pkg in data["packages"]:
            for a in pkg["artifacts"]:
                if listed.get(a["path"]) not in (None, a["sha256"]):
                    problems.append(Problem(path=a["path"], message="sha256 in reprokit.yaml differs from SHA256SUMS"))
                if a["sha256"] not in lock_text:
                    problems.append(Problem(path="requirements.lock", message=f"does not allow {a['path']} (sha256 {a['sha256'][:12]}…)"))
                if nix_doc and pkg["provider"] == a["kind"] and built_from.get(pkg["name"]) != a["path"]:
                    problems.append(Problem(path=flake.LOCK_JSON, message=f"does not build {pkg['name']} from {a['path']}"))
        if nix_doc:
            problems += nix_source_problems(nix_doc, listed)
            # The flake's checks compare nothing reprokit.yaml does not record, byte for byte.
            recorded = {e["name"]: {o["path"]: o["sha256"] for o in e["outputs"]} for e in data["entry_points"]}
            for e in nix_doc["entryPoints"]:
                mine = recorded.get(e["name"], {})
                if any(mine.get(o["path"]) != o["sha256"] for o in e["outputs"]) or any(o["path"] not in mine for o in e.get("ruled", [])):
                    problems.append(Problem(path=flake.LOCK_JSON, message=f"the outputs its check compares for {e['name']} are not those reprokit.yaml records"))
        if "nixpkgs" in data:
            try:
                node = json.loads((bundle / "flake.lock").read_text(encoding="utf-8"))["nodes"]["nixpkgs"]["locked"]
                pin = data["nixpkgs"]
                for key in ("rev", "narHash", "lastModified"):
                    if node.get(key) != pin[key]:
                        problems.append(Problem(path="flake.lock", message=f"nixpkgs {key} {node.get(key)!r} differs from reprokit.yaml's {pin[key]!r}"))
            except (OSError, ValueError, KeyError, TypeError):
                problems.append(Problem(path="flake.lock", message="missing or not a flake.lock with a nixpkgs node"))
    return Check(name="integrity", ok=not problems, problems=tuple(problems), details=f"{len(listed)} files")


def read_nix_lock(bundle: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The bundle's ``nix/lock.json``, or why it cannot be used."""
    path = bundle / flake.LOCK_JSON
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("reprokit_nix") != flake.LOCK_JSON_FORMAT:
            return None, [Problem(path=flake.LOCK_JSON, message=f"format {doc.get('reprokit_nix')!r}, this reprokit reads {flake.LOCK_JSON_FORMAT}")]
        flake.sources(doc)
        return doc, []
    except OSError:
        return None, [Problem(path=flake.LOCK_JSON, message="missing: the Nix build has nothing to build from")]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, [Problem(path=flake.LOCK_JSON, message="not the JSON reprokit writes")]


def nix_source_problems(doc: dict[str, Any], listed: dict[str, str]) -> list[Problem]:
    """Every file the Nix build names is in vendor/, listed in SHA256SUMS with the same sha256."""
    problems = []
    for rel, sha in sorted(flake.sources(doc).items()):
        if not rel.startswith("vendor/") or ".." in rel.split("/") or rel not in listed:
            problems.append(Problem(path=flake.LOCK_JSON, message=f"builds from {rel}, which the bundle's vendor/ does not hold"))
        elif listed[rel] != sha:
            problems.append(Problem(path=rel, message=f"sha256 in {flake.LOCK_JSON} differs from SHA256SUMS"))
    return problems


_SANDBOX_UNAVAILABLE = re.compile(r"sandboxing builds is not supported|cloning builder process|private mount namespace|could not set up .*sandbox", re.I)
_BUILD_LOG = re.compile(r"^\s*(?:([\w.+-]+)> |> )(.*)$")
_BUILDER_FAILED = re.compile(r"error: builder for '/nix/store/[0-9a-z]{32}-([^']+)\.drv' failed")
_ERROR_LINE = re.compile(r"^(\w*(?:Error|Exception)\b|error\b|ERROR\b|FAILED\b|fatal\b)|: FAILED$|\bnot found\b|No such file", re.I)


def first_error(stderr: str) -> str:
    """The line of a failed ``nix build`` that says what went wrong: the builder's own first
    error line, else Nix's first ``error:``, not the summary Nix ends with."""
    lines = stderr.splitlines()
    failed = next((m.group(1) for ln in lines if (m := _BUILDER_FAILED.search(ln))), None)
    logged = [(m.group(1) or failed, _printable(m.group(2))) for ln in lines if (m := _BUILD_LOG.match(ln))]
    hit = next(((who, text) for who, text in logged if _ERROR_LINE.search(text)), None)
    if hit is not None:
        return f"{hit[0]}: {hit[1]}" if hit[0] else hit[1]
    errors = [ln.strip()[len("error:"):].strip() for ln in lines if ln.strip().startswith("error:")]
    if errors:
        return errors[0]
    rest = [ln.strip() for ln in lines if ln.strip() and "--show-trace" not in ln]
    return rest[-1] if rest else "nix build failed and said nothing"


def _printable(text: str) -> str:
    """A log line as text: some Nix versions print an error they could not start a builder
    with in their binary wire format, its message between control bytes."""
    parts = [p.strip() for p in re.split(r"[\x00-\x08\x0b-\x1f]+", text) if p.strip()]
    return max(parts, key=len) if len(parts) > 1 else text.strip()


def nix_build_command(bundle: Path, nixpkgs: Path | None = None) -> list[str]:
    """``nix build`` of a bundle with Nix's build sandbox on, and no falling back without it."""
    cmd = ["nix", "build", "--no-link", "--no-write-lock-file", "--print-build-logs",
           "--option", "sandbox", "true", "--option", "sandbox-fallback", "false"]
    if nixpkgs is not None:
        cmd += ["--override-input", "nixpkgs", f"path:{nixpkgs}"]
    return cmd + [f"path:{bundle}"]


def rebuild_nix(bundle: Path, data: dict[str, Any], *, nixpkgs: Path | None = None) -> Check:
    """The bundle's flake builds: its sources are vendored, the pinned nixpkgs has the
    interpreter, and ``nix build`` succeeds in Nix's sandbox."""
    if "nixpkgs" not in data:
        return Check(name="rebuild-nix", ok=None, skipped="the bundle has no Nix build (it was archived without one)")
    doc, problems = read_nix_lock(bundle)
    if doc is not None:
        problems = [Problem(path=flake.LOCK_JSON, message=f"builds from {rel}, which is not in the bundle") for rel in flake.missing_sources(bundle, doc)]
    pin = data["nixpkgs"]
    try:
        flake.check_interpreter(NixpkgsPin(channel=pin["channel"], rev=pin["rev"], last_modified=pin["lastModified"], nar_hash=pin["narHash"],
                                           url=pin["url"], source=pin["source"], requested=data["paper"]["date"]), data["python"]["version"])
    except InterpreterUnavailable as exc:
        problems.append(Problem(path="reprokit.yaml", message=str(exc)))
    if problems:
        return Check(name="rebuild-nix", ok=False, problems=tuple(problems))
    if not shutil.which("nix"):
        return Check(name="rebuild-nix", ok=None, skipped="nix is not installed")
    proc = subprocess.run(nix_build_command(bundle, nixpkgs), capture_output=True, text=True,
                          env={**rerun.clean_env(), "NIX_CONFIG": "experimental-features = nix-command flakes"})
    if proc.returncode == 0:
        return Check(name="rebuild-nix", ok=True, details="nix build, sandboxed")
    if _SANDBOX_UNAVAILABLE.search(proc.stderr):
        return Check(name="rebuild-nix", ok=None, skipped=f"nix cannot set up its build sandbox here ({first_error(proc.stderr)}); not built without it")
    return Check(name="rebuild-nix", ok=False, problems=(Problem(path="flake.nix", message=first_error(proc.stderr)),))


def check_completeness(bundle: Path, data: dict) -> Check:  # type: ignore[type-arg]
    result = scan(ScanSettings(path=bundle / "paper", python=data["python"]["version"], use_installed=False))
    locked = {p["name"] for p in data["packages"]}
    problems = []
    for imp in result.imports:
        if imp.kind != "third-party" or imp.optional:
            continue
        if imp.distribution is None or imp.distribution not in locked:
            where = imp.locations[0] if imp.locations else None
            what = imp.distribution or "no known distribution"
            problems.append(Problem(path=f"paper/{where}" if where else None, message=f"imports {imp.module} ({what}), which is not locked"))
    return Check(name="completeness", ok=not problems, problems=tuple(problems))


def open_bundle(path: Path, tmp: Path) -> Path:
    """A bundle folder, or a .tar.gz extracted safely into ``tmp``."""
    if path.is_dir():
        return path
    if not path.is_file():
        raise UsageError(f"{path}: no such bundle")
    try:
        with tarfile.open(path) as tf:
            members = tf.getmembers()
            for m in members:
                if m.isdev() or m.isfifo():
                    raise InputError(f"{path}: member {m.name!r} is a device or FIFO; refused")
            tf.extractall(tmp, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise InputError(f"{path}: unsafe member refused ({exc})") from None
    except tarfile.ReadError:
        raise InputError(f"{path}: not a bundle folder, and not readable as a tarball (gzip, bzip2, xz or plain tar)") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputError(f"{path}: not a readable bundle tarball ({why})") from None
    tops = [p for p in tmp.iterdir()]
    if len(tops) != 1 or not tops[0].is_dir():
        raise InputError(f"{path}: a bundle tarball holds exactly one top folder")
    return tops[0]


def validate(settings: ValidateSettings) -> Report:
    with tempfile.TemporaryDirectory(prefix="reprokit-validate-") as tmp:
        bundle = open_bundle(settings.bundle, Path(tmp))
        integrity = check_integrity(bundle)
        checks = [integrity]
        try:
            data = manifest.read(bundle / "reprokit.yaml")
        except InputError:
            return Report(bundle=str(settings.bundle), checks=tuple(checks), allow_skip=settings.allow_skip)
        checks.append(check_completeness(bundle, data))
        if not integrity.ok and (settings.rebuild != "none" or settings.rerun):
            # Nothing of a bundle that is not what its manifest says may run.
            for name in ([f"rebuild-{settings.rebuild}"] if settings.rebuild != "none" else []) + (["rerun"] if settings.rerun else []):
                checks.append(Check(name=name, ok=False, problems=(Problem(path=None, message="not run: the bundle failed its integrity check"),)))
            return Report(bundle=str(settings.bundle), checks=tuple(checks), allow_skip=settings.allow_skip)
        env = None
        if settings.rebuild == "pip":
            exe, why = rerun.find_python(data["python"]["version"])
            if exe is None:
                checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path=None, message=why),)))
            else:
                airgap = settings.airgap and rerun.can_airgap()
                try:
                    env = rerun.rebuild_pip(bundle, exe, Path(tmp) / "env", airgap=airgap)
                    checks.append(Check(name="rebuild-pip", ok=True, details="offline" + (" (no network)" if airgap else "")))
                except rerun.RebuildFailed as exc:
                    checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path="requirements.lock", message=str(exc)),)))
        elif settings.rebuild == "nix":
            checks.append(rebuild_nix(bundle, data))
        if settings.airgap and not rerun.can_airgap():
            checks.append(Check(name="airgap", ok=None, skipped="could not make a network namespace (needs root or user namespaces)"))
        verdicts: tuple[Verdict, ...] = ()
        ran: tuple[review.EntryPointResult, ...] = ()
        if settings.rerun:
            if env is None:
                checks.append(Check(name="rerun", ok=None, skipped="needs --rebuild pip"))
            else:
                check, ran, verdicts = rerun_check(bundle, data, env, settings.airgap and rerun.can_airgap(), views=settings.report)
                checks.append(check)
        done = Report(bundle=str(settings.bundle), checks=tuple(checks), allow_skip=settings.allow_skip, verdicts=verdicts)
        if not settings.report:
            return done
        return Report(bundle=done.bundle, checks=done.checks, allow_skip=done.allow_skip, verdicts=verdicts,
                      review=gather_review(settings.bundle, bundle, data, done.outcome, ran))


def rerun_check(bundle: Path, data: dict, env: rerun.Env, airgap: bool, *, views: bool = False  # type: ignore[type-arg]
                ) -> tuple[Check, tuple[review.EntryPointResult, ...], tuple[Verdict, ...]]:
    """Rerun every entry point and compare what it wrote with its recorded outputs, each by
    its rule (format-1 manifests record sha256 only: compared by bytes)."""
    eps = [EntryPoint(name=e["name"], kind=e["kind"], path=e["path"], args=tuple(e.get("args", ())),
                      cwd="" if e.get("cwd") == "." else e.get("cwd")) for e in data["entry_points"]]
    problems = []
    verdicts: list[Verdict] = []
    ran: list[review.EntryPointResult] = []
    with tempfile.TemporaryDirectory(prefix="reprokit-outputs-") as tmp:
        written = Path(tmp)
        results = rerun.run_entry_points(bundle / "paper", env, eps, airgap=airgap, collect=written)
        for e, r in zip(data["entry_points"], results, strict=True):
            if not r.ok:
                problems.append(Problem(path=f"paper/{e['path']}", message=r.message))
                ran.append(review.EntryPointResult(name=e["name"], path=e["path"], kind=e["kind"], status="failed", message=r.message))
                continue
            recorded = [RecordedOutput.from_dict(o, f"reprokit.yaml: entry point {e['name']}") for o in e["outputs"]]
            kept, rerun_dir = bundle / "outputs" / e["name"], written / e["name"]
            got = compare_outputs(recorded, kept, rerun_dir)
            for v in got:
                if not v.ok:
                    problems.append(Problem(path=f"paper/{v.path}", message=f"{v.summary} ({e['name']})"))
            verdicts += got
            shown = tuple(review.output_view(v, _recorded_bytes(bundle, e["name"], rec), _read(rerun_dir / v.path))
                          for v, rec in zip(got, recorded, strict=True)) if views else ()
            ran.append(review.EntryPointResult(name=e["name"], path=e["path"], kind=e["kind"], status="ran", outputs=shown))
    same = sum(v.status == "identical" for v in verdicts)
    within = sum(v.status == "equivalent" for v in verdicts)
    check = Check(name="rerun", ok=not problems, problems=tuple(problems),
                  details=f"{same + within} recorded outputs match" + (f" ({same} identical, {within} equivalent within their rules)" if within else ""))
    return check, tuple(ran), tuple(verdicts)


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


def gather_review(shown_as: Path, bundle: Path, data: dict, outcome: Outcome,  # type: ignore[type-arg]
                  ran: tuple[review.EntryPointResult, ...]) -> review.Report:
    paper = data["paper"]
    files = [p for p in bundle.rglob("*") if p.is_file()]
    record = ""
    published = shown_as.with_name(shown_as.name + ".zenodo.json")
    if published.is_file():
        try:
            record = str(json.loads(published.read_text(encoding="utf-8")).get("doi") or "")
        except (OSError, ValueError, AttributeError):
            record = ""
    holdings = review.Holdings(
        files=len(data["paper_files"]), size_bytes=sum(p.stat().st_size for p in files), packages=len(data["packages"]),
        python=data["python"]["version"], platform=data["python"]["platform"],
        nixpkgs=f"{data['nixpkgs']['channel']} @ {data['nixpkgs']['rev'][:12]}", entry_points=len(data["entry_points"]),
        recorded_outputs=sum(len(e["outputs"]) for e in data["entry_points"]), archive_record=record,
    )
    return review.build(
        bundle=str(shown_as), paper=review.Paper(title=paper["title"], authors=tuple(paper["authors"]), doi=paper["doi"], date=paper["date"],
                                                 name=paper["name"]),
        holdings=holdings, outcome=outcome, entry_points=ran, generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        tool_version=__version__,
    )


def render(report: Report) -> str:
    rows = [("CHECK", "RESULT", "DETAILS")]
    words = {"passed": "pass", "failed": "FAIL", "not-run": "NOT RUN"}
    for c in report.checks:
        r = c.result()
        result = words[r.status] + (" (allowed)" if r.status == "not-run" and c.name in report.allow_skip else "")
        rows.append((c.name, result, c.skipped or c.details or (f"{len(c.problems)} problem(s)" if c.problems else "")))
    w0, w1 = (max(len(r[i]) for r in rows) for i in range(2))
    out = [f"{a:<{w0}}  {b:<{w1}}  {d}".rstrip() for a, b, d in rows]
    for c in report.checks:
        for p in c.problems:
            out.append(f"  {c.name}: {p.path + ': ' if p.path else ''}{p.message}")
    out.append("")
    out.append(report.outcome.verdict_line())
    return "\n".join(out) + "\n"
