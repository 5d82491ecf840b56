"""The paper's entry points: what to run to reproduce it, how, and from where.

In order of authority:

1. the author's list, in ``reprokit.toml`` or ``[tool.reprokit]`` of ``pyproject.toml``:
   ``entry-points = ["run.py", {path = "run.py", args = ["all"], cwd = "code"}]``;
2. the commands the paper's READMEs and Makefiles give (``cd code && python run.py all``,
   ``$ python main.py``), run from the folder the command runs in;
3. otherwise every script with ``if __name__ == "__main__":``, and every script without
   one that runs another script of the paper itself (a driver, run in place of what it
   runs).

Notebooks are entry points in every case but the first. Support code (tests, docs,
benchmarks), article tooling (LaTeX builders) and publishing helpers never are. A script
runs from its own folder unless its command says otherwise, as a person would run it.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reprokit.errors import InputError
from reprokit.scan import has_main_guard, is_support_code, paperconfig
from reprokit.scan.documents import (
    Command,
    commands_in,
    documents,
    fill_placeholders,
    in_mention_order,
    is_article_tooling,
    missing_inputs,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryPoint:
    name: str  # the app name, e.g. "run_analysis"
    kind: Literal["script", "notebook"]
    path: str  # inside paper/
    args: tuple[str, ...] = ()  # command-line arguments of a script
    cwd: str | None = None  # the folder it runs in, inside paper/ (default: its own)
    # Empty folders it writes into, made before it runs (git keeps no empty folder, so a
    # paper's figures/ is often missing from its repository), inside paper/.
    mkdirs: tuple[str, ...] = ()


# The build step of the paper's own extension modules, run as the first entry point:
# ``python setup.py build_ext --inplace``.
BUILD_ARGS = ("build_ext", "--inplace")


def is_build_step(ep: EntryPoint) -> bool:
    """Whether ``ep`` builds the paper's own extension modules rather than computes."""
    return ep.path.rsplit("/", 1)[-1] == "setup.py" and ep.args == BUILD_ARGS


