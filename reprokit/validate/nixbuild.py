"""``validate --rebuild nix``: ``nix build`` of the bundle's flake with Nix's own sandbox on,
and the first real error of a failed build, in one line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from reprokit import sandbox
from reprokit.bundle.integrity import read_nix_lock
from reprokit.bundle.manifest import Manifest
from reprokit.checks import Check, Problem
from reprokit.errors import InterpreterUnavailable
from reprokit.nix import flake

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
