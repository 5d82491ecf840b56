"""Reading the paper's files: one ``.py`` or ``.ipynb`` file into what it imports, installs
and runs (:class:`FileImports`), many files in a pool of processes, and the warnings of a
file that cannot be read.
"""

from __future__ import annotations

import ast
import concurrent.futures  # here, not at the top: only large trees need it
import dataclasses
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from reprokit.scan import _imports, _paths, notebook
from reprokit.scan._imports import FoundImport

MAX_FILE_BYTES = 20 * 1024 * 1024
# A process pool pays for itself from about this much source (or this many files).
PARALLEL_BYTES = 2 * 1024 * 1024
PARALLEL_FILES = 400


@dataclass(frozen=True, kw_only=True, slots=True)
class Warning_:
    path: str
    line: int | None
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class FileImports:
    """What one file yielded: imports with their lines, installs, and problems."""

    path: str
    imports: tuple[FoundImport, ...] = ()
    installs: tuple[notebook.Install, ...] = ()
    warnings: tuple[Warning_, ...] = ()
    failed: bool = False
    # Notebooks: for each line of the joined code, (cell number, line in that cell).
    origins: tuple[tuple[int, int], ...] = ()
    main_guard: bool = False  # has ``if __name__ == "__main__":``, so it is run by name
    # Folders the file puts on sys.path, relative to its own ("..", "lib").
    path_additions: tuple[str, ...] = ()

    def location(self, line: int) -> str:
        """``script.py:12``, or ``analysis.ipynb:cell 3:2`` for a notebook."""
        if self.origins and 0 < line <= len(self.origins):
            cell, cell_line = self.origins[line - 1]
            return f"{self.path}:cell {cell}:{cell_line}"
        return f"{self.path}:{line}"


def warning_at(location: str, message: str) -> Warning_:
    """A warning at ``path:line``, or at ``notebook.ipynb:cell 3:2`` (the cell goes into the
    message: a file line would point into the notebook's JSON)."""
    path, _, where = location.partition(":cell ")
    if where:
        cell, _, line = where.partition(":")
        return Warning_(path=path, line=None, message=f"{_in_cell(cell, line)}: {message}")
    path, _, line = location.rpartition(":")
    return Warning_(path=path, line=int(line), message=message)


def _in_cell(cell: int | str, line: int | str | None) -> str:
    """Where in a notebook, as warnings say it: ``cell 3, line 2`` (or ``cell 3``)."""
    return f"cell {cell}, line {line}" if line else f"cell {cell}"


# --- one file ------------------------------------------------------------------------

