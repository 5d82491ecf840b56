"""Requirements a paper declares: requirements files, pyproject, setup.cfg/py, conda, Pipfile.

Each parser takes text and returns :class:`Declared` entries; none of them raises on bad
input: a file that cannot be read becomes a :class:`Problem` with its path and line.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from reprokit import schemas, toml
from reprokit.errors import InputError

# conda package names that differ from the PyPI distribution that provides the same code.
CONDA_TO_PYPI = {
    "pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch",
    "matplotlib-base": "matplotlib", "py-opencv": "opencv-python", "opencv": "opencv-python",
    "tensorflow-gpu": "tensorflow", "pyqt": "PyQt5", "pytables": "tables",
    "scikit-learn-intelex": "scikit-learn-intelex", "python-graphviz": "graphviz",
    "msgpack-python": "msgpack", "pillow-simd": "pillow", "py-xgboost": "xgboost",
    "ruamel_yaml": "ruamel.yaml", "jupyterlab_widgets": "jupyterlab-widgets",
    "typing_extensions": "typing-extensions",
}
# conda-only names that are not Python distributions at all.
CONDA_NON_PYTHON = frozenset(
    {"python", "pip", "cudatoolkit", "cudnn", "mkl", "blas", "libblas", "openblas", "r-base",
     "nodejs", "gcc", "gxx", "cmake", "make", "compilers", "cxx-compiler", "c-compiler",
     "libgcc", "openssl", "zlib", "ffmpeg", "graphviz", "hdf5", "libnetcdf", "gdal-bin",
     "git", "cuda", "cuda-toolkit", "pytorch-cuda", "cpuonly", "nccl", "jupyter_core_compat"}
)
REQUIREMENT_FILE = re.compile(r"^requirements.*\.(txt|in)$|^.*requirements\.(txt|in)$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Declared:
    """One requirement as written by the author, with where it was written."""

    requirement: str  # normalised PEP 508 text, e.g. "numpy>=1.24"
    name: str  # canonical distribution name
    source: str  # "requirements.txt:3"
    optional: bool = False  # an extra / dev group, not a base requirement
    # A conda package (outside an environment file's pip: list): it names the
    # distribution behind an import, but is no PyPI requirement of its own (conda also
    # ships C libraries and tools), and a pip requirements file beside it wins.
    conda: bool = False
    # Where the author installs it from instead of an index (git+https://…, a URL).
    url: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    path: str
    line: int | None
    message: str


def is_requirement(text: str) -> bool:
    """Whether ``text`` is a PEP 508 requirement."""

    try:
        Requirement(text)
    except InvalidRequirement:
        return False
    return True


def declaration(text: str, source: str, optional: bool = False) -> Declared | None:
    """A requirement as written (PEP 508) and where, or None when the text is none."""
    text = text.strip()
    if not text:
        return None
    # Imported on first use: scanning a tree that declares nothing never loads packaging.

    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    return Declared(requirement=str(req), name=canonicalize_name(req.name), source=source, optional=optional)


_EGG = re.compile(r"[#&]egg=([A-Za-z0-9_.\-]+)")


# pip reads a line as a path when it starts like one or names a local archive.
_LOCAL_PATH = re.compile(r"^(\.{1,2}([/\\[]|$)|[/~]|[A-Za-z]:[/\\])|^[^\s;@]*[/\\]|^[^\s;@]+\.(whl|tar\.gz|tgz|tar\.bz2|zip)$")
_ARCHIVE = re.compile(r"\.(whl|tar\.gz|tgz|tar\.bz2|zip)$")


def _archive_declared(line: str, source: str) -> Declared | None:
    """``name==version`` from a wheel or sdist file name in a path or URL, else None."""

    filename = re.split(r"[?#]", line.split(";")[0].strip())[0].rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]
    if not _ARCHIVE.search(filename):
        return None
    try:
        if filename.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(re.sub(r"\.(tgz|tar\.bz2|zip)$", ".tar.gz", filename))
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return declaration(f"{name}=={version}", source)


def parse_requirements_txt(text: str, path: str) -> tuple[list[Declared], list[Problem], list[str]]:
    """Entries of a pip requirements file; also returns the files it includes with -r."""
    found: list[Declared] = []
    problems: list[Problem] = []
    includes: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + lines[i]
        i += 1
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        if line.startswith(("-r", "--requirement", "-c", "--constraint")):
            parts = line.split(None, 1) if " " in line else [line[:2], line[2:]]
            if line.startswith(("-r", "--requirement")) and len(parts) == 2:
                includes.append(parts[1].strip())
            continue
        if line.startswith(("-e", "--editable")):
            egg = _EGG.search(line)
            if egg:
                d = declaration(egg.group(1), f"{path}:{lineno}")
                if d:
                    target = line.split(None, 1)[1] if " " in line else line[2:]
                    found.append(dataclasses.replace(d, url=target.strip()) if re.match(r"^\w+\+|^https?://", target.strip()) else d)
            continue
        if line.startswith("-"):
            continue  # --index-url, --hash only lines, --find-links ...
        line = re.split(r"\s+--hash", line)[0]
        if re.match(r"^(git\+|hg\+|svn\+|bzr\+|https?://|file:)", line) or _LOCAL_PATH.match(line):
            # A URL or a path: the name is in #egg=, else in an archive's file name. A
            # folder (".", "../lib") is a local project: the paper's own code, no problem.
            egg = _EGG.search(line)
            d = declaration(egg.group(1), f"{path}:{lineno}") if egg else _archive_declared(line, f"{path}:{lineno}")
            if d:
                found.append(dataclasses.replace(d, url=line) if re.match(r"^(git\+|hg\+|svn\+|bzr\+|https?://)", line) else d)
            continue
        d = declaration(line, f"{path}:{lineno}")
        if d is None:
            problems.append(Problem(path=path, line=lineno, message=f"not a requirement: {line!r}"))
        else:
            found.append(d)
    return found, problems, includes


def _line_of(text: str, needle: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return None


def parse_pyproject(text: str, path: str) -> tuple[list[Declared], list[Problem], str | None]:
    """PEP 621, Poetry and dependency-group requirements; also the project's own name."""
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        return [], [Problem(path=path, line=int(line.group(1)) if line else None, message=f"invalid TOML: {exc}")], None
    found: list[Declared] = []
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}

    def add(reqs: Iterable[object], optional: bool) -> None:
        for r in reqs:
            if isinstance(r, str):
                d = declaration(r, f"{path}:{_line_of(text, r) or 1}", optional)
                if d:
                    found.append(d)

    add(project.get("dependencies", []) or [], False)
    for extra in (project.get("optional-dependencies", {}) or {}).values():
        add(extra or [], True)
    for group in (data.get("dependency-groups", {}) or {}).values():
        add(group or [], True)
    poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
    if isinstance(poetry, dict):
        for section, optional in (("dependencies", False), ("dev-dependencies", True)):
            for name, spec in (poetry.get(section, {}) or {}).items():
                if name.lower() == "python":
                    continue
                is_opt = optional or (isinstance(spec, dict) and bool(spec.get("optional")))
                d = declaration(name, f"{path}:{_line_of(text, name) or 1}", is_opt)
                if d:
                    found.append(d)
        for group in (poetry.get("group", {}) or {}).values():
            for name in (group.get("dependencies", {}) or {}):
                d = declaration(name, f"{path}:{_line_of(text, name) or 1}", True)
                if d:
                    found.append(d)
    name = project.get("name") or (poetry.get("name") if isinstance(poetry, dict) else None)
    return found, [], name if isinstance(name, str) else None


