"""pip as a resolver, for the Pythons uv does not target (2.7 and 3.5).

The paper's own interpreter runs the newest pip that supports it (from its wheel, never
installed anywhere) with ``pip download`` against a :mod:`~reprokit.datedindex` of the
paper's date: pip chooses the closure and builds old sdists' metadata as it would have
then. The downloaded files name the versions; their metadata gives the dependency edges.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shlex
import subprocess
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from reprokit.errors import ResolutionFailed
from reprokit.fsutil import temporary_folder
from reprokit.resolve import datedindex, pypi
from reprokit.resolve.fetch import fetch
from reprokit.resolve.lockfile import Artifact
from reprokit.resolve.pipoutput import explain_pip_failure
from reprokit.scan.declared import is_requirement

log = logging.getLogger(__name__)

Resolved = list[tuple[str, str, list[str], list[str]]]  # name, version, sha256s, via (as uv's parse gives)


def pip_wheel(client: pypi.Client, python: str, cache: Path) -> Path:
    """The newest pip wheel that runs on ``python``, from the cache or the index."""
    best: tuple[Version, pypi.File] | None = None
    for f in client.files("pip"):
        if f.kind != "wheel" or f.yanked:
            continue
        try:
            version = parse_wheel_filename(f.filename)[1]
            if f.requires_python and not SpecifierSet(f.requires_python).contains(f"{python}.0", prereleases=True):
                continue
        except (InvalidWheelFilename, InvalidSpecifier):
            continue
        if not version.is_prerelease and (best is None or version > best[0]):
            best = (version, f)
    if best is None:
        raise ResolutionFailed(f"the index has no pip that runs on Python {python}")
    path, _ = fetch(client, Artifact.from_file(best[1]), cache)
    return path


def _name_version(path: Path) -> tuple[str, str] | None:
    """A downloaded file's project and version. A wheel's name says them; an sdist's name
    may not (``functools32-3.2.3-2.tar.gz`` is functools32 3.2.3-2), so its PKG-INFO
    does, and the name only when it has none."""
    filename = path.name
    if not filename.endswith(".whl"):
        meta, _ = _metadata(path)
        fields = dict(ln.split(": ", 1) for ln in meta if ln[:5] in ("Name:", "Versi") and ": " in ln)
        if fields.get("Name") and fields.get("Version"):
            return str(canonicalize_name(fields["Name"].strip())), fields["Version"].strip()
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        m = re.fullmatch(r"(.+?)-(\d[^-]*?)\.(?:tar\.gz|tar\.bz2|zip|tgz)", filename)
        if not m:
            return None
        return str(canonicalize_name(m.group(1))), m.group(2)
    return str(name), str(version)


def _egg_info_requires(text: str, env: Mapping[str, str]) -> list[str]:
    """``*.egg-info/requires.txt``: plain lines, then ``[extra]`` and ``[:marker]`` sections."""
    out = []
    section: str | None = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            extra, _, marker = line.strip("[]").partition(":")
            if extra:
                section = None  # an extra the paper did not ask for
            else:
                try:
                    section = "" if Marker(marker).evaluate(dict(env)) else None
                except InvalidMarker:
                    section = None
            continue
        if section is not None:
            out.append(line)
    return out


def _metadata(path: Path) -> tuple[list[str], str | None]:
    """A wheel's METADATA or an sdist's PKG-INFO as lines, and its egg-info requires.txt."""
    lines: list[str] = []
    egg: str | None = None
    try:
        if path.name.endswith(".whl") or path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                meta = next((n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)), None) or next(
                    (n for n in names if re.fullmatch(r"[^/]+/PKG-INFO", n)), None)
                if meta:
                    lines = zf.read(meta).decode("utf-8", "replace").splitlines()
                requires_txt = next((n for n in names if re.fullmatch(r"[^/]+/[^/]+\.egg-info/requires\.txt", n)), None)
                egg = zf.read(requires_txt).decode("utf-8", "replace") if requires_txt else None
        else:
            with tarfile.open(path) as tf:
                for m in tf:
                    if m.isfile() and re.fullmatch(r"[^/]+/PKG-INFO", m.name):
                        fh = tf.extractfile(m)
                        lines = fh.read().decode("utf-8", "replace").splitlines() if fh else []
                    elif m.isfile() and re.fullmatch(r"[^/]+/[^/]+\.egg-info/requires\.txt", m.name):
                        fh = tf.extractfile(m)
                        egg = fh.read().decode("utf-8", "replace") if fh else None
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError):
        return [], None
    return lines, egg


def requires_of(path: Path, env: Mapping[str, str]) -> list[str]:
    """The run-time requirements a wheel or sdist declares, markers evaluated for ``env``."""
    lines, egg = _metadata(path)
    declared = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Requires-Dist:")]
    if not declared and egg:
        declared = _egg_info_requires(egg, env)
    out = []
    for d in declared:
        try:
            req = Requirement(d)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
            out.append(str(canonicalize_name(req.name)))
    return out


def compile(requirements: Sequence[str], constraints: Mapping[str, str], *, python: str, python_exe: str, cutoff: dt.datetime,
            client: pypi.Client, cache: Path, env: Mapping[str, str]) -> Resolved:
    """Resolve ``requirements`` for the interpreter ``python_exe`` as of ``cutoff`` with pip."""
    wheel = pip_wheel(client, python, cache)
    with temporary_folder("pip") as tmp, datedindex.serve(client, cutoff, cache) as index:
        # setup_requires of old sdists is fetched by easy_install, which reads its index
        # from ~/.pydistutils.cfg, not from pip: the same dated index, then.
        (Path(tmp) / ".pydistutils.cfg").write_text(f"[easy_install]\nindex_url = {index}\n", encoding="utf-8")
        req_in = Path(tmp) / "requirements.in"
        req_in.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        dest = Path(tmp) / "files"
        cmd = [python_exe, "-s", str(wheel / "pip"), "download", "--dest", str(dest), "--index-url", index, "--no-cache-dir",
               "--progress-bar", "off", "--disable-pip-version-check", "-r", str(req_in)]
        if constraints:
            con = Path(tmp) / "constraints.txt"
            con.write_text("".join(f"{n}=={v}\n" for n, v in sorted(constraints.items())), encoding="utf-8")
            cmd += ["-c", str(con)]
        log.debug("$ %s", shlex.join(cmd))
        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "PIP_CONFIG_FILE": os.devnull, "PYTHONNOUSERSITE": "1",
                   "LC_ALL": "C.UTF-8", "PIP_NO_INPUT": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=3600)
        if proc.returncode != 0:

            raise ResolutionFailed(f"pip (for Python {python}) could not resolve the closure as of {cutoff.date()}: "
                                   f"{explain_pip_failure(proc.stdout + chr(10) + proc.stderr, source=f'the index as of {cutoff.date()}')}")
        found: dict[str, tuple[str, Path]] = {}
        for f in sorted(dest.iterdir()):
            nv = _name_version(f)
            if nv:
                found[nv[0]] = (nv[1], f)
        edges: dict[str, list[str]] = {n: [] for n in found}
        for name, (_, path) in found.items():
            for child in requires_of(path, env):
                if child in found and child != name:
                    edges[child].append(name)
    top = {str(canonicalize_name(Requirement(r).name)) for r in requirements if is_requirement(r)}
    out: Resolved = []
    for name in sorted(found):
        version = found[name][0]
        via = sorted(set(edges[name])) + (["-r requirements.in"] if name in top else [])
        out.append((name, version, [], via))
    return out


