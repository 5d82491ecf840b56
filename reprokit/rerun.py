"""Rebuild a bundle's environment with pip from its vendored files, and rerun the paper.

Used by ``validate --rebuild pip --rerun`` and by ``archive`` to record the outputs each
entry point writes. With ``airgap`` every command runs in a new network namespace
(``unshare -n``), which proves the bundle needs no network.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprokit.errors import ReprokitError
from reprokit.flake import EntryPoint


class RebuildFailed(ReprokitError):
    """pip could not install the bundle's lock from its vendored files."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    entry_point: EntryPoint
    ok: bool
    message: str
    outputs: dict[str, str]  # path in paper/ -> sha256 of files it wrote or changed


@functools.cache
def can_airgap() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


# Inside the new namespace only loopback exists, and it starts down: bring it up, since
# Jupyter kernels talk to their client over 127.0.0.1.
_LOOPBACK_UP = 'ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null; exec "$@"'


def _wrap(cmd: list[str], airgap: bool) -> list[str]:
    return ["unshare", "-n", "--", "sh", "-c", _LOOPBACK_UP, "reprokit-airgap", *cmd] if airgap else cmd


def find_python(version: str) -> tuple[str | None, str]:
    """An interpreter of ``version``; with a note when none is found."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if running == version:
        return sys.executable, ""
    exe = shutil.which(f"python{version}")
    if exe:
        return exe, ""
    return None, f"no Python {version} on this machine (running {running}); install python{version}"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for rebuild and rerun: no pip configuration, no user site."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1",
                "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": env.get("SOURCE_DATE_EPOCH", "315532800")})
    env.update(extra or {})
    return env


def rebuild_pip(bundle: Path, python: str, dest: Path, *, airgap: bool = False) -> Path:
    """A fresh venv at ``dest`` with the bundle's lock installed offline; returns its python."""
    cmd = [python, "-m", "venv", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RebuildFailed(f"cannot make a venv with {python}: {proc.stderr.strip().splitlines()[-1:]}")
    vpy = dest / "bin" / "python"
    install = [str(vpy), "-m", "pip", "install", "--quiet", "--no-index", "--require-hashes",
               "--find-links", str(bundle / "vendor" / "wheels"), "--find-links", str(bundle / "vendor" / "sdist"),
               "-r", str(bundle / "requirements.lock")]
    proc = subprocess.run(_wrap(install, airgap), capture_output=True, text=True, env=clean_env())
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise RebuildFailed("pip install from vendor/ failed: " + (lines[-1] if lines else f"exit {proc.returncode}"))
    return vpy


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every file: a file rewritten with the same bytes still counts
    as written (its mtime moves), so results the author left in the folder are found."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts:
            out[p.relative_to(folder).as_posix()] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def run_entry_points(paper: Path, vpy: Path, entry_points: list[EntryPoint], *, airgap: bool = False, timeout: int = 1800,
                     collect: Path | None = None) -> list[RunResult]:
    """Run each entry point in a fresh copy of ``paper`` with the venv's Python; with
    ``collect``, the files each wrote are kept under ``collect/<entry point name>/``."""
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
                "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": tmp,
                "JUPYTER_PATH": str(bindir.parent / "share" / "jupyter"), "JUPYTER_DATA_DIR": str(jupyter),
                "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
                "IPYTHONDIR": str(Path(tmp) / "ipython"),
            })
            if ep.kind == "script":
                cmd = [str(vpy), ep.path]
            else:
                cmd = [str(bindir / "jupyter-execute"), "--timeout", str(timeout), ep.path]
            try:
                proc = subprocess.run(_wrap(cmd, airgap), cwd=work, capture_output=True, text=True, env=env, timeout=timeout)
            except subprocess.TimeoutExpired:
                results.append(RunResult(entry_point=ep, ok=False, message=f"timed out after {timeout}s", outputs={}))
                continue
            after = _snapshot(work)
            changed = {k: v[0] for k, v in after.items() if before.get(k) != v}
            if collect is not None:
                for rel in changed:
                    dest = collect / ep.name / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(work / rel, dest)
            if proc.returncode != 0:
                tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-1:] or [f"exit {proc.returncode}"]
                results.append(RunResult(entry_point=ep, ok=False, message=f"exited with status {proc.returncode}: {tail[0]}", outputs=changed))
            else:
                results.append(RunResult(entry_point=ep, ok=True, message="", outputs=changed))
    return results
