"""The paper as a bundle holds it: its date and name, its files copied (links that leave it
left out), the extension modules it compiles itself, and a placeholder CITATION.cff.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import posixpath
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reprokit.errors import InputError, UsageError
from reprokit.scan import ScanResult, citation, tree
from reprokit.scan.entrypoints import BUILD_ARGS, EntryPoint


def paper_date(paper: Path, cit: citation.Citation | None) -> tuple[dt.date, str]:
    """The paper's own date and where it came from; never today's (a bundle holds no
    wall-clock time, and it is the date versions are resolved as of)."""
    if cit and cit.date_released:
        return cit.date_released, "CITATION.cff date-released"
    try:
        out = subprocess.run(["git", "-C", str(paper), "log", "-1", "--format=%cs"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", out.stdout.strip()):
            return dt.date.fromisoformat(out.stdout.strip()), "newest git commit"
    except (OSError, subprocess.TimeoutExpired):
        pass
    raise UsageError(f"{paper}: no date to archive it as of (CITATION.cff has no date-released, and there is no git history); "
                     "pass --date YYYY-MM-DD, the paper's date")


def bundle_name(paper: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", paper.resolve().name).strip("-.") or "paper"


def copy_paper(src: Path, dest: Path, walked: tree.Walk) -> tuple[list[str], list[str]]:
    """Copy the paper's files (as ``walked`` found them); returns them and notes on links
    that were not followed. A file or folder that cannot be read, or whose name is not
    UTF-8, stops the archive: a bundle silently missing part of the paper would not rerun."""
    notes = []
    for rel, why in walked.skipped:
        where = src / tree.shown(rel)
        if why.startswith(tree.CANNOT_READ):
            raise InputError(f"{where}: {why}; fix its permissions, or list it in .gitignore")
        if why == tree.NOT_UTF8:
            raise InputError(f"{where}: the {why}; rename it (bundles are read on every system)")
        if why.startswith(tree.LEAVES):
            notes.append(f"{where}: {why}; it is not in the bundle")
        elif why == tree.BUILD_OUTPUT:
            notes.append(f"{rel}/: left out of the bundle ({why}); if it is part of the paper, keep it with "
                         f'include = ["{rel}"] in reprokit.toml')
    files = list(walked.files)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(src / rel, target)
        except OSError as exc:
            raise InputError(f"{src / rel}: cannot read ({exc.strerror}); fix its permissions, or list it in .gitignore") from None
        if os.access(src / rel, os.X_OK):
            target.chmod(0o755)
    return files, notes


def _unbuilt(scanned: ScanResult, files: Sequence[str]) -> dict[str, str]:
    """The paper's own extension modules that exist only as Cython source (``x.pyx``, no
    built ``x.*.so`` beside it) and that it imports: module -> its ``.pyx``."""
    local = {i.top for i in scanned.imports if i.kind == "local"}
    imported = {i.module for i in scanned.imports if i.kind == "local"}
    # x.cpython-36m-x86_64-linux-gnu.so is a build of the x.pyx in its folder.
    built = {posixpath.join(posixpath.dirname(f), posixpath.basename(f).split(".")[0]) for f in files if f.endswith((".so", ".pyd"))}
    out: dict[str, str] = {}
    for f in files:
        if not f.endswith(".pyx") or f[:-len(".pyx")] in built:
            continue
        parts = f[:-len(".pyx")].split("/")
        if parts[-1] in local:  # beside the code that imports it
            out.setdefault(parts[-1], f)
            continue
        # In a package of the paper: hype/graph_dataset.pyx is hype.graph_dataset.
        for start in range(len(parts) - 1):
            dotted = ".".join(parts[start:])
            if any(m == dotted or m.startswith(f"{dotted}.") for m in imported):
                out.setdefault(dotted, f)
                break
    return out


def unbuilt_extensions(scanned: ScanResult, files: Sequence[str], builds: Sequence[ExtensionBuild] = ()) -> dict[str, str]:
    """The paper's own extension modules it holds no build of: module -> a line saying so.
    No index provides them: a run that imports one and fails must not be mended by locking
    a PyPI project that happens to share the name. Those a build step makes (``builds``)
    say so; of the others, that reprokit does not build them."""
    by_build = {m: b for b in builds for m in b.modules}
    out = {}
    for module, f in _unbuilt(scanned, files).items():
        b = by_build.get(module)
        if b is not None:
            out[module] = (f"{module} is the paper's own extension module, compiled from {f}: the first entry point builds it "
                           f"(`python {posixpath.basename(b.entry_point.path)} build_ext --inplace` in "
                           f"{posixpath.dirname(b.entry_point.path) or 'the paper'}/), and runs that import it fail when that build did")
        else:
            out[module] = (f"{module} is the paper's own extension module, compiled from {f}, and the paper holds no build of it: "
                           "runs that import it fail unless it is built first (often `python setup.py build_ext --inplace`), "
                           "and no setup.py of the paper builds extension modules")
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class ExtensionBuild:
    """``python setup.py build_ext --inplace``, as an entry point run before the others,
    and the paper's own modules it makes."""

    entry_point: EntryPoint
    modules: tuple[str, ...]