def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        m = re.search(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", raw[:200], re.MULTILINE)
        if m:
            try:
                return raw.decode(m.group(1).decode("ascii"))
            except (LookupError, UnicodeDecodeError):
                pass
        return raw.decode("latin-1")


def scan_file(root: str, rel: str, target: tuple[int, int], platform: str = "linux") -> FileImports:
    """Imports of one file; never raises for bad content."""
    path = os.path.join(root, rel)
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            return FileImports(path=rel, failed=True, warnings=(Warning_(path=rel, line=None, message=f"skipped: {size // 1048576} MiB is larger than {MAX_FILE_BYTES // 1048576} MiB"),))
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        return FileImports(path=rel, failed=True, warnings=(Warning_(path=rel, line=None, message=f"cannot read: {exc.strerror}"),))
    if b"\x00" in raw[:8192]:
        return FileImports(path=rel, failed=True, warnings=(Warning_(path=rel, line=None, message="binary file, not source: skipped"),))
    text = _decode(raw)
    try:
        if rel.endswith(".ipynb"):
            return _scan_notebook(rel, text, target, platform)
        return _scan_source(rel, text, target, platform)
    except Exception as exc:  # one odd file must not end a scan of thousands
        message = f"not scanned: reprokit failed on this file ({exc.__class__.__name__}: {exc}); please report it"
        return FileImports(path=rel, failed=True, warnings=(Warning_(path=rel, line=None, message=message),))


def _not_valid(target: tuple[int, int], reason: str) -> str:
    """What a failed parse says: the code is not valid for the target Python, unless the
    target is newer than the Python running reprokit, whose parser may not know it."""
    running = sys.version_info[:2]
    if target > running:
        return (f"Python {running[0]}.{running[1]}, which runs reprokit, cannot parse it ({reason}); imports read "
                f"with the tokenizer (run reprokit on Python {target[0]}.{target[1]} for a full check)")
    return f"not valid Python {target[0]}.{target[1]} ({reason}); imports read with the tokenizer"


def _scan_source(rel: str, text: str, target: tuple[int, int], platform: str) -> FileImports:
    try:
        found = _imports.extract(text, target=target, platform=platform)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        found = _imports.extract_loose(text)
        reason = getattr(exc, "msg", None) or exc.__class__.__name__
        msg = _not_valid(target, reason)
        return FileImports(path=rel, imports=tuple(found), warnings=(Warning_(path=rel, line=line, message=msg),))
    warnings: tuple[Warning_, ...] = ()
    # The skeleton parse reads only import statements: a file that cannot run is worth a
    # line too (``def f(:`` far from any import). Only where this Python's parser reads
    # the target's grammar (not for Python 2, nor a newer Python than the running one).
    if (3, 0) <= target <= sys.version_info[:2]:
        try:
            ast.parse(text)
        except SyntaxError as exc:
            warnings = (Warning_(path=rel, line=exc.lineno, message=f"not valid Python {target[0]}.{target[1]} ({exc.msg}): the file cannot run as it is"),)
        except (ValueError, RecursionError, MemoryError):
            pass
    installs: tuple[notebook.Install, ...] = ()
    if "install" in text:  # os.system("pip install ...") and the like
        installs = tuple(i for n, line in enumerate(text.splitlines(), 1) if "install" in line and line.lstrip().startswith(("os.system", "subprocess", "!")) for i in notebook.find_installs(line, n))
    return FileImports(path=rel, imports=tuple(found), installs=installs, main_guard=_imports.has_main_guard(text), warnings=warnings,
                       path_additions=tuple(_paths.path_additions(text)) if "sys.path" in text else ())


def _scan_notebook(rel: str, text: str, target: tuple[int, int], platform: str) -> FileImports:
    try:
        cells, language = notebook.code_cells(text)
    except ValueError as exc:
        line = None
        m = re.search(r"line (\d+)", str(exc))
        if m:
            line = int(m.group(1))
        return FileImports(path=rel, failed=True, warnings=(Warning_(path=rel, line=line, message=str(exc).splitlines()[0]),))
    if language and language.lower() not in ("python", "python3", "python2", "ipython", ""):
        return FileImports(path=rel, warnings=(Warning_(path=rel, line=None, message=f"a notebook in {language}, not Python: skipped"),))
    src = notebook.cells_to_source(cells)

    warnings: list[Warning_] = []
    try:
        found = _imports.extract(src.text, target=target, platform=platform)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # One bad cell must not hide the others: parse cell by cell.
        found = []
        offset = 0
        for cell_no, cell in enumerate(cells, 1):
            cell_src = notebook.cells_to_source([cell])
            n_lines = cell_src.text.count("\n")
            try:
                for imp in _imports.extract(cell_src.text, target=target, platform=platform):
                    found.append(_shift(imp, offset))
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                # A line number of the notebook file would point into its JSON: name the
                # cell and the line in it instead.
                reason = getattr(exc, "msg", None) or exc.__class__.__name__
                where = _in_cell(cell_no, getattr(exc, "lineno", None))
                warnings.append(Warning_(path=rel, line=None, message=f"{where}: {_not_valid(target, reason)}"))
                found.extend(_shift(imp, offset) for imp in _imports.extract_loose(cell_src.text))
            offset += n_lines
    return FileImports(path=rel, imports=tuple(found), installs=src.installs, warnings=tuple(warnings), origins=src.origins,
                       path_additions=tuple(_paths.path_additions(src.text)) if "sys.path" in src.text else ())


def _shift(imp: FoundImport, offset: int) -> FoundImport:
    return dataclasses.replace(imp, line=imp.line + offset)


# --- the whole tree ------------------------------------------------------------------

def _scan_chunk(args: tuple[str, list[str], tuple[int, int]]) -> list[FileImports]:
    root, rels, target = args
    return [scan_file(root, rel, target) for rel in rels]


def _worth_a_pool(root: Path, rels: list[str]) -> bool:
    if len(rels) >= PARALLEL_FILES:
        return True
    if len(rels) < 8:
        return False
    total = 0
    for rel in rels:
        try:
            total += os.path.getsize(os.path.join(root, rel))
        except OSError:
            continue
    return total >= PARALLEL_BYTES


def scan_files(root: Path, rels: list[str], target: tuple[int, int], jobs: int | None = None) -> list[FileImports]:
    workers = jobs or os.cpu_count() or 1
    if workers < 2 or not (jobs or _worth_a_pool(root, rels)):
        return [scan_file(str(root), rel, target) for rel in rels]
    # Chunks of interleaved files so each worker gets a mix of big and small ones.
    n_chunks = workers * 8
    chunks = [rels[i::n_chunks] for i in range(n_chunks)]

    results: list[FileImports] = []
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_scan_chunk, [(str(root), c, target) for c in chunks if c]):
            results.extend(part)
    results.sort(key=lambda r: r.path)
    return results
