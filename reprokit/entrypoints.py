"""The paper's entry points: what to run to reproduce it.

Detected (every notebook; every script with ``if __name__ == "__main__":``), or listed by
the author in ``[tool.reprokit] entry-points`` of the paper's ``pyproject.toml`` or in
``reprokit.toml`` (``entry-points = ["run_analysis.py", "analysis.ipynb"]``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from reprokit.errors import InputError
from reprokit.flake import EntryPoint
from reprokit.imports import has_main_guard
from reprokit.scan import is_support_code

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def name_for(path: str) -> str:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "entry"


def configured(paper: Path) -> list[str] | None:
    for cfg, table in ((paper / "reprokit.toml", ()), (paper / "pyproject.toml", ("tool", "reprokit"))):
        if not cfg.is_file():
            continue
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{cfg}: invalid TOML ({exc})") from None
        for key in table:
            data = data.get(key, {}) if isinstance(data, dict) else {}
        eps = data.get("entry-points") if isinstance(data, dict) else None
        if eps is not None:
            if not isinstance(eps, list) or not all(isinstance(e, str) for e in eps):
                raise InputError(f"{cfg}: entry-points must be a list of paths")
            for e in eps:
                if not (paper / e).is_file():
                    raise InputError(f"{cfg}: entry point {e!r} is not a file of the paper")
            return eps
    return None


def detect(paper: Path, files: tuple[str, ...] | list[str]) -> list[EntryPoint]:
    chosen = configured(paper)
    if chosen is None:
        chosen = []
        for rel in files:
            if is_support_code(rel):
                continue
            if rel.endswith(".ipynb"):
                chosen.append(rel)
            elif rel.endswith(".py"):
                try:
                    text = (paper / rel).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                if has_main_guard(text):
                    chosen.append(rel)
    seen: set[str] = set()
    out = []
    for rel in chosen:
        name = name_for(rel)
        while name in seen:
            name += "_"
        seen.add(name)
        out.append(EntryPoint(name=name, kind="notebook" if rel.endswith(".ipynb") else "script", path=rel))
    return out


def candidates(files: tuple[str, ...] | list[str], imported: set[str] | frozenset[str]) -> list[str]:
    """Scripts at the paper's top level that nothing in it imports: what an author most
    likely runs by hand, to suggest when no entry point is found (none is run unasked)."""
    return [
        rel for rel in files
        if rel.endswith(".py") and "/" not in rel and not is_support_code(rel) and rel[:-3] not in imported and rel != "__init__.py"
    ]
