"""Rebuild a bundle's environment with pip from its vendored files, and rerun the paper.

Used by ``validate --rebuild pip --rerun`` and by ``archive`` to record the outputs each
entry point writes. Both run the bundle's code (sdist build backends, the paper itself)
through :mod:`reprokit.sandbox`, by default with no network, which also proves the
bundle needs none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprokit import sandbox
from reprokit.errors import ReprokitError
from reprokit.flake import EntryPoint
from reprokit.fsutil import sha256_file


class RebuildFailed(ReprokitError):
    """pip could not install the bundle's lock from its vendored files."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    entry_point: EntryPoint
    ok: bool
    message: str
    outputs: dict[str, str]  # path in paper/ -> sha256 of files it wrote or changed


def find_python(version: str) -> tuple[str | None, str]:
    """An interpreter of ``version``; with a note when none is found."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if running == version:
        return sys.executable, ""
    exe = shutil.which(f"python{version}")
    if exe:
        # A shim (pyenv, asdf) needs the user's environment to find its interpreter:
        # ask it once, here, and use the real one from then on.
        try:
            real = subprocess.run([exe, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            real = ""
        return (real if real and Path(real).is_file() else exe), ""
    return None, f"no Python {version} on this machine (running {running}); install python{version}"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The variables rebuild and rerun set on top of the sandbox's allowlist: no pip
    configuration or cache, no user site, a fixed hash seed and source date."""
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1",
           "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
           "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "315532800")}
    env.update(extra or {})
    return env


def base_prefix(venv: Path) -> list[Path]:
    """The installation a venv's interpreter lives in (``home`` in pyvenv.cfg), which a
    sandboxed run of that venv must be able to read."""
    try:
        for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                return [Path(value.strip()).resolve().parent]
    except OSError:
        pass
    return []


def rebuild_pip(bundle: Path, python: str, dest: Path, *, policy: sandbox.Policy | None = None, timeout: float = 3600) -> Path:
    """A fresh venv at ``dest`` with the bundle's lock installed offline; returns its python.
    pip (and with it every sdist's build backend) runs in the sandbox: the bundle and the
    interpreter read-only, only ``dest`` writable."""
    policy = policy or sandbox.Policy()
    cmd = [python, "-m", "venv", str(dest)]
    with tempfile.TemporaryDirectory(prefix="reprokit-home-") as home:
        # The reviewer's own interpreter, but not the reviewer's HOME or variables.
        proc = subprocess.run(cmd, capture_output=True, text=True, env=sandbox.environment(None, home=home))
    if proc.returncode != 0:
        raise RebuildFailed(f"cannot make a venv with {python}: {proc.stderr.strip().splitlines()[-1:]}")
    vpy = dest / "bin" / "python"
    install = [str(vpy), "-m", "pip", "install", "--quiet", "--no-index", "--require-hashes",
               "--find-links", str(bundle / "vendor" / "wheels"), "--find-links", str(bundle / "vendor" / "sdist"),
               "-r", str(bundle / "requirements.lock")]
    try:
        proc = policy.run(install, cwd=dest, readonly=[bundle, *base_prefix(dest)], writable=[dest],
                          env=clean_env({"PATH": str(dest / "bin")}), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RebuildFailed(f"pip install from vendor/ did not finish in {timeout:.0f}s") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise RebuildFailed("pip install from vendor/ failed: " + (lines[-1] if lines else f"exit {proc.returncode}"))
    return vpy


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every file: a file rewritten with the same bytes still counts
    as written (its mtime moves), so results the author left in the folder are found.
    Files are hashed in chunks (a rerun may write gigabytes, or a sparse file), and links
    the rerun made are not followed."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts:
            out[p.relative_to(folder).as_posix()] = (sha256_file(p), p.stat().st_mtime_ns)
    return out


def run_entry_points(paper: Path, vpy: Path, entry_points: list[EntryPoint], *, policy: sandbox.Policy | None = None,
                     timeout: int = 1800) -> list[RunResult]:
    """Run each entry point in a fresh copy of ``paper`` with the venv's Python, in the
    sandbox: the copy writable, the venv and its interpreter read-only."""
    policy = policy or sandbox.Policy()
    venv = vpy.parent.parent
    results = []
    bindir = vpy.parent
    for ep in entry_points:
        with tempfile.TemporaryDirectory(prefix="reprokit-rerun-") as tmp:
            work = Path(tmp) / "paper"
            shutil.copytree(paper, work, symlinks=True)
            # Old mtimes, so that a rewrite within the same clock tick still shows.
            for p in work.rglob("*"):
                if p.is_file() and not p.is_symlink():
                    os.utime(p, ns=(0, 0))
            before = _snapshot(work)
            jupyter = Path(tmp) / "jupyter"
            env = clean_env({
                "PATH": str(bindir), "HOME": tmp,
                "JUPYTER_PATH": str(bindir.parent / "share" / "jupyter"), "JUPYTER_DATA_DIR": str(jupyter),
                "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
                "IPYTHONDIR": str(Path(tmp) / "ipython"),
            })
            if ep.kind == "script":
                cmd = [str(vpy), ep.path]
            else:
                cmd = [str(bindir / "jupyter-execute"), "--timeout", str(timeout), ep.path]
            try:
                proc = policy.run(cmd, cwd=work, readonly=[venv, *base_prefix(venv)], writable=[Path(tmp)], env=env, timeout=timeout)
            except subprocess.TimeoutExpired:
                results.append(RunResult(entry_point=ep, ok=False, message=f"timed out after {timeout}s", outputs={}))
                continue
            after = _snapshot(work)
            changed = {k: v[0] for k, v in after.items() if before.get(k) != v}
            if proc.returncode != 0:
                tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-1:] or [f"exit {proc.returncode}"]
                results.append(RunResult(entry_point=ep, ok=False, message=f"exited with status {proc.returncode}: {tail[0]}", outputs=changed))
            else:
                results.append(RunResult(entry_point=ep, ok=True, message="", outputs=changed))
    return results
