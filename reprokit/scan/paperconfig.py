"""The paper's own settings for reprokit: ``reprokit.toml`` in the paper's folder, or the
``[tool.reprokit]`` table of its ``pyproject.toml`` when it has no ``reprokit.toml``.

One reader for every part that has a say there (entry points, folders to include,
output rules, native inputs for Nix); each part parses its own keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprokit import toml
from reprokit.errors import InputError
from reprokit.wording import parse_duration


@dataclass(frozen=True, kw_only=True, slots=True)
class PaperConfig:
    path: Path | None  # the file it was read from; None when the paper has none
    table: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The file, as errors name it."""
        return str(self.path) if self.path else "reprokit.toml"


def read(paper: Path) -> PaperConfig:
    """``reprokit.toml`` if the paper has one, else ``[tool.reprokit]`` of its pyproject."""
    own = paper / "reprokit.toml"
    if own.is_file():
        return PaperConfig(path=own, table=_load(own))
    pyproject = paper / "pyproject.toml"
    if pyproject.is_file():
        tool = _load(pyproject).get("tool", {})
        table = tool.get("reprokit") if isinstance(tool, dict) else None
        if isinstance(table, dict):
            return PaperConfig(path=pyproject, table=table)
    return PaperConfig(path=None)


def run_timeout(config: PaperConfig) -> int | None:
    """``run-timeout``: each entry point's time budget, in seconds; None when unset."""
    if "run-timeout" not in config.table:
        return None
    return parse_duration(config.table["run-timeout"], f"{config.where}: run-timeout")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except toml.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    return data