# What a setup.py that compiles extension modules says.
_BUILDS_EXTENSIONS = re.compile(r"\bExtension\s*\(|\bext_modules\b|\bcythonize\s*\(")


def extension_builds(paper: Path, scanned: ScanResult, files: Sequence[str]) -> list[ExtensionBuild]:
    """The build steps of the paper's own extension modules: for a module it imports and
    holds only the source of (``x.pyx``, and often the ``x.c`` Cython made from it), the
    ``setup.py`` nearest above that source that compiles extension modules, run as its
    README says to (``python setup.py build_ext --inplace``), in its folder, before the
    paper's other entry points, in the same copy of the paper."""
    present = set(files)
    steps: dict[str, list[str]] = {}
    for module, source in sorted(_unbuilt(scanned, files).items()):
        folder = posixpath.dirname(source)
        while True:
            setup = posixpath.join(folder, "setup.py") if folder else "setup.py"
            if setup in present and _compiles(paper / setup, posixpath.relpath(source, folder or ".")):
                steps.setdefault(setup, []).append(module)
                break
            if not folder:
                break
            folder = posixpath.dirname(folder)
    out = []
    for setup, modules in sorted(steps.items()):
        folder = posixpath.dirname(setup)
        name = "build-extensions" + (f"-{re.sub(r'[^A-Za-z0-9]+', '-', folder).strip('-')}" if folder and len(steps) > 1 else "")
        out.append(ExtensionBuild(entry_point=EntryPoint(name=name, kind="script", path=setup, args=BUILD_ARGS),
                                  modules=tuple(modules)))
    return out


def _compiles(setup: Path, source: str) -> bool:
    """Whether ``setup`` compiles extension modules, ``source`` (its path from the
    setup.py's folder) among them: named (``Extension("algorithms", ["algorithms" + ext])``)
    or matched by a pattern (``cythonize("hype/*.pyx")``)."""
    try:
        text = setup.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if _BUILDS_EXTENSIONS.search(text) is None:
        return False
    stem = posixpath.basename(source).split(".")[0]
    patterns = re.findall(r"""['"]([^'"\n]*\*[^'"\n]*)['"]""", text)
    return re.search(rf"\b{re.escape(stem)}\b", text) is not None or any(fnmatch.fnmatch(source, p) for p in patterns)


def generated_citation(name: str, date: dt.date) -> str:
    return (f'cff-version: 1.2.0\nmessage: "Archived with reprokit; replace this file with the paper\'s own citation."\n'
            f'title: "{name}"\ntype: software\nauthors:\n  - name: "unknown"\ndate-released: "{date.isoformat()}"\n')
