"""Jupyter notebooks as Python source: IPython syntax neutralised, installs recorded.

A notebook's code cells are joined into one Python text whose line numbers map back to
(cell, line). Magics, shell escapes and help syntax become ``pass`` so ``ast`` can parse
the rest; ``%pip install X`` and its kin become declared requirements.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

# The notebook formats a kernel runs: nbformat 1-4 (1-3 keep their cells in worksheets).
FORMATS = (1, 2, 3, 4)


# Cell magics whose body is still Python.
PYTHON_CELL_MAGICS = frozenset(
    {"time", "timeit", "capture", "prun", "debug", "pypy", "python", "python3", "px", "memit", "tensorflow_version"}
)
SHELL_CELL_MAGICS = frozenset({"bash", "sh", "script", "system", "!"})

_LINE_MAGIC = re.compile(r"^(\s*)(%{1,2}|!{1,2})(.*)$")
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w.,\s]*?)\s*=\s*(%|!)(.*)$")
_HELP = re.compile(r"^(\s*)(\?{1,2}\S.*|\S.*?\?{1,2})\s*$")
_INSTALL = re.compile(
    r"(?:^|[;&|]\s*|\s)(?:%|!)?\s*(?:\S*python[\d.]*\s+-m\s+|\{sys\.executable\}\s+-m\s+|\$\{?\w+\}?\s+-m\s+)?"
    r"(pip3?|conda|mamba|micromamba|uv\s+pip)\s+install\s+(.*)$"
)
# Options of pip/conda install that take a value.
_VALUE_OPTIONS = frozenset(
    {"-c", "--channel", "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t",
     "--target", "--prefix", "-n", "--name", "-p", "--platform", "--python-version",
     "--root", "--src", "--upgrade-strategy", "--progress-bar", "--cache-dir", "--log",
     "--python", "--only-binary", "--no-binary", "--trusted-host", "--constraint"}
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Install:
    """A package installed from inside a notebook or script cell."""

    requirement: str
    tool: str  # pip | conda
    line: int


@dataclass(frozen=True, kw_only=True, slots=True)
class CellSource:
    """A notebook turned into Python text, with where each line came from."""

    text: str
    origins: tuple[tuple[int, int], ...]  # per text line: (cell number from 1, line in cell)
    installs: tuple[Install, ...]


def parse_install_args(args: str, tool: str, line: int) -> list[Install]:
    """Requirements named on a ``pip install`` / ``conda install`` command line."""
    args = re.split(r"\s*(?:&&|\|\||;|\|)\s*|\s+#", args, maxsplit=1)[0]
    try:
        words = shlex.split(args, comments=True)
    except ValueError:
        words = args.split()
    found: list[Install] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            if name in ("-r", "--requirement", "-e", "--editable") or (name in _VALUE_OPTIONS and "=" not in word):
                skip_next = True
            continue
        if word in (".", "..") or word.startswith(("./", "../", "/", "$", "{")):
            continue
        if tool != "pip" and "::" in word:  # conda-forge::numpy
            word = word.split("::", 1)[1]
        if tool != "pip" and re.match(r"^[A-Za-z0-9_.\-]+=[^=]", word):  # conda's numpy=1.24
            word = word.replace("=", "==", 1)
        found.append(Install(requirement=word, tool=tool, line=line))
    return found


def find_installs(line: str, lineno: int) -> list[Install]:
    m = _INSTALL.search(line)
    if not m:
        return []
    tool = "pip" if "pip" in m.group(1) else "conda"
    return parse_install_args(m.group(2), tool, lineno)


def _neutralise(line: str) -> str | None:
    """Return a Python replacement for an IPython-only line, or None if it is Python."""
    m = _LINE_MAGIC.match(line)
    if m:
        return m.group(1) + "pass"
    m = _ASSIGN_MAGIC.match(line)
    if m and not m.group(4).startswith("="):
        return f"{m.group(1)}{m.group(2)} = None"
    if _HELP.match(line) and not line.rstrip().endswith(("'", '"')):
        stripped = line.strip()
        if "#" not in stripped and " " not in stripped.strip("?"):
            return _HELP.match(line).group(1) + "pass"  # type: ignore[union-attr]
    return None


def cells_to_source(cells: list[str]) -> CellSource:
    """Join code cells into one Python text, neutralising IPython syntax."""
    out: list[str] = []
    origins: list[tuple[int, int]] = []
    installs: list[Install] = []
    for cell_no, src in enumerate(cells, 1):
        lines = src.splitlines() or [""]
        body_is_python = True
        first = lines[0].strip()
        start = 0
        if first.startswith("%%"):
            magic = first[2:].split(None, 1)[0] if len(first) > 2 else ""
            start = 1
            body_is_python = magic in PYTHON_CELL_MAGICS
            out.append("pass")
            origins.append((cell_no, 1))
            shell = magic in SHELL_CELL_MAGICS
        else:
            shell = False
        for i in range(start, len(lines)):
            line = lines[i]
            text_line = len(out) + 1
            if not body_is_python:
                if shell:
                    installs.extend(find_installs(line, text_line))
                out.append("")
            else:
                stripped = line.lstrip()
                if stripped.startswith(("%", "!")):
                    installs.extend(find_installs(stripped, text_line))
                replacement = _neutralise(line)
                out.append(line if replacement is None else replacement)
            origins.append((cell_no, i + 1))
        # A cell boundary ends any open bracket in broken cells: keep cells independent
        # by terminating with an empty line.
        out.append("")
        origins.append((cell_no, len(lines) + 1))
    return CellSource(text="\n".join(out) + "\n", origins=tuple(origins), installs=tuple(installs))


def code_cells(text: str) -> tuple[list[str], str]:
    """The code cells of a notebook's JSON text (nbformat v3 or v4), and its language.

    Raises ValueError when the text is not a notebook.
    """

    # The JSON itself, as nbformat's reader reads it, not nbformat.reads: the scan wants
    # the cells of any notebook a kernel would run, and nbformat.reads also validates
    # against the schema, which is slow and logs every deviation to stderr. Nor does the
    # scan need nbformat's objects (importing nbformat and jsonschema takes 50 ms).
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a readable notebook: not JSON ({exc})") from exc
    except RecursionError:
        raise ValueError("not a readable notebook: nested too deep to read") from None
    if not isinstance(nb, dict):
        raise ValueError(f"not a readable notebook: a JSON {type(nb).__name__}, not an object")
    # Valid JSON need not be a well-formed notebook: every field may have the wrong type.
    major = nb.get("nbformat", 4)
    if not isinstance(major, int) or isinstance(major, bool):
        raise ValueError(f"not a readable notebook: nbformat is {major!r}, not a number")
    if major not in FORMATS:
        raise ValueError(f"not a readable notebook: nbformat {major} is not a format Jupyter reads")
    cells: list[str] = []
    if major >= 4:
        cells = _code_sources(nb.get("cells"), "source")
    else:
        for ws in _dicts(nb.get("worksheets")):
            cells.extend(_code_sources(ws.get("cells"), "input"))
    meta = _dict(nb.get("metadata"))
    language = _dict(meta.get("kernelspec")).get("language") or _dict(meta.get("language_info")).get("name") or ""
    return cells, language if isinstance(language, str) else ""


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _code_sources(cells: object, key: str) -> list[str]:
    """The sources of the code cells in a notebook's (or v3 worksheet's) cell list."""
    out: list[str] = []
    for cell in _dicts(cells):
        if cell.get("cell_type") == "code":
            src = cell.get(key, "")
            if isinstance(src, list):
                out.append("".join(s for s in src if isinstance(s, str)))
            elif isinstance(src, str):
                out.append(src)
    return out
