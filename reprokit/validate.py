"""``reprokit validate``: is a bundle intact, complete, rebuildable, and does it rerun?

Levels, each a :class:`Check` with its problems: integrity (SHA256SUMS, manifest,
flake.lock, lock and flake agree), completeness (every third-party import is locked),
rebuild (pip offline from vendor/, or ``nix build`` in Nix's sandbox), rerun (entry points in the rebuilt
environment, outputs compared by sha256).
"""

from __future__ import annotations

import concurrent.futures
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

from reprokit import flake, manifest, rerun
from reprokit.errors import InputError, InterpreterUnavailable, UsageError
from reprokit.flake import EntryPoint
from reprokit.nixpkgs import NixpkgsPin
from reprokit.fsutil import sha256_file
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

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "skipped": self.skipped,
                "problems": [{"path": p.path, "message": p.message} for p in self.problems]}


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidateSettings:
    bundle: Path
    rebuild: Literal["pip", "nix", "none"] = "none"
    rerun: bool = False
    airgap: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    bundle: str
    checks: tuple[Check, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def to_json(self) -> dict[str, object]:
        return {"reprokit_validate": 1, "bundle": self.bundle, "ok": self.ok, "checks": [c.to_json() for c in self.checks]}


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
        paper_listed = {k[len("paper/"):] for k in listed if k.startswith("paper/")}
        for rel in sorted(paper_listed - {f["path"] for f in data["paper_files"]}):
            problems.append(Problem(path="paper/" + rel, message="not recorded in reprokit.yaml"))
        lock_text = (bundle / "requirements.lock").read_text(encoding="utf-8") if (bundle / "requirements.lock").is_file() else ""
        nix_doc, nix_problems = read_nix_lock(bundle)
        # Bundles of earlier reprokit versions built from nix/python-packages.nix instead.
        if not (nix_doc is None and (bundle / "nix" / "python-packages.nix").is_file()):
            problems += nix_problems
        built_from = {p["name"]: p["src"]["path"] for p in nix_doc["packages"] if "src" in p} if nix_doc else {}
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
            recorded = {e["name"]: e["outputs"] for e in nix_doc["entryPoints"]}
            for e in data["entry_points"]:
                if recorded.get(e["name"]) != e["outputs"]:
                    problems.append(Problem(path=flake.LOCK_JSON, message=f"the outputs its check compares for {e['name']} are not those reprokit.yaml records"))
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
        checks = [check_integrity(bundle)]
        try:
            data = manifest.read(bundle / "reprokit.yaml")
        except InputError:
            return Report(bundle=str(settings.bundle), checks=tuple(checks))
        checks.append(check_completeness(bundle, data))
        vpy = None
        if settings.rebuild == "pip":
            exe, why = rerun.find_python(data["python"]["version"])
            if exe is None:
                checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path=None, message=why),)))
            else:
                airgap = settings.airgap and rerun.can_airgap()
                try:
                    vpy = rerun.rebuild_pip(bundle, exe, Path(tmp) / "env", airgap=airgap)
                    checks.append(Check(name="rebuild-pip", ok=True, details="offline" + (" (no network)" if airgap else "")))
                except rerun.RebuildFailed as exc:
                    checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path="requirements.lock", message=str(exc)),)))
        elif settings.rebuild == "nix":
            checks.append(rebuild_nix(bundle, data))
        if settings.airgap and not rerun.can_airgap():
            checks.append(Check(name="airgap", ok=None, skipped="could not make a network namespace (needs root or user namespaces)"))
        if settings.rerun:
            if vpy is None:
                checks.append(Check(name="rerun", ok=None, skipped="needs --rebuild pip"))
            else:
                checks.append(rerun_check(bundle, data, vpy, settings.airgap and rerun.can_airgap()))
        return Report(bundle=str(settings.bundle), checks=tuple(checks))


def rerun_check(bundle: Path, data: dict, vpy: Path, airgap: bool) -> Check:  # type: ignore[type-arg]
    eps = [EntryPoint(name=e["name"], kind=e["kind"], path=e["path"]) for e in data["entry_points"]]
    results = rerun.run_entry_points(bundle / "paper", vpy, eps, airgap=airgap)
    problems = []
    matched = 0
    for e, r in zip(data["entry_points"], results, strict=True):
        if not r.ok:
            problems.append(Problem(path=f"paper/{e['path']}", message=r.message))
            continue
        for o in e["outputs"]:
            got = r.outputs.get(o["path"])
            if got is None:
                problems.append(Problem(path=f"paper/{o['path']}", message=f"{e['name']} did not write it"))
            elif got != o["sha256"]:
                problems.append(Problem(path=f"paper/{o['path']}", message=f"differs from the recorded output of {e['name']}"))
            else:
                matched += 1
    return Check(name="rerun", ok=not problems, problems=tuple(problems), details=f"{matched} recorded outputs match")


def render(report: Report) -> str:
    rows = [("CHECK", "RESULT", "DETAILS")]
    for c in report.checks:
        result = "skipped" if c.ok is None else ("pass" if c.ok else "FAIL")
        rows.append((c.name, result, c.skipped or c.details or (f"{len(c.problems)} problem(s)" if c.problems else "")))
    w0, w1 = (max(len(r[i]) for r in rows) for i in range(2))
    out = [f"{a:<{w0}}  {b:<{w1}}  {d}".rstrip() for a, b, d in rows]
    for c in report.checks:
        for p in c.problems:
            out.append(f"  {c.name}: {p.path + ': ' if p.path else ''}{p.message}")
    out.append("")
    out.append("OK: every requested check passed" if report.ok else "FAILED")
    return "\n".join(out) + "\n"
