"""``reprokit validate``: is a bundle intact, complete, rebuildable, and does it rerun?

Levels, each a :class:`Check` with its problems: integrity (SHA256SUMS, manifest,
flake.lock; requirements.lock, pylock.toml and the flake agree with the manifest), completeness (every third-party import is locked),
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
import stat
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from reprokit import __version__, flake, manifest, pypi, rerun, sandbox, tarball
from reprokit import lock as lock_mod
from reprokit import report as review
from reprokit.checks import CheckResult, Outcome, from_legacy, judge
from reprokit.errors import InputError, InterpreterUnavailable, RebuildFailed, ReprokitError
from reprokit.fsutil import files_under, sha256_file
from reprokit.manifest import Manifest
from reprokit.outputs import RecordedOutput, Verdict, compare_outputs
from reprokit.scan import ScanSettings, scan

# verify.py is copied from reprokit's template; a bundle's must be that file, byte for
# byte, for the manifest format it was written with.
# The verify.py each manifest format ships. Formats 1 and 2 ship the same script; when it
# changes, the old one is kept under its own name here so older bundles still validate.
VERIFY_TEMPLATES = {1: "verify_template.py", 2: "verify_template.py"}


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


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    bundle: str
    checks: tuple[Check, ...] = field(default=())
    allow_skip: frozenset[str] = frozenset()
    verdicts: tuple[Verdict, ...] = ()
    review: review.Report | None = None
    # How bundle code ran: sandboxed or not, with or without network; "" when none ran.
    sandbox: str = ""

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
                "outputs": [v.to_json() for v in self.verdicts]}


# The text files validate reads whole are far smaller than this in any bundle reprokit
# writes; a larger one is refused rather than read into memory.
MAX_TEXT = 64 << 20


def small_text(path: Path) -> str:
    """A text file of the bundle, read whole only when it is of a sane size."""
    if path.stat().st_size > MAX_TEXT:
        raise ValueError(f"larger than {MAX_TEXT >> 20} MiB")
    return path.read_text(encoding="utf-8")


def read_sums(bundle: Path) -> tuple[dict[str, str], list[Problem]]:
    listed: dict[str, str] = {}
    problems = []
    try:
        text = small_text(bundle / "SHA256SUMS")
    except OSError:
        return {}, [Problem(path="SHA256SUMS", message="missing")]
    except ValueError as exc:
        return {}, [Problem(path="SHA256SUMS", message=f"not a SHA256SUMS file ({exc})")]
    for n, line in enumerate(text.splitlines(), 1):
        m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
        if not m:
            problems.append(Problem(path="SHA256SUMS", message=f"line {n} is not 'SHA256  PATH'"))
            continue
        listed[m.group(2)] = m.group(1)
    return listed, problems


def safe_relpath(text: str) -> str | None:
    """Why ``text`` is not a plain relative path inside its folder, or None."""
    if not text or text.startswith(("/", "-", "~")) or "\\" in text or any(ord(c) < 32 for c in text):
        return "not a plain relative path"
    if any(part in ("", ".", "..") for part in text.split("/")):
        return "has an empty, '.' or '..' part"
    return None


def check_entry_points(bundle: Path, man: Manifest) -> list[Problem]:
    """Entry points are files of paper/ (no options, no '..', no links out) of their kind."""
    problems = []
    paper = bundle / "paper"
    recorded = {f.path for f in man.paper_files}
    for e in man.entry_points:
        rel, kind = e.path, e.entry_point.kind
        why = safe_relpath(rel)
        if why is None and rel not in recorded:
            why = "not a file recorded in reprokit.yaml's paper_files"
        if why is None:
            target = paper / rel
            if any(p.is_symlink() for p in [target, *target.parents] if p != paper and paper in p.parents):
                why = "goes through a symlink"
            elif not target.is_file():
                why = "not a file"
            elif (kind == "notebook") != rel.endswith(".ipynb") or not rel.endswith((".py", ".ipynb")):
                why = f"a {kind} entry point must be a {'.ipynb' if kind == 'notebook' else '.py'} file"
        if why:
            problems.append(Problem(path="reprokit.yaml", message=f"entry point {rel!r}: {why}; entry points are files in paper/"))
        for o in e.outputs:
            owhy = safe_relpath(o.recorded.path)
            if owhy:
                problems.append(Problem(path="reprokit.yaml", message=f"output {o.recorded.path!r} of {e.name}: {owhy}"))
    return problems


def check_requirements(bundle: Path, man: Manifest) -> list[Problem]:
    """requirements.lock is exactly what reprokit writes, and pins what the manifest locks."""
    path = bundle / "requirements.lock"
    try:
        text = small_text(path)
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return [Problem(path="requirements.lock", message="missing, too large or not UTF-8 text")]
    pins, bad = lock_mod.parse_requirements(text)
    problems = [Problem(path="requirements.lock", message=f"line {n}: {why}") for n, why in bad]
    pinned = {p.name.lower().replace("_", "-"): p for p in pins}
    for pkg in man.packages:
        got = pinned.pop(pkg.name.lower().replace("_", "-"), None)
        if got is None:
            problems.append(Problem(path="requirements.lock", message=f"does not pin {pkg.name}, which reprokit.yaml locks"))
        elif got.version != pkg.version:
            problems.append(Problem(path="requirements.lock", message=f"line {got.line}: pins {got.name}=={got.version}, reprokit.yaml locks {pkg.version}"))
        else:
            for a in pkg.artifacts:
                if a.sha256 not in got.hashes:
                    problems.append(Problem(path="requirements.lock", message=f"does not allow {a.path} (sha256 {a.sha256[:12]}…)"))
    for extra in pinned.values():
        problems.append(Problem(path="requirements.lock", message=f"line {extra.line}: pins {extra.name}, which reprokit.yaml does not lock"))
    return problems


def check_pylock(bundle: Path, man: Manifest) -> list[Problem]:
    """pylock.toml is a PEP 751 lock (as ``packaging.pylock`` reads it) of what the manifest
    locks: the same Python, every package at its version, every vendored file by its
    path, sha256 and size. Bundles made before reprokit wrote it have none."""
    path = bundle / "pylock.toml"
    if not path.is_file():
        return []
    try:
        locked = lock_mod.parse_pylock(small_text(path))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return [Problem(path="pylock.toml", message="too large or not UTF-8 text")]
    except InputError as exc:
        return [Problem(path="pylock.toml", message=str(exc).split(": ", 1)[-1])]
    problems = []
    python = man.python.version
    if locked.requires_python != SpecifierSet(f"=={python}.*"):
        problems.append(Problem(path="pylock.toml", message=f"requires-python is {locked.requires_python}, reprokit.yaml targets Python {python}"))
    listed = {p.name: p for p in locked.packages}
    for pkg in man.packages:
        got = listed.pop(canonicalize_name(pkg.name), None)
        if got is None:
            problems.append(Problem(path="pylock.toml", message=f"does not lock {pkg.name}, which reprokit.yaml locks"))
            continue
        if got.version != Version(pkg.version):
            problems.append(Problem(path="pylock.toml", message=f"locks {got.name} {got.version}, reprokit.yaml locks {pkg.version}"))
            continue
        files = lock_mod.pylock_files(got)
        for a in pkg.artifacts:
            f = files.pop(a.path, None)
            if f is None:
                problems.append(Problem(path="pylock.toml", message=f"does not name {a.path}, which reprokit.yaml vendors for {pkg.name}"))
            elif f != (a.sha256, a.size):
                problems.append(Problem(path="pylock.toml", message=f"gives {a.path} another sha256 or size than reprokit.yaml"))
        for extra in files:
            problems.append(Problem(path="pylock.toml", message=f"names {extra} for {got.name}, which reprokit.yaml does not vendor"))
    for extra in listed:
        problems.append(Problem(path="pylock.toml", message=f"locks {extra}, which reprokit.yaml does not"))
    return problems


def check_verify_py(bundle: Path, man: Manifest) -> list[Problem]:
    template = VERIFY_TEMPLATES.get(man.format)
    if template is None:
        return [Problem(path="verify.py", message=f"no verify.py template for manifest format {man.format}")]
    want = resources.files("reprokit").joinpath(template).read_bytes()
    try:
        path = bundle / "verify.py"
        same = path.stat().st_size == len(want) and path.read_bytes() == want
    except OSError:
        return []  # missing: SHA256SUMS already says so
    return [] if same else [Problem(path="verify.py", message="is not reprokit's verify.py; it may do anything when run: do not run it")]


def _digest(path: Path) -> str | OSError:
    try:
        return sha256_file(path)
    except OSError as exc:
        return exc


def check_integrity(bundle: Path) -> Check:
    listed, problems = read_sums(bundle)
    for rel in listed:
        why = safe_relpath(rel)
        if why:
            problems.append(Problem(path="SHA256SUMS", message=f"{rel!r}: {why}"))
    listed = {rel: d for rel, d in listed.items() if not safe_relpath(rel)}
    try:
        actual = set(files_under(bundle))
    except OSError as exc:
        where = Path(exc.filename).relative_to(bundle).as_posix() if exc.filename and Path(exc.filename) != bundle else None
        return Check(name="integrity", ok=False, problems=(Problem(path=where, message=f"cannot be read ({exc.strerror})"),))
    actual.discard("SHA256SUMS")
    actual.discard(".reprokit-published.json")
    for rel in sorted(set(listed) - actual):
        problems.append(Problem(path=rel, message="listed in SHA256SUMS but missing"))
    for rel in sorted(actual - set(listed)):
        problems.append(Problem(path=rel, message="not listed in SHA256SUMS (added or renamed?)"))
    present = sorted(set(listed) & actual)
    links = {rel for rel in present if (bundle / rel).is_symlink()}
    for rel in sorted(links):
        problems.append(Problem(path=rel, message="is a symlink; bundles hold regular files only"))
    sizes: dict[str, int] = {}
    for rel in sorted(set(present) - links):
        st = os.lstat(bundle / rel)
        if stat.S_ISREG(st.st_mode):
            sizes[rel] = st.st_size
        else:  # a FIFO or a device would block or never end a read
            problems.append(Problem(path=rel, message="is not a regular file; bundles hold regular files only"))
    # hashlib releases the GIL: hashing on every core beats sha256sum's one. Largest
    # files first, so one big file does not finish last on its own.
    order = sorted(sizes, key=lambda r: -sizes[r])
    with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
        digests = dict(zip(order, pool.map(lambda rel: _digest(bundle / rel), order), strict=True))
    for rel in sorted(sizes):
        if isinstance(digests[rel], OSError):
            problems.append(Problem(path=rel, message=f"cannot be read ({digests[rel].strerror})"))  # type: ignore[union-attr]
        elif digests[rel] != listed[rel]:
            problems.append(Problem(path=rel, message="sha256 differs from SHA256SUMS"))
    man = None
    try:
        man = manifest.read(bundle / "reprokit.yaml")
    except InputError as exc:
        problems.append(Problem(path="reprokit.yaml", message=str(exc).split(": ", 1)[-1]))
    if man is not None:
        for f in man.paper_files:
            rel = "paper/" + f.path
            if listed.get(rel) not in (None, f.sha256):
                problems.append(Problem(path=rel, message="sha256 in reprokit.yaml differs from SHA256SUMS"))
            if rel not in listed:
                problems.append(Problem(path=rel, message="in reprokit.yaml but not in SHA256SUMS"))
        for e in man.entry_points:
            for o in e.outputs:
                rel = f"outputs/{e.name}/{o.recorded.path}"
                if o.recorded.kept and listed.get(rel) != o.recorded.sha256:
                    why = "in reprokit.yaml but not in SHA256SUMS" if rel not in listed else "sha256 in reprokit.yaml differs from SHA256SUMS"
                    problems.append(Problem(path=rel, message=why))
        paper_listed = {k[len("paper/"):] for k in listed if k.startswith("paper/")}
        for rel in sorted(paper_listed - {f.path for f in man.paper_files}):
            problems.append(Problem(path="paper/" + rel, message="not recorded in reprokit.yaml"))
        try:
            lock_text = small_text(bundle / "requirements.lock")
        except (OSError, ValueError):
            lock_text = ""
        problems += check_requirements(bundle, man)
        problems += check_pylock(bundle, man)
        problems += check_entry_points(bundle, man)
        problems += check_verify_py(bundle, man)
        nix_doc: dict[str, Any] | None = None
        if man.nixpkgs is not None:
            nix_doc, nix_problems = read_nix_lock(bundle)
            # Bundles of earlier reprokit versions built from nix/python-packages.nix instead.
            if not (nix_doc is None and (bundle / "nix" / "python-packages.nix").is_file()):
                problems += nix_problems
        built_from = {p["name"]: p["src"]["path"] for p in nix_doc["packages"] if "src" in p} if nix_doc else {}
        tools = man.build_tools.packages if man.build_tools else ()
        kept = {a.path for a in [*(a for p in man.packages for a in p.artifacts), *(a for t in tools for a in t.artifacts)]}
        for rel in sorted(k for k in listed if k.startswith("vendor/") and not k.startswith("vendor/nixpkgs/") and k not in kept):
            problems.append(Problem(path=rel, message="vendored but named by no package or build tool in reprokit.yaml"))
        for tool in tools:
            for a in tool.artifacts:
                if listed.get(a.path) not in (None, a.sha256):
                    problems.append(Problem(path=a.path, message="sha256 in reprokit.yaml differs from SHA256SUMS"))
                if a.path not in listed:
                    problems.append(Problem(path=a.path, message="in reprokit.yaml but not in SHA256SUMS"))
        for pkg in man.packages:
            for a in pkg.artifacts:
                if listed.get(a.path) not in (None, a.sha256):
                    problems.append(Problem(path=a.path, message="sha256 in reprokit.yaml differs from SHA256SUMS"))
                if a.sha256 not in lock_text:
                    problems.append(Problem(path="requirements.lock", message=f"does not allow {a.path} (sha256 {a.sha256[:12]}…)"))
                if nix_doc and pkg.provider == a.kind and built_from.get(pkg.name) != a.path:
                    problems.append(Problem(path=flake.LOCK_JSON, message=f"does not build {pkg.name} from {a.path}"))
        if nix_doc:
            problems += nix_source_problems(nix_doc, listed)
            # The flake's checks compare nothing reprokit.yaml does not record, byte for byte.
            recorded = {e.name: {o.recorded.path: o.recorded.sha256 for o in e.outputs} for e in man.entry_points}
            for e in nix_doc["entryPoints"]:
                mine = recorded.get(e["name"], {})
                if any(mine.get(o["path"]) != o["sha256"] for o in e["outputs"]) or any(o["path"] not in mine for o in e.get("ruled", [])):
                    problems.append(Problem(path=flake.LOCK_JSON, message=f"the outputs its check compares for {e['name']} are not those reprokit.yaml records"))
            if list(nix_doc.get("pythonPath", [])) != list(man.python_path):
                problems.append(Problem(path=flake.LOCK_JSON, message="its pythonPath is not reprokit.yaml's python_path"))
        if man.nixpkgs is not None:
            pin = man.nixpkgs
            try:
                node = json.loads(small_text(bundle / "flake.lock"))["nodes"]["nixpkgs"]["locked"]
                for key, want in (("rev", pin.rev), ("narHash", pin.nar_hash), ("lastModified", pin.last_modified)):
                    if node.get(key) != want:
                        problems.append(Problem(path="flake.lock", message=f"nixpkgs {key} {node.get(key)!r} differs from reprokit.yaml's {want!r}"))
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
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
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
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


def nix_build_command(bundle: Path, nixpkgs: Path | None = None, *, sandboxed: bool = True) -> list[str]:
    """``nix build`` of a bundle with Nix's build sandbox on, and no falling back without it."""
    cmd = ["nix", "build", "--no-link", "--no-write-lock-file", "--print-build-logs"]
    cmd += ["--option", "sandbox", "true", "--option", "sandbox-fallback", "false"] if sandboxed else ["--option", "sandbox", "false"]
    if nixpkgs is not None:
        cmd += ["--override-input", "nixpkgs", f"path:{nixpkgs}"]
    return cmd + [f"path:{bundle}"]


