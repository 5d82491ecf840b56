"""``reprokit validate``: is a bundle intact, complete, rebuildable, and does it rerun?

Levels, each a :class:`Check` with its problems: integrity (SHA256SUMS, manifest,
flake.lock, lock and flake agree), completeness (every third-party import is locked),
rebuild (pip offline from vendor/, or ``nix build``), rerun (entry points in the rebuilt
environment, outputs compared by sha256).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from reprokit import manifest, rerun, sandbox, tarball
from reprokit import lock as lock_mod
from reprokit.errors import InputError
from reprokit.flake import EntryPoint
from reprokit.fsutil import files_under, sha256_file
from reprokit.scan import ScanSettings, scan

# verify.py is copied from reprokit's template; a bundle's must be that file, byte for
# byte, for the manifest format it was written with.
VERIFY_TEMPLATES = {1: "verify_template.py"}


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
    # Bundle code (build backends, entry points) runs in the sandbox with no network
    # unless asked; ``sandboxed=False`` is the explicit --no-sandbox.
    network: bool = False
    sandboxed: bool = True
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    # nix build runs with Nix's own sandbox on, or not at all, unless this is set.
    nix_without_sandbox: bool = False
    caps: tarball.Caps = field(default_factory=tarball.Caps)


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    bundle: str
    checks: tuple[Check, ...] = field(default=())
    # How bundle code ran: sandboxed or not, with or without network; "" when none ran.
    sandbox: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def to_json(self) -> dict[str, object]:
        return {"reprokit_validate": 1, "bundle": self.bundle, "ok": self.ok, "sandbox": self.sandbox or None,
                "checks": [c.to_json() for c in self.checks]}


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


def check_entry_points(bundle: Path, data: dict[str, Any]) -> list[Problem]:
    """Entry points are files of paper/ (no options, no '..', no links out) of their kind."""
    problems = []
    paper = bundle / "paper"
    recorded = {f["path"] for f in data["paper_files"]}
    for e in data["entry_points"]:
        rel = e["path"]
        why = safe_relpath(rel)
        if why is None and rel not in recorded:
            why = "not a file recorded in reprokit.yaml's paper_files"
        if why is None:
            target = paper / rel
            if any(p.is_symlink() for p in [target, *target.parents] if p != paper and paper in p.parents):
                why = "goes through a symlink"
            elif not target.is_file():
                why = "not a file"
            elif (e["kind"] == "notebook") != rel.endswith(".ipynb") or not rel.endswith((".py", ".ipynb")):
                why = f"a {e['kind']} entry point must be a {'.ipynb' if e['kind'] == 'notebook' else '.py'} file"
        if why:
            problems.append(Problem(path="reprokit.yaml", message=f"entry point {rel!r}: {why}; entry points are files in paper/"))
        for o in e["outputs"]:
            owhy = safe_relpath(o["path"])
            if owhy:
                problems.append(Problem(path="reprokit.yaml", message=f"output {o['path']!r} of {e['name']}: {owhy}"))
    return problems


def check_requirements(bundle: Path, data: dict[str, Any]) -> list[Problem]:
    """requirements.lock is exactly what reprokit writes, and pins what the manifest locks."""
    path = bundle / "requirements.lock"
    try:
        text = small_text(path)
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return [Problem(path="requirements.lock", message="missing, too large or not UTF-8 text")]
    pins, bad = lock_mod.parse_requirements(text)
    problems = [Problem(path="requirements.lock", message=f"line {n}: {why}") for n, why in bad]
    pinned = {p.name.lower().replace("_", "-"): p for p in pins}
    for pkg in data["packages"]:
        got = pinned.pop(pkg["name"].lower().replace("_", "-"), None)
        if got is None:
            problems.append(Problem(path="requirements.lock", message=f"does not pin {pkg['name']}, which reprokit.yaml locks"))
        elif got.version != pkg["version"]:
            problems.append(Problem(path="requirements.lock", message=f"line {got.line}: pins {got.name}=={got.version}, reprokit.yaml locks {pkg['version']}"))
        else:
            for a in pkg["artifacts"]:
                if a["sha256"] not in got.hashes:
                    problems.append(Problem(path="requirements.lock", message=f"does not allow {a['path']} (sha256 {a['sha256'][:12]}…)"))
    for extra in pinned.values():
        problems.append(Problem(path="requirements.lock", message=f"line {extra.line}: pins {extra.name}, which reprokit.yaml does not lock"))
    return problems


def check_verify_py(bundle: Path, data: dict[str, Any]) -> list[Problem]:
    template = VERIFY_TEMPLATES.get(data["reprokit_manifest"])
    if template is None:
        return [Problem(path="verify.py", message=f"no verify.py template for manifest format {data['reprokit_manifest']}")]
    want = resources.files("reprokit").joinpath(template).read_bytes()
    try:
        path = bundle / "verify.py"
        same = path.stat().st_size == len(want) and path.read_bytes() == want
    except OSError:
        return []  # missing: SHA256SUMS already says so
    return [] if same else [Problem(path="verify.py", message="is not reprokit's verify.py; it may do anything when run: do not run it")]


def check_integrity(bundle: Path) -> Check:
    listed, problems = read_sums(bundle)
    for rel in listed:
        why = safe_relpath(rel)
        if why:
            problems.append(Problem(path="SHA256SUMS", message=f"{rel!r}: {why}"))
    listed = {rel: d for rel, d in listed.items() if not safe_relpath(rel)}
    actual = set(files_under(bundle))
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
        try:
            nix_text = small_text(bundle / "nix" / "python-packages.nix")
        except (OSError, ValueError):
            nix_text = ""
        problems += check_requirements(bundle, data)
        problems += check_entry_points(bundle, data)
        problems += check_verify_py(bundle, data)
        for pkg in data["packages"]:
            for a in pkg["artifacts"]:
                if listed.get(a["path"]) not in (None, a["sha256"]):
                    problems.append(Problem(path=a["path"], message="sha256 in reprokit.yaml differs from SHA256SUMS"))
                if pkg["provider"] != "nixpkgs" and a["kind"] == ("wheel" if pkg["provider"] == "wheel" else "sdist") and a["path"].rsplit("/", 1)[-1] not in nix_text:
                    problems.append(Problem(path="nix/python-packages.nix", message=f"does not build {pkg['name']} from {a['path']}"))
        try:
            node = json.loads(small_text(bundle / "flake.lock"))["nodes"]["nixpkgs"]["locked"]
            pin = data["nixpkgs"]
            for key in ("rev", "narHash", "lastModified"):
                if node.get(key) != pin[key]:
                    problems.append(Problem(path="flake.lock", message=f"nixpkgs {key} {node.get(key)!r} differs from reprokit.yaml's {pin[key]!r}"))
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(Problem(path="flake.lock", message="missing or not a flake.lock with a nixpkgs node"))
    return Check(name="integrity", ok=not problems, problems=tuple(problems), details=f"{len(listed)} files")


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


def open_bundle(path: Path, tmp: Path, caps: tarball.Caps | None = None) -> Path:
    """A bundle folder, or a .tar.gz extracted safely into ``tmp``."""
    return tarball.open_bundle(path, tmp, caps or tarball.Caps())


def nix_build(bundle: Path, allow_unsandboxed: bool) -> Check:
    """``nix build`` with Nix's own sandbox on; where Nix will not sandbox, nothing is built
    unless the user allowed it. Evaluation is pure (flakes), the environment allowlisted."""
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
        cmd = [nix, "build", "--no-link", "--option", "sandbox", "false" if allow_unsandboxed else "true", f"path:{bundle}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    refused = [ln for ln in lines if "ignoring the client-specified setting 'sandbox'" in ln]
    if refused and not allow_unsandboxed:
        return Check(name="rebuild-nix", ok=False, problems=(Problem(path=None, message=(
            "the Nix daemon ignored 'sandbox = true' (not a trusted user): the build may have run unsandboxed; "
            "set sandbox = true in nix.conf")),))
    if proc.returncode != 0:
        sandbox_error = [ln for ln in lines if "sandbox" in ln.lower() and ("not supported" in ln or "cannot" in ln or "unable" in ln)]
        if sandbox_error and not allow_unsandboxed:
            return Check(name="rebuild-nix", ok=False, problems=(Problem(path=None, message=(
                f"Nix cannot sandbox builds here ({sandbox_error[0].strip()}); nothing was built unsandboxed "
                "(--nix-without-sandbox builds anyway)")),))
        return Check(name="rebuild-nix", ok=False, problems=(Problem(path="flake.nix", message=(lines[-1:] or [f"exit {proc.returncode}"])[0]),))
    return Check(name="rebuild-nix", ok=True, details="Nix sandbox " + ("off (--nix-without-sandbox)" if allow_unsandboxed else "on"))


def validate(settings: ValidateSettings) -> Report:
    with tempfile.TemporaryDirectory(prefix="reprokit-validate-") as tmp:
        bundle = open_bundle(settings.bundle, Path(tmp), settings.caps)
        integrity = check_integrity(bundle)
        checks = [integrity]
        try:
            data = manifest.read(bundle / "reprokit.yaml")
        except InputError:
            return Report(bundle=str(settings.bundle), checks=tuple(checks))
        checks.append(check_completeness(bundle, data))
        wanted = ([f"rebuild-{settings.rebuild}"] if settings.rebuild != "none" else []) + (["rerun"] if settings.rerun else [])
        if not wanted:
            return Report(bundle=str(settings.bundle), checks=tuple(checks))
        if not integrity.ok:
            # Fail closed: code from a bundle that is not what its author sealed never runs.
            checks += [Check(name=w, ok=None, skipped="not run: integrity failed, and nothing of such a bundle runs") for w in wanted]
            return Report(bundle=str(settings.bundle), checks=tuple(checks))
        policy = sandbox.Policy(contained=settings.sandboxed, network=settings.network, limits=settings.limits)
        why = sandbox.available() if settings.sandboxed else None
        if why is not None:
            checks.append(Check(name="sandbox", ok=False, problems=(Problem(path=None, message=f"{why}; --no-sandbox runs bundle code uncontained"),)))
            checks += [Check(name=w, ok=None, skipped="not run: no sandbox") for w in wanted]
            return Report(bundle=str(settings.bundle), checks=tuple(checks))
        vpy = None
        if settings.rebuild == "pip":
            exe, why_not = rerun.find_python(data["python"]["version"])
            if exe is None:
                checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path=None, message=why_not),)))
            else:
                try:
                    vpy = rerun.rebuild_pip(bundle, exe, Path(tmp) / "env", policy=policy)
                    checks.append(Check(name="rebuild-pip", ok=True, details="offline from vendor/, " + policy.describe()))
                except rerun.RebuildFailed as exc:
                    checks.append(Check(name="rebuild-pip", ok=False, problems=(Problem(path="requirements.lock", message=str(exc)),)))
        elif settings.rebuild == "nix":
            checks.append(nix_build(bundle, settings.nix_without_sandbox))
        if settings.rerun:
            if vpy is None:
                checks.append(Check(name="rerun", ok=None, skipped="needs --rebuild pip"))
            else:
                checks.append(rerun_check(bundle, data, vpy, policy))
        return Report(bundle=str(settings.bundle), checks=tuple(checks), sandbox=policy.describe())


def rerun_check(bundle: Path, data: dict, vpy: Path, policy: sandbox.Policy) -> Check:  # type: ignore[type-arg]
    eps = [EntryPoint(name=e["name"], kind=e["kind"], path=e["path"]) for e in data["entry_points"]]
    results = rerun.run_entry_points(bundle / "paper", vpy, eps, policy=policy)
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
    if report.sandbox:
        out.append(f"bundle code ran {report.sandbox}")
    out.append("")
    out.append("OK: every requested check passed" if report.ok else "FAILED")
    return "\n".join(out) + "\n"