# Where an entry point the author listed comes from (Found.source): those must run.
CONFIGURED = frozenset({"reprokit.toml", "pyproject.toml"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Found:
    """An entry point and why it is one (``README.md:17``, ``reprokit.toml``, ...)."""

    entry_point: EntryPoint
    source: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Detection:
    found: tuple[Found, ...]
    notes: tuple[str, ...] = ()

    @property
    def entry_points(self) -> list[EntryPoint]:
        return [f.entry_point for f in self.found]


def name_for(path: str) -> str:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if stem == "__main__" and "/" in path:
        stem = path.rsplit("/", 2)[-2]
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "entry"


def _kind(path: str) -> str:
    return "notebook" if path.endswith(".ipynb") else "script"


def _config_entry(item: object, cfg: Path, paper: Path) -> tuple[str, tuple[str, ...], str | None]:
    if isinstance(item, str):
        path, args, cwd = item, (), None
    elif isinstance(item, dict) and isinstance(item.get("path"), str):
        path = item["path"]
        raw = item.get("args", [])
        if isinstance(raw, str):
            raw = shlex.split(raw)
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            raise InputError(f"{cfg}: entry point {path!r}: args must be a list of strings")
        args = tuple(raw)
        cwd = item.get("cwd")
        if cwd is not None and (not isinstance(cwd, str) or not (paper / cwd).is_dir() or not _inside(cwd)):
            raise InputError(f"{cfg}: entry point {path!r}: cwd {cwd!r} is not a folder of the paper")
        unknown = set(item) - {"path", "args", "cwd"}
        if unknown:
            raise InputError(f"{cfg}: entry point {path!r}: unknown key(s) {', '.join(sorted(unknown))} (path, args and cwd are known)")
    else:
        raise InputError(f"{cfg}: entry-points holds paths, or tables with path, args and cwd; not {item!r}")
    if not _inside(path) or not (paper / path).is_file():
        raise InputError(f"{cfg}: entry point {path!r} is not a file of the paper")
    return path, args, cwd


def _inside(rel: str) -> bool:
    norm = posixpath.normpath(rel)
    return not (rel.startswith("/") or norm == ".." or norm.startswith("../"))


def kept_folders(paper: Path) -> frozenset[str]:
    """Folders the author keeps in the bundle although their names say build output:
    ``include = ["build"]`` in reprokit.toml."""
    cfg = paperconfig.read(paper)
    include = cfg.table.get("include", [])
    if not isinstance(include, list) or not all(isinstance(i, str) and _inside(i) for i in include):
        raise InputError(f"{cfg.where}: include must be a list of folders of the paper")
    return frozenset(posixpath.normpath(i).rstrip("/") for i in include)


def configured(paper: Path) -> list[Found] | None:
    cfg = paperconfig.read(paper)
    eps = cfg.table.get("entry-points")
    if eps is None or cfg.path is None:
        return None
    if not isinstance(eps, list):
        raise InputError(f"{cfg.where}: entry-points must be a list")
    out = []
    for item in eps:
        path, args, cwd = _config_entry(item, cfg.path, paper)
        out.append(Found(entry_point=EntryPoint(name=name_for(path), kind=_kind(path), path=path, args=args, cwd=cwd),  # type: ignore[arg-type]
                         source=cfg.path.name))
    return out


def from_documents(paper: Path, files: Sequence[str]) -> tuple[list[Found], list[str]]:
    """Entry points from the commands that the paper's READMEs and Makefiles give."""
    fileset = frozenset(files)
    by_script: dict[str, list[Command]] = {}
    for doc in documents(files):
        for cmd in commands_in(paper, doc, fileset):
            if is_support_code(cmd.path) or is_article_tooling(cmd.path):
                continue
            by_script.setdefault(cmd.path, []).append(cmd)
    found: list[Found] = []
    notes: list[str] = []
    for path, cmds in by_script.items():
        # One run per script: the command that runs everything ("all") where the document
        # offers one, else the first it gives.
        best = next((c for c in cmds if any(a.lower() in ("all", "--all") for a in c.args)), cmds[0])
        missing = missing_inputs(best, paper)
        if missing:
            notes.append(f"{best.source}: `{path}` is not run: it reads {', '.join(missing[:2])}, which the paper does not hold")
            continue
        script = _text(paper, path) if path.endswith(".py") else ""
        args, filled = fill_placeholders(best.args, script)
        # A script runs where its command runs; a notebook's kernel starts in its own folder.
        cwd = best.cwd if best.cwd != posixpath.dirname(path) and _kind(path) == "script" else None
        ep = EntryPoint(name=name_for(path), kind=_kind(path), path=path, args=args, cwd=cwd)  # type: ignore[arg-type]
        found.append(Found(entry_point=ep, source=best.source + (f", with {filled} (the example {path} gives for what it requires)"
                                                                  if filled else "")))
    return found, notes


def _text(paper: Path, rel: str) -> str:
    """A file of the paper as text, whatever its encoding; "" when it cannot be read."""
    try:
        return (paper / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _main_guarded(paper: Path, files: Sequence[str]) -> list[str]:
    return [rel for rel in files if rel.endswith(".py") and not is_support_code(rel) and not is_article_tooling(rel)
            and has_main_guard(_text(paper, rel))]


# A line that runs another script: subprocess, os.system/popen, runpy, exec(open(...)).
_RUNS = re.compile(r"\b(?:subprocess\.\w+|os\.(?:system|popen|exec\w*)|run_path|exec\s*\(\s*open|check_call|check_output|Popen|call)\s*\(")
_SCRIPT_NAME = re.compile(r"""(?:['"\s]|^)((?:[\w.-]+/)*[\w.-]+\.py)\b""")


def _runs(paper: Path, rel: str, scripts: set[str]) -> list[str]:
    """The scripts of ``scripts`` that the script ``rel`` runs itself, in order."""
    text = _text(paper, rel)
    folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
    out: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not _RUNS.search(line):
            continue
        for name in _SCRIPT_NAME.findall(line):
            target = posixpath.normpath(posixpath.join(folder, name))
            if target in scripts and target != rel and target not in out:
                out.append(target)
    return out


def run_by_others(paper: Path, scripts: Sequence[str]) -> dict[str, str]:
    """Scripts another of ``scripts`` runs itself (``subprocess.run(["python",
    "simulations.py"])`` in run_all.py): script -> the one that runs it. The driver is the
    entry point; running what it runs again beside it would do the work twice."""
    by_path = set(scripts)
    out: dict[str, str] = {}
    for rel in scripts:
        for target in _runs(paper, rel, by_path):
            if out.get(rel) != target:
                out.setdefault(target, rel)
    return out


def _drivers(paper: Path, files: Sequence[str], guarded: set[str]) -> dict[str, str]:
    """Scripts at the top or one folder down, without ``if __name__ == "__main__":``,
    that run another script of the paper themselves (a ``run.py`` of
    ``os.system(sys.executable + " ./stippler.py ../data/plant.png --save")`` lines) and
    that no other file imports: the paper's driver, which its authors run as it is ->
    the first script it runs."""
    python = {rel for rel in files if rel.endswith(".py")}
    drivers: dict[str, str] = {}
    for rel in sorted(python - guarded):
        if rel.count("/") > 1 or is_support_code(rel) or is_article_tooling(rel) or rel.rsplit("/", 1)[-1] in ("setup.py", "conftest.py", "__init__.py"):
            continue
        runs = _runs(paper, rel, python)
        if runs:
            drivers[rel] = runs[0]
    if not drivers:
        return {}
    imported = {m.group(1) for rel in python for m in _IMPORTED.finditer(_text(paper, rel))}
    return {d: t for d, t in drivers.items() if d.rsplit("/", 1)[-1][:-3] not in imported}


# The first name of an import statement (``import a.b``, ``from a import b``).
_IMPORTED = re.compile(r"^[ \t]*(?:from|import)[ \t]+\.*([\w]+)", re.M)


def _without_run_by_others(paper: Path, found: list[Found]) -> list[Found]:
    scripts = [f.entry_point.path for f in found if f.entry_point.kind == "script" and not f.entry_point.args]
    run = run_by_others(paper, scripts)
    return [f for f in found if f.entry_point.path not in run]


def _unique(found: list[Found]) -> list[Found]:
    seen: set[str] = set()
    out = []
    for f in found:
        name = f.entry_point.name
        while name in seen:
            name += "_"
        seen.add(name)
        ep = f.entry_point
        out.append(Found(entry_point=EntryPoint(name=name, kind=ep.kind, path=ep.path, args=ep.args, cwd=ep.cwd), source=f.source))
    return out


def detect(paper: Path, files: Sequence[str]) -> Detection:
    """The entry points of the paper (see the module docstring for the order)."""
    chosen = configured(paper)
    if chosen is not None:
        return Detection(found=tuple(_unique(chosen)))
    documented, notes = from_documents(paper, files)
    named = {f.entry_point.path for f in documented}
    notebooks = [Found(entry_point=EntryPoint(name=name_for(rel), kind="notebook", path=rel), source="notebook")
                 for rel in in_mention_order(paper, files, [rel for rel in files if rel.endswith(".ipynb") and rel not in named
                                                              and not is_support_code(rel) and not is_article_tooling(rel)])]
    if any(f.entry_point.kind == "script" for f in documented):
        # The authors said what to run: their commands, in their order, then the notebooks.
        ordered = [*documented, *notebooks]
    else:
        main_guarded = _main_guarded(paper, files)
        guarded = _without_run_by_others(paper, sorted([
            *(Found(entry_point=EntryPoint(name=name_for(rel), kind="script", path=rel), source='if __name__ == "__main__"')
              for rel in main_guarded),
            *(Found(entry_point=EntryPoint(name=name_for(rel), kind="script", path=rel), source=f"runs {target} itself")
              for rel, target in _drivers(paper, files, set(main_guarded)).items())], key=lambda f: f.entry_point.path))
        ordered = [*guarded, *documented, *notebooks]
    return Detection(found=tuple(_unique(ordered)), notes=tuple(notes))


def candidates(files: Sequence[str], imported: set[str] | frozenset[str]) -> list[str]:
    """Scripts at the paper's top level (or in one code folder) that nothing imports:
    what an author most likely runs by hand, suggested when no entry point is found."""
    packages = {f.rsplit("/", 1)[0] for f in files if f.endswith("/__init__.py")}
    out = []
    for rel in files:
        if not rel.endswith(".py") or rel.count("/") > 1 or is_support_code(rel) or is_article_tooling(rel):
            continue
        if "/" in rel and rel.rsplit("/", 1)[0] in packages:
            continue  # a module of a package, not a script
        module = rel.rsplit("/", 1)[-1][:-3]
        if module in imported or module == "__init__":
            continue
        out.append(rel)
    return sorted(out, key=lambda r: (r.count("/"), r))


# Scripts named for making data or results run before those named for figures or tables.
_PRODUCER = re.compile(r"^(make|gen|generate|sim|simulate|simulation|run|compute|calc|train|fit|prep|prepare|preprocess|process|main)", re.I)


def guessed(files: Sequence[str], imported: set[str] | frozenset[str], paper: Path | None = None) -> list[Found]:
    """When the paper names nothing to run: its scripts nothing imports (:func:`candidates`),
    those named for making data first (``make_*``, ``simulate*``, ``run*``), then the rest;
    with ``paper``, not those another of them runs itself (:func:`run_by_others`)."""
    scripts = candidates(files, imported)
    ordered = sorted(scripts, key=lambda r: (0 if _PRODUCER.match(r.rsplit("/", 1)[-1]) else 1, r.count("/"), r))
    found = [Found(entry_point=EntryPoint(name=name_for(rel), kind="script", path=rel), source="a script nothing imports") for rel in ordered]
    return _without_run_by_others(paper, found) if paper is not None else found