def parse_setup_cfg(text: str, path: str) -> tuple[list[Declared], list[Problem], str | None]:
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read_string(text)
    except configparser.Error as exc:
        return [], [Problem(path=path, line=getattr(exc, "lineno", None), message=f"invalid setup.cfg: {exc}")], None
    found: list[Declared] = []
    if cp.has_option("options", "install_requires"):
        for r in cp.get("options", "install_requires").splitlines():
            d = declaration(r.split("#")[0], f"{path}:{_line_of(text, r.strip()) or 1}")
            if d:
                found.append(d)
    if cp.has_section("options.extras_require"):
        for _, value in cp.items("options.extras_require"):
            for r in value.splitlines():
                d = declaration(r.split("#")[0], f"{path}:{_line_of(text, r.strip()) or 1}", True)
                if d:
                    found.append(d)
    name = cp.get("metadata", "name", fallback=None)
    return found, [], name


def parse_setup_py(text: str, path: str) -> tuple[list[Declared], list[Problem], str | None]:
    """``install_requires``/``extras_require`` of ``setup(...)`` when they are literals."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        return [], [Problem(path=path, line=getattr(exc, "lineno", None), message=f"cannot parse: {exc.__class__.__name__}")], None
    found: list[Declared] = []
    name: str | None = None
    assigned: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "setup"):
            continue
        for kw in node.keywords:
            value = assigned.get(kw.value.id, kw.value) if isinstance(kw.value, ast.Name) else kw.value
            try:
                literal = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            if kw.arg == "install_requires" and isinstance(literal, (list, tuple)):
                for r in literal:
                    d = declaration(str(r), f"{path}:{value.lineno}")
                    if d:
                        found.append(d)
            elif kw.arg == "extras_require" and isinstance(literal, dict):
                for reqs in literal.values():
                    for r in reqs if isinstance(reqs, (list, tuple)) else [reqs]:
                        d = declaration(str(r), f"{path}:{value.lineno}", True)
                        if d:
                            found.append(d)
            elif kw.arg == "name" and isinstance(literal, str):
                name = literal
    return found, [], name


def parse_environment_yml(text: str, path: str) -> tuple[list[Declared], list[Problem]]:
    try:
        data = schemas.parse_yaml(text, path)
    except InputError as exc:
        m = re.match(rf"{re.escape(path)}(?::(\d+))?: (.*)", str(exc))
        line, why = (int(m.group(1)) if m and m.group(1) else None), (m.group(2) if m else str(exc))
        return [], [Problem(path=path, line=line, message=why)]
    found: list[Declared] = []
    deps = data.get("dependencies", []) if isinstance(data, dict) else []
    for dep in deps or []:
        if isinstance(dep, dict):
            for r in dep.get("pip", []) or []:
                d = declaration(str(r), f"{path}:{_line_of(text, str(r)) or 1}")
                if d:
                    found.append(d)
            continue
        spec = str(dep).split("::")[-1].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
        if not m:
            continue
        name, version = m.group(1), m.group(2).strip()
        if name.lower() in CONDA_NON_PYTHON or name.lower().startswith(("r-", "lib")):
            continue
        name = CONDA_TO_PYPI.get(name.lower(), name)
        v = version.replace(" ", "")
        if re.fullmatch(r"=?=?[\w.*]+(=[\w.*]+)?", v):
            # conda's "=1.24" is fuzzy (1.24.*), "==1.24" exact; "=1.24=py311_0" adds a build.
            ver = v.lstrip("=").split("=")[0]
            exact = v.startswith("==") or ver.endswith("*")
            text_req = f"{name}=={ver}" if exact else f"{name}=={ver}.*"
        else:
            text_req = f"{name}{v}"
        where = f"{path}:{_line_of(text, str(dep)) or 1}"
        d = declaration(text_req, where) or declaration(name, where)
        if d:
            found.append(dataclasses.replace(d, conda=True))
    return found, []


def parse_pipfile(text: str, path: str) -> tuple[list[Declared], list[Problem]]:
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        return [], [Problem(path=path, line=None, message=f"invalid TOML: {exc}")]
    found: list[Declared] = []
    for section, optional in (("packages", False), ("dev-packages", True)):
        for name, spec in (data.get(section, {}) or {}).items():
            req = name
            if isinstance(spec, str) and spec not in ("*", ""):
                req = f"{name}{spec}" if spec[0] in "<>=!~" else f"{name}=={spec}"
            elif isinstance(spec, dict) and isinstance(spec.get("version"), str) and spec["version"] != "*":
                req = f"{name}{spec['version']}"
            d = declaration(req, f"{path}:{_line_of(text, name) or 1}", optional) or declaration(
                name, f"{path}:{_line_of(text, name) or 1}", optional
            )
            if d:
                found.append(d)
    return found, []


@dataclass(frozen=True, kw_only=True, slots=True)
class DeclaredSet:
    requirements: tuple[Declared, ...]
    problems: tuple[Problem, ...]
    project_names: tuple[str, ...]  # the paper's own package name(s), if it declares one


def read_declared(root: Path, rel_files: Iterable[str]) -> DeclaredSet:
    """Read every declaration file among ``rel_files`` (paths relative to ``root``)."""
    found: list[Declared] = []
    problems: list[Problem] = []
    names: list[str] = []
    pending = sorted(rel_files)
    done: set[str] = set()
    included: set[str] = set()
    while pending:
        rel = pending.pop(0)
        if rel in done:
            continue
        done.add(rel)
        path = root / rel
        base = path.name
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as exc:
            problems.append(Problem(path=rel, line=None, message=f"cannot read: {exc.strerror}"))
            continue
        if REQUIREMENT_FILE.match(base) or rel in included:
            reqs, probs, includes = parse_requirements_txt(text, rel)
            parent = Path(rel).parent
            for inc in includes:
                # "-r base.txt" is a requirements file whatever its name.
                inc_rel = os.path.normpath(parent / inc).replace(os.sep, "/")
                if inc_rel.startswith("../") or os.path.isabs(inc_rel):
                    problems.append(Problem(path=rel, line=_line_of(text, inc), message=f"includes {inc}, outside the paper folder: not read"))
                elif (root / inc_rel).is_file():
                    included.add(inc_rel)
                    pending.append(inc_rel)
                else:
                    problems.append(Problem(path=rel, line=_line_of(text, inc), message=f"includes {inc}, which does not exist"))
            found += reqs
            problems += probs
        elif base == "pyproject.toml":
            reqs, probs, name = parse_pyproject(text, rel)
            found += reqs
            problems += probs
            names += [name] if name else []
        elif base == "setup.cfg":
            reqs, probs, name = parse_setup_cfg(text, rel)
            found += reqs
            problems += probs
            names += [name] if name else []
        elif base == "setup.py":
            reqs, probs, name = parse_setup_py(text, rel)
            found += reqs
            problems += probs
            names += [name] if name else []
        elif base.endswith((".yml", ".yaml")):
            # A conda environment, whatever its file is called (env.yml, binder/…): one
            # with a dependencies: list at its top.
            if re.search(r"^dependencies\s*:", text, re.M):
                reqs, probs = parse_environment_yml(text, rel)
                found += reqs
                problems += probs
        elif base == "Pipfile":
            reqs, probs = parse_pipfile(text, rel)
            found += reqs
            problems += probs
    return DeclaredSet(requirements=tuple(found), problems=tuple(problems), project_names=tuple(names))


def is_declaration_file(name: str) -> bool:
    """A file that may declare requirements (YAML files are read as conda environments
    when they have a top-level dependencies: list)."""
    return bool(REQUIREMENT_FILE.match(name)) or name.endswith((".yml", ".yaml")) or name in (
        "pyproject.toml", "setup.cfg", "setup.py", "Pipfile",
    )