def rebuild_nix(bundle: Path, man: Manifest, *, nixpkgs: Path | None = None, allow_unsandboxed: bool = False) -> Check:
    """The bundle's flake builds: its sources are vendored, the pinned nixpkgs has the
    interpreter, and ``nix build`` succeeds with Nix's build sandbox on. Where Nix will
    not sandbox builds, nothing is built unless the user allowed it. Evaluation is pure
    (flakes), the environment allowlisted."""
    if man.nixpkgs is None:
        return Check(name="rebuild-nix", ok=None, skipped="the bundle has no Nix build (it was archived without one)")
    doc, problems = read_nix_lock(bundle)
    if doc is not None:
        problems = [Problem(path=flake.LOCK_JSON, message=f"builds from {rel}, which is not in the bundle") for rel in flake.missing_sources(bundle, doc)]
    try:
        flake.check_interpreter(man.nixpkgs, man.python.version)
    except InterpreterUnavailable as exc:
        problems.append(Problem(path="reprokit.yaml", message=str(exc)))
    if problems:
        return Check(name="rebuild-nix", ok=False, problems=tuple(problems))
    nix = shutil.which("nix")
    if not nix:
        return Check(name="rebuild-nix", ok=None, skipped="nix is not installed")
    with tempfile.TemporaryDirectory(prefix="reprokit-nix-home-") as home:
        env = sandbox.environment({"NIX_CONFIG": "experimental-features = nix-command flakes", "PATH": str(Path(nix).parent),
                                   "XDG_CACHE_HOME": f"{home}/.cache"}, home=home)
        if not allow_unsandboxed:
            shown = subprocess.run([nix, "show-config"], capture_output=True, text=True, env=env, timeout=120)
            setting = re.search(r"^sandbox = (\S+)$", shown.stdout, re.M)
            daemon = Path("/nix/var/nix/daemon-socket/socket").exists()
            if os.geteuid() != 0 and daemon and (setting is None or setting.group(1) == "false"):
                return Check(name="rebuild-nix", ok=False, problems=(Problem(path=None, message=(
                    "the Nix daemon builds without its sandbox (sandbox = false) and only a trusted user may turn it on; "
                    "nothing was built (set sandbox = true in nix.conf, or pass --nix-without-sandbox)")),))
        proc = subprocess.run(nix_build_command(bundle, nixpkgs, sandboxed=not allow_unsandboxed), capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if not allow_unsandboxed and any("ignoring the client-specified setting 'sandbox'" in ln for ln in lines):
        return Check(name="rebuild-nix", ok=False, problems=(Problem(path=None, message=(
            "the Nix daemon ignored 'sandbox = true' (not a trusted user): the build may have run unsandboxed; "
            "set sandbox = true in nix.conf")),))
    if proc.returncode == 0:
        return Check(name="rebuild-nix", ok=True, details="Nix sandbox " + ("off (--nix-without-sandbox)" if allow_unsandboxed else "on"))
    if not allow_unsandboxed and _SANDBOX_UNAVAILABLE.search(proc.stderr):
        return Check(name="rebuild-nix", ok=False, problems=(Problem(path=None, message=(
            f"Nix cannot sandbox builds here ({first_error(proc.stderr)}); nothing was built unsandboxed (--nix-without-sandbox builds anyway)")),))
    return Check(name="rebuild-nix", ok=False, problems=(Problem(path="flake.nix", message=first_error(proc.stderr)),))


def check_completeness(bundle: Path, man: Manifest) -> Check:
    """Every third-party import of the paper is provided by a locked distribution. The scan
    here is offline: an import only a distribution's files tell (``labellines`` from
    matplotlib-label-lines) is taken from the manifest, when that distribution is locked and
    its vendored files hold the module."""
    result = scan(ScanSettings(path=bundle / "paper", python=man.python.version))
    locked = {p.name for p in man.packages}
    matched = {i.module.split(".")[0]: i.distribution for i in man.imports if i.distribution in locked}
    problems = []
    for imp in result.imports:
        if imp.kind != "third-party" or imp.optional:
            continue
        if (imp.distribution is None or imp.distribution not in locked) and not _vendored_provides(bundle, man, matched.get(imp.top), imp.top):
            where = imp.locations[0] if imp.locations else None
            what = imp.distribution or "no known distribution"
            problems.append(Problem(path=f"paper/{where}" if where else None, message=f"imports {imp.module} ({what}), which is not locked"))
    return Check(name="completeness", ok=not problems, problems=tuple(problems))


def _vendored_provides(bundle: Path, man: Manifest, distribution: str | None, module: str) -> bool:
    """Whether a vendored file of ``distribution`` holds the top-level ``module``."""
    for package in man.packages:
        if distribution is None or package.name != distribution:
            continue
        for artifact in package.artifacts:
            path = bundle / artifact.path
            if not artifact.path.startswith("vendor/") or not path.is_file() or path.is_symlink():
                continue
            try:
                if module in pypi.top_level_modules(pypi.file_names(path)):
                    return True
            except ReprokitError:
                continue
    return False


def open_bundle(path: Path, tmp: Path, caps: tarball.Caps | None = None) -> Path:
    """A bundle folder, or a .tar.gz extracted safely into ``tmp``."""
    return tarball.open_bundle(path, tmp, caps or tarball.Caps())


def validate(settings: ValidateSettings) -> Report:
    with tempfile.TemporaryDirectory(prefix="reprokit-validate-") as tmp:
        bundle = open_bundle(settings.bundle, Path(tmp), settings.caps).absolute()
        integrity = check_integrity(bundle)
        checks = [integrity]
        try:
            man = manifest.read(bundle / "reprokit.yaml")
        except InputError:
            return Report(bundle=str(settings.bundle), checks=tuple(checks), allow_skip=settings.allow_skip)
        checks.append(check_completeness(bundle, man))
        ran: tuple[review.EntryPointResult, ...] = ()
        verdicts: tuple[Verdict, ...] = ()
        how = ""
        if settings.rebuild != "none" or settings.rerun:
            more, ran, verdicts, how = run_bundle_code(settings, bundle, man, integrity, Path(tmp))
            checks += more
        done = Report(bundle=str(settings.bundle), checks=tuple(checks), allow_skip=settings.allow_skip, verdicts=verdicts, sandbox=how)
        if not settings.report:
            return done
        return Report(bundle=done.bundle, checks=done.checks, allow_skip=done.allow_skip, verdicts=verdicts, sandbox=done.sandbox,
                      review=gather_review(settings.bundle, bundle, man, done.outcome, ran))


def run_bundle_code(settings: ValidateSettings, bundle: Path, man: Manifest, integrity: Check, tmp: Path
                    ) -> tuple[list[Check], tuple[review.EntryPointResult, ...], tuple[Verdict, ...], str]:
    """The checks that run the bundle's code: rebuild and rerun. They run only when the
    bundle is intact and the sandbox can be set up (or --no-sandbox was given)."""
    wanted = ([f"rebuild-{settings.rebuild}"] if settings.rebuild != "none" else []) + (["rerun"] if settings.rerun else [])
    if not integrity.ok:
        # Fail closed: code from a bundle that is not what its author sealed never runs.
        return [Check(name=w, ok=None, skipped="not run: integrity failed, and nothing of such a bundle runs") for w in wanted], (), (), ""
    policy = sandbox.Policy(contained=settings.sandboxed, network=settings.network, limits=settings.limits)
    why = sandbox.available() if settings.sandboxed else None
    if why is not None:
        return [Check(name="sandbox", ok=False, problems=(Problem(path=None, message=f"{why}; --no-sandbox runs bundle code uncontained"),)),
                *[Check(name=w, ok=None, skipped="not run: no sandbox") for w in wanted]], (), (), ""
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
    if settings.rerun:
        if env is None:
            checks.append(Check(name="rerun", ok=None, skipped="needs --rebuild pip"))
        else:
            check, ran, verdicts = rerun_check(bundle, man, env, policy, views=settings.report, timeout=settings.run_timeout,
                                               progress=settings.progress)
            checks.append(check)
    return checks, ran, verdicts, policy.describe()


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
    with tempfile.TemporaryDirectory(prefix="reprokit-outputs-") as tmp:
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

