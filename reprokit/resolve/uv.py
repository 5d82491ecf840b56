"""uv, the resolver: ``uv pip compile`` of a set of requirements as of a date, for a target
Python (pip's own resolver for Pythons uv does not target, :mod:`.piptool`), and what it
answered, parsed. Old sdists get the build tools of later dates, and what their setup.py
imports undeclared, for uv's metadata builds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import (
    canonicalize_name,
)

from reprokit import http
from reprokit.cache import cache_root
from reprokit.errors import ResolutionFailed, UsageError
from reprokit.fsutil import temporary_folder
from reprokit.resolve import interpreter, legacybuild, piptool, pypi
from reprokit.resolve.settings import PLATFORMS, LockSettings
from reprokit.resolve.uvtool import uv_bin
from reprokit.scan import marker_environment
from reprokit.scan.declared import is_requirement

log = logging.getLogger(__name__)


_PKG_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def parse_uv_output(text: str) -> list[tuple[str, str, list[str], list[str]]]:
    """``uv pip compile --generate-hashes`` output -> (name, version, hashes, via)."""
    out: list[tuple[str, str, list[str], list[str]]] = []
    current: list[object] | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        m = _PKG_LINE.match(raw)
        if m:
            current = [canonicalize_name(m.group(1)), m.group(3), [], []]
            out.append(current)  # type: ignore[arg-type]
            in_via = False
        if current is None:
            continue
        for h in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            current[2].append(h)  # type: ignore[attr-defined]
        if line.startswith("# via"):
            rest = line[len("# via"):].strip()
            if rest:
                current[3].extend(x.strip() for x in rest.split(","))  # type: ignore[attr-defined]
            in_via = True
        elif in_via and line.startswith("#   "):
            current[3].append(line[4:].strip())  # type: ignore[attr-defined]
        elif not line.startswith("#"):
            in_via = False
    return [(str(a), str(b), list(c), list(d)) for a, b, c, d in out]  # type: ignore[call-overload,unused-ignore]


_FILTERED = re.compile(r"hint: `([A-Za-z0-9._-]+)` was filtered by `exclude-newer(?:-package)?`")


_FAILED_BUILD = re.compile(r"Failed to (?:download and )?build `([A-Za-z0-9._-]+)(?:==|@)")


_NO_VERSIONS = re.compile(r"there (?:are|is) no versions? of `?([A-Za-z0-9._-]+?)`?(?:[<>=!~ ,]|$)", re.M)


def first_release_after(client: pypi.Client, name: str, cutoff: dt.datetime) -> dt.datetime | None:
    """When the first file of ``name`` after ``cutoff`` was uploaded (not yanked)."""
    times = []
    for f in client.files(name):
        try:
            when = dt.datetime.fromisoformat((f.upload_time or "").replace("Z", "+00:00"))
        except ValueError:
            continue
        if when >= cutoff and not f.yanked:
            times.append(when)
    return min(times) if times else None


def run_uv(requirements: list[str], constraints: dict[str, str], settings: LockSettings,
           undeclared: dict[str, list[str]] | None = None, newer: dict[str, str] | None = None) -> str:
    """``uv pip compile`` of ``requirements`` as of the settings' date.

    The date also bounds the tools uv builds old sdists with to read their metadata;
    when a build needs a tool released after the date (uv and pip ask for
    setuptools>=40.8.0, from 2019), that tool alone is taken from the earliest later
    date whose releases satisfy the build (six months at a time: an old setup.py may
    also need what later releases removed), while the paper's own environment still
    gets its release of the date.

    An old sdist whose setup.py imports numpy or Cython (:mod:`reprokit.legacybuild`)
    without declaring it gets it for its metadata build (uv's extra-build-dependencies),
    and ``undeclared`` records it (sdist name -> distributions).

    A distribution the paper needs that had no release on the index by its date (the
    authors had it from its repository, and it reached PyPI later) is taken at its first
    release after the date, that package alone; ``newer`` records it (name -> the date).
    """
    undeclared = {} if undeclared is None else undeclared
    newer = {} if newer is None else newer
    triple = PLATFORMS.get(settings.platform)
    if triple is None:
        raise UsageError(f"--platform {settings.platform!r}: reprokit knows {', '.join(PLATFORMS)}")
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    exclude_newer = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")

    exe, _ = interpreter.find(settings.python)
    requested = [Requirement(r).name for r in requirements if is_requirement(r)]
    later: dict[str, int] = {}  # build tools taken from later releases -> months after the date
    caps: dict[str, str | None] = {}  # -> their newest release of the date, for the paper's environment
    for _ in range(40):
        with temporary_folder("lock") as tmp:
            req_in = Path(tmp) / "requirements.in"
            req_in.write_text("\n".join(requirements) + "\n", encoding="utf-8")
            cmd = [
                uv_bin(), "pip", "compile", str(req_in), "--quiet", "--no-header", "--generate-hashes",
                # The interpreter's own X.Y.Z where there is one: for "3.7", uv takes 3.7.0,
                # and pandas 1.3.5 (requires-python >=3.7.1) would be no candidate.
                "--annotation-style", "split", "--python-version", (exe and interpreter.release_of(exe)) or settings.python,
                "--python-platform", triple[0], "--exclude-newer", exclude_newer,
                "--index-url", pypi.index_url(settings.index_url), "--no-config",
            ]
            if exe:  # old sdists build their metadata with the paper's own Python
                cmd += ["--python", exe]
            for name, months in later.items():
                when = min(cutoff + dt.timedelta(days=round(30.44 * months)), dt.datetime.now(dt.timezone.utc))
                cmd += ["--exclude-newer-package", f"{name}={when.strftime('%Y-%m-%dT%H:%M:%SZ')}"]
            for name, date in newer.items():
                cmd += ["--exclude-newer-package", f"{name}={date}"]
            if undeclared:
                config = Path(tmp) / "uv.toml"
                config.write_text("extra-build-dependencies = { " + ", ".join(
                    f"{json.dumps(n)} = {json.dumps(ds)}" for n, ds in sorted(undeclared.items())) + " }\n", encoding="utf-8")
                cmd += ["--config-file", str(config)]
            lines = [f"{n}=={v}" for n, v in sorted(constraints.items())]
            lines += [f"{n}<={v}" for n, v in sorted(caps.items()) if v and n not in constraints]
            if lines:
                con = Path(tmp) / "constraints.txt"
                con.write_text("\n".join(lines) + "\n", encoding="utf-8")
                cmd += ["--constraint", str(con)]
            env = dict(os.environ)
            env.pop("UV_EXCLUDE_NEWER", None)
            if settings.uv_cache:
                env["UV_CACHE_DIR"] = str(settings.uv_cache)
            log.debug("$ %s", http.redact(shlex.join(cmd)))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode == 0:
            return proc.stdout
        failed_build = _FAILED_BUILD.search(proc.stderr)
        lacking = legacybuild.undeclared_build_import(proc.stderr, requested)
        if failed_build and lacking and lacking not in undeclared.get(failed_build.group(1), []):
            undeclared.setdefault(failed_build.group(1), []).append(lacking)
            log.debug("%s imports %s at build time without declaring it", failed_build.group(1), lacking)
            continue
        missing = [m for m in _NO_VERSIONS.findall(proc.stderr) if m in _FILTERED.findall(proc.stderr) and m not in newer]
        if missing:
            first = first_release_after(pypi.Client(settings.index_url), missing[0], cutoff)
            if first is not None:
                newer[missing[0]] = (first + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                continue
        building = re.search(r"Failed to (?:download and )?build|Failed to resolve requirements from `(?:setup\.py )?build", proc.stderr)
        tools = later_tools(proc.stderr, later)
        if not building or not tools:
            break
        for name in tools:
            if name not in later:
                caps[name] = newest_before(pypi.Client(settings.index_url), name, cutoff)
            later[name] = later.get(name, 0) + 6
        log.debug("building old sdists needs %s released after %s", ", ".join(tools), settings.date)
    log.debug("%s", http.redact(proc.stderr))
    raise ResolutionFailed(http.redact(uv_reason(proc.stderr)) or f"uv exited with status {proc.returncode}")


# How many months past the paper's date a build tool is taken at most.
LATER_MONTHS = 12 * 15


def later_tools(stderr: str, later: Mapping[str, int]) -> list[str]:
    """The build tools a failed build needs releases of after the paper's date: those uv
    says its date filtered out (``later`` holds how far each was moved already, up to
    :data:`LATER_MONTHS`). setuptools takes wheel with it: setuptools' ``dist_info`` calls
    wheel's ``bdist_wheel``, and a later setuptools beside the wheel of the date fails
    inside wheel (``egg2dist``: a license file of None)."""
    tools = [n for n in dict.fromkeys(str(canonicalize_name(n)) for n in _FILTERED.findall(stderr)) if later.get(n, 0) < LATER_MONTHS]
    if "setuptools" in tools and "wheel" not in tools and later.get("wheel", 0) < LATER_MONTHS:
        tools.append("wheel")
    return tools


def uv_reason(stderr: str) -> str:
    """uv's failure in one line: what failed, the sentence that says why, and for a build
    the exception it ended with."""
    lines = [ln.strip().lstrip("╰─▶ ").strip() for ln in stderr.splitlines() if ln.strip()]
    what = next((ln[len("error: "):] for ln in lines if ln.startswith("error: ")), lines[0] if lines else "")
    why = next((ln[len("cause: "):] if ln.startswith("cause: ") else ln for ln in reversed(lines)
                if "Because " in ln or "unsatisfiable" in ln), "")
    exc = next((ln for ln in reversed(lines) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", ln)), "")
    return "; ".join(dict.fromkeys(x for x in (what, why, exc) if x))


def newest_before(client: pypi.Client, name: str, cutoff: dt.datetime) -> str | None:
    """The newest release of ``name`` with a file uploaded before ``cutoff``."""
    out = [v for v, when in pypi.released(client.files(name)).items() if when < cutoff and not v.is_prerelease]
    return str(max(out)) if out else None


def compile(requirements: list[str], constraints: dict[str, str], settings: LockSettings,
            undeclared: dict[str, list[str]] | None = None, newer: dict[str, str] | None = None,
            ) -> list[tuple[str, str, list[str], list[str]]]:
    """The exact closure of ``requirements`` for the target Python as of the settings'
    date: (name, version, sha256s uv accepted, what pulled it in). uv resolves for
    Python 3.6 and newer; older Pythons (2.7, 3.5) are resolved by their own pip."""

    if interpreter.key(settings.python) >= interpreter.UV_OLDEST:
        return parse_uv_output(run_uv(requirements, constraints, settings, undeclared, newer))
    exe, how = interpreter.find(settings.python)
    if exe is None:
        raise UsageError(f"uv resolves for Python 3.6 and newer; Python {settings.python} is resolved by its own pip, and {how}")
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return piptool.compile(requirements, constraints, python=settings.python, python_exe=exe, cutoff=cutoff,
                           client=pypi.Client(settings.index_url), cache=cache_root(settings.cache_dir),
                           env=marker_environment(settings.python))
