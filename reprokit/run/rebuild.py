"""The paper's environment rebuilt from a bundle alone: a fresh venv (or, for Python 2.7,
a folder of packages) with pip from ``vendor/build/`` installing ``requirements.lock``
offline, in the sandbox; sdists whose builds need what they do not declare built
unisolated with their build tools.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from reprokit import sandbox
from reprokit.errors import RebuildFailed
from reprokit.resolve import interpreter
from reprokit.resolve import lockfile as lock_mod
from reprokit.resolve.pipoutput import explain_pip_failure

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Env:
    """A rebuilt environment: the interpreter to run the paper with, where its scripts
    are, and (for Python 2.7, which has no venv) the folder the packages went to."""

    python: Path  # as a run sees it (see sandbox.ENV_AT)
    bindir: Path
    pythonpath: str | None = None
    readonly: tuple[Path, ...] = ()  # what a sandboxed run of it must be able to read
    mounts: tuple[sandbox.Mount, ...] = ()  # the environment's folder, shown read-only where it was built


def find_python(version: str) -> tuple[str | None, str]:
    """An interpreter of ``version`` (a shim resolved to the real interpreter, which needs
    no HOME of the user's); with how to get one when none is found."""
    exe, why = interpreter.find(version)
    if exe is None:
        return None, why
    try:
        real = subprocess.run([exe, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        real = ""
    return (real if real and Path(real).is_file() else exe), ""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The variables rebuild and rerun set on top of the sandbox's allowlist: no pip
    configuration or cache, no user site, a fixed hash seed and source date."""
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1",
           "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
           "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "315532800")}
    env.update(extra or {})
    return env


def installer_wheel(bundle: Path) -> Path | None:
    """The pip wheel the bundle keeps for rebuilding (the newest one, if several)."""
    found = []
    for w in (bundle / "vendor" / "build").glob("pip-*.whl"):
        try:
            name, version, _, _ = parse_wheel_filename(w.name)
        except InvalidWheelFilename:
            continue
        if name == "pip":
            found.append((version, w))
    return max(found)[1] if found else None


def _has_venv(python: str) -> bool:
    return subprocess.run([python, "-c", "import venv"], capture_output=True).returncode == 0


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


def install_prefix(python: str) -> Path:
    """The installation an interpreter belongs to (``…/bin/python`` -> ``…``)."""
    return Path(python).resolve().parent.parent


def rebuild_pip(bundle: Path, python: str, dest: Path, *, policy: sandbox.Policy | None = None, timeout: float = 3600,
                unisolated: Mapping[str, Sequence[str]] | None = None) -> Env:
    """A fresh environment at ``dest`` with the bundle's lock installed offline.

    Python 3 gets a venv; Python 2.7, which has no venv module, gets the packages in
    ``dest/site`` (``pip install --target``), put on its path when the paper runs. pip is
    the one kept in ``vendor/build/``, run from its wheel, and runs in the sandbox (with
    it every sdist's build backend): the bundle and the interpreter read-only, only
    ``dest`` writable.

    ``unisolated`` (package name -> the ``name==version`` of its build tools) are sdists
    whose setup.py imports what it does not declare (numpy, Cython): pip's isolated build
    would not install it. The rest is installed first; each of these is then built without
    isolation, its build tools unpacked from ``vendor/build/`` onto its ``PYTHONPATH``.
    """
    policy = policy or sandbox.Policy()
    pip_wheel = installer_wheel(bundle)
    links = [x for sub in ("wheels", "sdist", "build") if (bundle / "vendor" / sub).is_dir() for x in ("--find-links", str(bundle / "vendor" / sub))]
    prefix = install_prefix(python)
    dest.mkdir(parents=True, exist_ok=True)
    # Built where every run will see it (sandbox.ENV_AT), so the paths that enter what
    # pip writes (scripts' first lines) and what the paper writes are the same each time.
    building = sandbox.Mount(source=dest, at=sandbox.ENV_AT, writable=True)
    root = policy.at(building)
    shown = (sandbox.Mount(source=dest, at=sandbox.ENV_AT),)
    if _has_venv(python):
        cmd = [python, "-m", "venv", *(["--without-pip"] if pip_wheel else []), str(root)]
        # The reviewer's own interpreter, but not the reviewer's HOME or variables.
        proc = policy.run(cmd, cwd=root, readonly=[prefix], mounts=[building], env=clean_env({}), timeout=timeout)
        if proc.returncode != 0:
            raise RebuildFailed(f"cannot make a venv with {python}: {explain_pip_failure(proc.stderr + proc.stdout)}")
        vpy = root / "bin" / "python"
        env = Env(python=vpy, bindir=root / "bin", readonly=(prefix, *base_prefix(dest)), mounts=shown)
        readonly = [bundle, prefix, *base_prefix(dest)]
        if pip_wheel:
            _pip(policy, [str(vpy), str(pip_wheel / "pip"), "install", "--no-index", "--find-links", str(pip_wheel.parent), f"pip=={_version(pip_wheel)}"],
                 building, readonly, timeout, "installing the bundle's pip")
        pip = [str(vpy), "-m", "pip"]
        target: list[str] = []
        extra_env: dict[str, str] = {}
    else:
        if pip_wheel is None:
            raise RebuildFailed(f"{python} has no venv module and the bundle keeps no pip wheel in vendor/build/ to install with")
        site = root / "site"
        env = Env(python=Path(python), bindir=site / "bin", pythonpath=str(site), readonly=(prefix,), mounts=shown)
        readonly = [bundle, prefix]
        # pip runs build backends through a script of its own, which must be a file:
        # the wheel installs pip into a folder first, and that pip does the rest.
        tool = root / "pip"
        _pip(policy, [python, str(pip_wheel / "pip"), "install", "--no-index", "--target", str(tool), "--find-links", str(pip_wheel.parent),
                      f"pip=={_version(pip_wheel)}"], building, readonly, timeout, "installing the bundle's pip")
        pip = [python, "-m", "pip"]
        target = ["--target", str(site)]
        extra_env = {"PYTHONPATH": str(tool)}
    install = [*pip, "install", "--no-index", "--require-hashes", "--use-pep517", "--no-cache-dir", *target, *links]
    if not unisolated:
        _pip(policy, [*install, "-r", str(bundle / "requirements.lock")], building, readonly, timeout, "pip install from vendor/", extra_env)
        return env
    # The lock is a whole closure: each part installs with --no-deps.
    pins, _ = lock_mod.parse_requirements((bundle / "requirements.lock").read_text(encoding="utf-8"))
    later = {canonical(n) for n in unisolated}
    steps = dest / ".reprokit-build"
    steps.mkdir(exist_ok=True)
    first = [p for p in pins if canonical(p.name) not in later]
    (steps / "first.lock").write_text(lock_mod.pinned_lines(first), encoding="utf-8")
    _pip(policy, [*install, "--no-deps", "-r", str(root / ".reprokit-build" / "first.lock")], building, readonly, timeout,
         "pip install from vendor/", extra_env)
    for p in (p for p in pins if canonical(p.name) in later):
        # Its build tools, installed as pip's isolated build would have them (commands such
        # as swig or cmake in bin/), from vendor/build/ only.
        tools = root / ".reprokit-build" / f"{canonical(p.name)}-tools"
        with_ = next(v for k, v in unisolated.items() if canonical(k) == canonical(p.name))
        _pip(policy, [*pip, "install", "--no-index", "--no-deps", "--no-cache-dir", "--target", str(tools), "--find-links",
                      str(bundle / "vendor" / "build"), *with_], building, readonly, timeout, f"installing the build tools of {p.name}", extra_env)
        (steps / f"{canonical(p.name)}.lock").write_text(lock_mod.pinned_lines([p]), encoding="utf-8")
        path = os.pathsep.join([str(tools), *([extra_env["PYTHONPATH"]] if "PYTHONPATH" in extra_env else [])])
        _pip(policy, [*install, "--no-deps", "--no-build-isolation", "-r", str(root / ".reprokit-build" / f"{canonical(p.name)}.lock")],
             building, readonly, timeout, f"building {p.name} {p.version} with its build tools (its build needs what it does not declare)",
             {**extra_env, "PYTHONPATH": path, "PATH": os.pathsep.join([str(tools / "bin"), str(root / "bin")])})
    shutil.rmtree(steps, ignore_errors=True)
    return env


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(wheel: Path) -> str:
    return str(parse_wheel_filename(wheel.name)[1])


# The rebuild's scratch folder, inside the environment being built.
TMP = ".reprokit-tmp"


def _pip(policy: sandbox.Policy, cmd: list[str], dest: sandbox.Mount, readonly: list[Path], timeout: float, what: str,
         extra_env: dict[str, str] | None = None) -> None:
    root = policy.at(dest)
    # pip unpacks and builds in TMPDIR: on disk, in the environment's own folder, not in
    # the sandbox's capped in-memory /tmp (a wheel of torch alone unpacks to gigabytes).
    scratch = dest.source / TMP
    scratch.mkdir(exist_ok=True)
    try:
        proc = policy.run(cmd, cwd=root, readonly=readonly, mounts=[dest],
                          env=clean_env({"PATH": str(root / "bin"), "TMPDIR": str(root / TMP), **(extra_env or {})}), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RebuildFailed(f"{what} did not finish in {timeout:.0f}s") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.debug("%s", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        output = proc.stdout + "\n" + proc.stderr
        raise RebuildFailed(f"{what} failed: {explain_pip_failure(output)}", output=output)
