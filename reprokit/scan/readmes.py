"""What a paper's READMEs declare when it has no requirements file of its own: the
packages they install (``pip install nibabel``) and the ones they list as tested with
(`` * Numpy 1.12.0``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from reprokit.scan import notebook
from reprokit.scan.declared import CONDA_NON_PYTHON, CONDA_TO_PYPI, Declared, declaration

# A README's list of what the paper was tested with, one package a line: "* Numpy
# 1.12.0", "- scipy >= 0.19", "* [Matplotlib](https://matplotlib.org) 2.0.0", "- `tqdm==4.10`".
_LISTED = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+\[?([A-Za-z][\w.-]*?)\]?(?:\([^)\s]*\))?[ \t]*"
                     r"(?:(==|>=|<=|~=|>|<)[ \t]*|v(?=\d)|[ \t]+)(\d+(?:\.\d+)*)[ \t]*[,;.]?[ \t]*$")
# A line that is an install command (not prose that mentions one).
_COMMAND_LINE = re.compile(r"^[ \t]*(?:\$[ \t]*)?(?:sudo[ \t]+)?(?:\S*python[\d.]*[ \t]+-m[ \t]+)?(?:pip3?|conda|mamba)[ \t]+install\b")


def parse_readme(text: str, path: str, known: Callable[[str], bool]) -> list[Declared]:
    """What a README says the paper needs, for a paper with no requirements file of its
    own: its ``pip install`` / ``conda install`` lines, and its list of the packages it
    was tested with, one a line with a version (the version as the list gives it: a bare
    one is the release the authors had). A listed name counts only when ``known`` holds
    for it (a PyPI distribution reprokit knows): "Python 3.6.0" and "OSX 10.12" are no
    packages."""
    found: list[Declared] = []
    for n, line in enumerate(text.replace("`", "").replace('"', " ").splitlines(), 1):
        where = f"{path}:{n}"
        installs = notebook.find_installs(line, n)
        if installs:
            command = _COMMAND_LINE.match(line) is not None
            for inst in installs:
                word = inst.requirement if command else inst.requirement.rstrip(".,;:)")  # prose: 'typing "pip install dipy".'
                name = CONDA_TO_PYPI.get(word.split("=")[0].lower(), word) if inst.tool == "conda" else word
                d = declaration(name, f"{where} ({inst.tool} install)")
                if d is not None and d.name not in CONDA_NON_PYTHON and (command or known(d.name)):
                    found.append(d)
            continue
        m = _LISTED.match(line)
        if m and known(str(canonicalize_name(m.group(1)))):
            d = declaration(f"{m.group(1)}{m.group(2) or '=='}{m.group(3)}", f"{where} (listed as tested with)")
            if d is not None:
                found.append(d)
    return found


_README = re.compile(r"(?i)readme(?:\.(?:md|rst|txt|markdown))?")


def read_readmes(root: Path, rel_files: Iterable[str], known: Callable[[str], bool]) -> tuple[Declared, ...]:
    """What the READMEs at the paper's top and one folder down declare (see
    :func:`parse_readme`): for a name several give (tqdm 4.11.2 in one, 4.10 in a copy
    of it in code/), the top one's, else the first's."""
    readmes = sorted((f for f in rel_files if f.count("/") <= 1 and _README.fullmatch(f.rsplit("/", 1)[-1])), key=lambda r: (r.count("/"), r))
    found: list[Declared] = []
    for rel in readmes:
        try:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found += [d for d in parse_readme(text, rel, known) if all(f.name != d.name for f in found)]
    return tuple(found)


