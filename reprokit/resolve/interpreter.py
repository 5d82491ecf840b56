"""Which Python a paper needs, where that knowledge came from, and where to find one.

The version is read from what the paper says, in order of how exact the statement is
(:func:`infer`); when it says nothing, the caller picks among the CPython releases that
were current at the paper's date (:func:`current_at`). An interpreter of the version is
then looked for on PATH, under pyenv and among uv's managed Pythons (:func:`find`).
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from reprokit import toml
from reprokit.resolve.uvtool import uv_bin

# First release of each CPython minor version (python.org release dates).
RELEASED = {
    "2.7": dt.date(2010, 7, 3), "3.3": dt.date(2012, 9, 29), "3.4": dt.date(2014, 3, 16),
    "3.5": dt.date(2015, 9, 13), "3.6": dt.date(2016, 12, 23), "3.7": dt.date(2018, 6, 27),
    "3.8": dt.date(2019, 10, 14), "3.9": dt.date(2020, 10, 5), "3.10": dt.date(2021, 10, 4),
    "3.11": dt.date(2022, 10, 24), "3.12": dt.date(2023, 10, 2), "3.13": dt.date(2024, 10, 7),
    "3.14": dt.date(2025, 10, 7),
}
# uv resolves for these and newer; older targets are locked with pip (see resolve).
UV_OLDEST = (3, 6)


def key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def running() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True, kw_only=True, slots=True)
class PythonChoice:
    version: str  # "X.Y"
    source: str  # where it came from, for people: "code/environment.yml:5 (python=3.6.5)"
    # Other versions the statement allows (a range), best first: tried when the locked
    # packages have no wheels for ``version``.
    alternatives: tuple[str, ...] = ()
    # The version the paper states, when this one stands in for it (not on this machine).
    stands_in_for: str = ""

    def to_json(self) -> dict[str, str]:
        return {"version": self.version, "source": self.source}


def versions_for(spec: str, date: dt.date | None) -> list[str]:
    """The X.Y versions a version statement allows, best first: for a range, the releases
    out by ``date`` newest first (the paper's Python was one of those), then later ones."""
    spec = spec.strip().strip("'\"")
    exact = re.fullmatch(r"=*\s*(\d+)\.(\d+)(?:\.[\d*]+)?\*?", spec)
    if exact:
        return [f"{exact.group(1)}.{exact.group(2)}"]
    try:
        specs = SpecifierSet(_poetry_to_pep440(spec))
    except InvalidSpecifier:
        return []
    ok = sorted((v for v in RELEASED if specs.contains(f"{v}.0", prereleases=True) or specs.contains(f"{v}.99")), key=key)
    dated = [v for v in ok if date is None or RELEASED[v] <= date]
    return list(reversed(dated)) + [v for v in ok if v not in dated]


def from_spec(spec: str, date: dt.date | None) -> str | None:
    """One X.Y for a version statement: the best of :func:`versions_for`."""
    found = versions_for(spec, date)
    return found[0] if found else None


def _choice(versions: list[str], source: str) -> PythonChoice | None:
    return PythonChoice(version=versions[0], source=source, alternatives=tuple(versions[1:4])) if versions else None


def _poetry_to_pep440(spec: str) -> str:
    """Poetry's ``^3.10`` / ``~3.8`` and comma-less ranges as PEP 440 specifiers."""
    out = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", spec.strip()):
        m = re.fullmatch(r"\^(\d+)(?:\.(\d+))?(?:\.\d+)?", part)
        if m:
            major = int(m.group(1))
            out += [f">={major}.{m.group(2) or 0}", f"<{major + 1}"]
            continue
        m = re.fullmatch(r"~(\d+)\.(\d+)(?:\.\d+)?", part)
        if m:
            out += [f">={m.group(1)}.{m.group(2)}", f"<{m.group(1)}.{int(m.group(2)) + 1}"]
            continue
        if part and part not in ("*",):
            out.append(part)
    return ",".join(out)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _from_lock_files(root: Path, files: list[str], date: dt.date | None) -> PythonChoice | None:
    for rel in files:
        base = rel.rsplit("/", 1)[-1]
        text = _text(root / rel)
        spec = None
        try:
            if base in ("poetry.lock", "uv.lock"):
                data = toml.loads(text)
                spec = data.get("metadata", {}).get("python-versions") if base == "poetry.lock" else data.get("requires-python")
            elif base == "Pipfile.lock":
                req = json.loads(text).get("_meta", {}).get("requires", {})
                spec = req.get("python_full_version") or req.get("python_version")
        except (ValueError, toml.TOMLDecodeError, AttributeError, RecursionError):
            continue
        if isinstance(spec, str):
            choice = _choice(versions_for(spec, date), f"{rel} (python {spec.strip()})")
            if choice:
                return choice
    return None


_CONDA_PYTHON = re.compile(r"^\s*-\s*python\s*(?:([=<>!~]=?|\s)\s*([0-9][0-9.*]*)([^#\n]*))?\s*(?:#.*)?$", re.M)


def _from_env_files(root: Path, files: list[str], date: dt.date | None) -> PythonChoice | None:
    for rel in files:
        text = _text(root / rel)
        if not re.search(r"^dependencies\s*:", text, re.M):
            continue
        m = _CONDA_PYTHON.search(text)
        if not m or not m.group(2):
            continue
        op, ver = m.group(1) or "=", m.group(2)
        # conda spells an exact version "python=3.6.5" (or "=3.6" for 3.6.*); ranges as pip does.
        spec = ver if op.strip() in ("=", "==", "") else f"{op.strip()}{ver}{m.group(3).strip()}"
        choice = _choice(versions_for(spec, date), f"{rel}:{_line(text, m.start(2))} (python{op.strip() or '='}{ver})")
        if choice:
            return choice
    return None


def _from_version_files(root: Path, files: list[str]) -> PythonChoice | None:
    for rel in files:
        text = _text(root / rel)
        m = re.search(r"(?:python-?)?(\d)\.(\d+)", text)
        if m:
            return PythonChoice(version=f"{m.group(1)}.{m.group(2)}", source=f"{rel} ({text.strip().splitlines()[0][:40]})")
    return None


# The official image a Dockerfile builds on: FROM python:3.7, python:3.7.4-slim-buster,
# docker.io/library/python:3.9 (AS a stage name or not).
_DOCKER_PYTHON = re.compile(r"^[ \t]*FROM[ \t]+(?:--\S+[ \t]+)*(?:docker\.io/)?(?:library/)?python:((\d)\.(\d+)[\w.-]*)", re.M | re.I)


def _from_dockerfiles(root: Path, files: list[str]) -> PythonChoice | None:
    """The Python of the image the paper's Dockerfile builds on: the environment its
    authors give for running it."""
    for rel in files:
        text = _text(root / rel)
        m = _DOCKER_PYTHON.search(text)
        if m:
            return PythonChoice(version=f"{m.group(2)}.{m.group(3)}", source=f"{rel}:{_line(text, m.start(1))} (FROM python:{m.group(1)})")
    return None


def _from_notebooks(root: Path, files: list[str]) -> PythonChoice | None:
    seen: Counter[str] = Counter()
    where: dict[str, str] = {}
    for rel in files:
        try:
            meta = json.loads(_text(root / rel)).get("metadata", {})
        except (ValueError, AttributeError, RecursionError):
            continue
        info = meta.get("language_info") if isinstance(meta, dict) else None
        if not isinstance(info, dict):
            continue
        version = info.get("version")
        if isinstance(version, str) and info.get("name", "python") == "python":
            m = re.match(r"(\d)\.(\d+)", version)
            if m:
                v = f"{m.group(1)}.{m.group(2)}"
                seen[v] += 1
                where.setdefault(v, f"{rel} metadata (language_info.version {version})")
    if not seen:
        return None
    best = max(seen, key=lambda v: (seen[v], key(v)))
    more = sum(seen.values()) - 1
    return PythonChoice(version=best, source=where[best] + (f" and {more} more notebook(s)" if more else ""))


# A pip freeze or a lock made by hand often says what made it: "# frozen under CPython
# 3.7.0, on 2018-08-22", "# Python 3.8.10".
_HEADER_PYTHON = re.compile(r"^\s*#.*?\b(?:C?[Pp]ython|py)\s*v?([23])\.(\d{1,2})(?:\.\d+)?\b", re.M)


def _from_freeze_headers(root: Path, files: list[str]) -> PythonChoice | None:
    for rel in files:
        text = _text(root / rel)
        m = _HEADER_PYTHON.search(text)
        if m and f"{m.group(1)}.{m.group(2)}" in RELEASED:
            return PythonChoice(version=f"{m.group(1)}.{m.group(2)}", source=f"{rel}:{_line(text, m.start(1))} ({m.group(0).strip().lstrip('#').strip()[:60]})")
    return None


_README_PYTHON = re.compile(r"\b[Pp]ython\s*(?:version\s*|v)?\(?(?:>=?\s*)?([23])\.(\d{1,2})(?:\.\d+)?\b")


# "Python 2.7 or 3.6", "Python 3.5/3.6", "Python 3.6, 3.7": the versions listed after one.
_README_ALSO = re.compile(r"\s*(?:,|/|\bor\b|\band\b)\s*([23])\.(\d{1,2})(?:\.\d+)?\b")


def _from_readmes(root: Path, files: list[str]) -> PythonChoice | None:
    """The newest Python a README names (of those it lists together, too)."""
    for rel in files:
        text = _text(root / rel)
        found: list[tuple[int, int, str]] = []  # where the statement starts and ends, a version it names
        for m in _README_PYTHON.finditer(text):
            named, end = [f"{m.group(1)}.{m.group(2)}"], m.end()
            while (also := _README_ALSO.match(text, end)) is not None:
                named.append(f"{also.group(1)}.{also.group(2)}")
                end = also.end()
            found += [(m.start(), end, v) for v in named if v in RELEASED]
        if found:
            start, end, v = max(found, key=lambda f: key(f[2]))
            return PythonChoice(version=v, source=f"{rel}:{_line(text, start)} ({text[start:end].strip()})")
    return None


def _from_requires_python(root: Path, files: list[str], date: dt.date | None) -> PythonChoice | None:
    patterns = (r'^\s*requires-python\s*=\s*["\']([^"\']+)', r"python_requires\s*=\s*[\"']([^\"']+)")
    for rel in files:
        text = _text(root / rel)
        for pat in patterns:
            m = re.search(pat, text, re.M)
            if m:
                choice = _choice(versions_for(m.group(1), date), f"{rel}:{_line(text, m.start(1))} (python {m.group(1)})")
                if choice:
                    return choice
    return None


def _python2_only(root: Path, files: list[str]) -> PythonChoice | None:
    """Code that only Python 2 reads (``print x``, ``except E, e``) says 2.7."""
    for rel in files:
        text = _text(root / rel)
        try:
            ast.parse(text)
        except SyntaxError as exc:
            if re.search(r"print|Missing parentheses", str(exc.msg)) or re.search(r"^\s*except\s+\w+\s*,\s*\w+\s*:", text, re.M):
                return PythonChoice(version="2.7", source=f"{rel}:{exc.lineno} (Python 2 syntax: {exc.msg})")
        except ValueError:
            continue
    return None


def _by_depth(files: Iterable[str]) -> list[str]:
    return sorted(files, key=lambda r: (r.count("/"), r))


def infer(root: Path, files: Iterable[str], date: dt.date | None = None) -> PythonChoice | None:
    """The Python the paper states, from the most exact statement that exists: a lock
    file, an environment file anywhere in the tree, the header of a frozen requirements
    file ("# frozen under CPython 3.7.0"), ``.python-version``/``runtime.txt``, the image a
    Dockerfile builds on (``FROM python:3.7``), notebook metadata, a README, ``requires-python``/``python_requires``, and finally code that
    only Python 2 can read. None when the paper says nothing."""
    rels = _by_depth(files)
    names = {r: r.rsplit("/", 1)[-1] for r in rels}

    def pick(test: Callable[[str], bool]) -> list[str]:
        return [r for r in rels if test(names[r])]

    return (
        _from_lock_files(root, pick(lambda n: n in ("poetry.lock", "uv.lock", "Pipfile.lock")), date)
        or _from_env_files(root, pick(lambda n: re.fullmatch(r"[\w.-]*\.ya?ml", n) is not None and "lock" not in n), date)
        or _from_freeze_headers(root, pick(lambda n: re.fullmatch(r"(?i)[\w.-]*requirements[\w.-]*\.(txt|in)|constraints[\w.-]*\.txt", n) is not None))
        or _from_version_files(root, pick(lambda n: n in (".python-version", "runtime.txt")))
        or _from_dockerfiles(root, pick(lambda n: re.fullmatch(r"(?i)(?:[\w.-]+\.)?dockerfile(?:\.[\w.-]+)?|containerfile", n) is not None))
        or _from_notebooks(root, pick(lambda n: n.endswith(".ipynb")))
        or _from_readmes(root, pick(lambda n: re.fullmatch(r"(?i)readme(\.(md|rst|txt|markdown))?", n) is not None))
        or _from_requires_python(root, pick(lambda n: n in ("pyproject.toml", "setup.cfg", "setup.py")), date)
        or _python2_only(root, pick(lambda n: n.endswith(".py")))
    )


def current_at(date: dt.date) -> list[str]:
    """CPython versions released by ``date``, newest first: the candidates when a paper
    names no version."""
    return sorted((v for v, d in RELEASED.items() if d <= date and v != "2.7" and key(v) >= (3, 5)), key=key, reverse=True) or ["3.5"]


# --- finding an interpreter --------------------------------------------------------------

def _version_of(exe: str) -> str | None:
    full = release_of(exe)
    return ".".join(full.split(".")[:2]) if full else None


@functools.cache
def release_of(exe: str) -> str | None:
    """The X.Y.Z an interpreter is, asked of it."""
    try:
        out = subprocess.run([exe, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _pyenv_roots() -> list[Path]:
    roots = [os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")]
    return [Path(r) for r in dict.fromkeys(r for r in roots if r)]


def candidates(version: str) -> list[str]:
    """Places an interpreter of ``version`` may be, best first."""
    out: list[str] = []
    if running() == version:
        out.append(sys.executable)
    exe = shutil.which(f"python{version}")
    if exe:
        out.append(exe)
    for root in _pyenv_roots():
        versions = root / "versions"
        if versions.is_dir():
            found = [p for p in versions.iterdir() if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)]
            for p in sorted(found, key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True):
                out.append(str(p / "bin" / f"python{version}"))
    uv = _uv_find(version)
    if uv:
        out.append(uv)
    return out


def _uv_find(version: str) -> str | None:
    try:
        proc = subprocess.run([uv_bin(), "python", "find", "--no-project", "--offline", version], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    except (OSError, subprocess.TimeoutExpired, ImportError):
        return None
    except Exception:  # uv missing: the other places still count
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def find(version: str) -> tuple[str | None, str]:
    """An interpreter of ``version`` on this machine; else None and how to get one."""
    for exe in candidates(version):
        if os.access(exe, os.X_OK) and _version_of(exe) == version:
            return exe, ""
    how = (f"`uv python install {version}` or `pyenv install {version}`" if key(version) >= (3, 8)
           else f"`pyenv install {version}` (or your system's python{version} package)")
    return None, (f"no Python {version} on this machine (looked for python{version} on PATH, under pyenv and among uv's Pythons); "
                  f"install one with {how}, or choose another with --python")


@functools.cache
def installed() -> tuple[str, ...]:
    """The X.Y versions of CPython this machine has (see :func:`find`), oldest first."""
    return tuple(v for v in sorted(RELEASED, key=key) if find(v)[0] is not None)


def nearest_installed(version: str) -> list[str]:
    """Installed versions of the same major version as ``version``, nearest first (the
    newer of two as near): what a paper written for a Python this machine lacks can run on."""
    major, minor = key(version)
    same = [v for v in installed() if key(v)[0] == major and v != version]
    return sorted(same, key=lambda v: (abs(key(v)[1] - minor), -key(v)[1]))
