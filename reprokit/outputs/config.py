"""The author's say over outputs: the ``[outputs]`` table of the paper's ``reprokit.toml``.

    [outputs]
    runs = 2                     # archive-time runs to learn the paper's noise from
    keep-max-bytes = 50_000_000  # larger outputs are kept by sha256 only
    headroom = 10                # learned tolerance = the noise measured times headroom

    [outputs.rules]              # glob -> rule; the first that matches wins
    "results/*.json" = { rel = 1e-6 }
    "figures/**/*.png" = { max-pixels = 0.001 }
    "model.bin" = { rule = "exact" }

A glob without ``/`` matches a file name in any folder; ``*`` stays within a folder,
``**`` crosses folders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reprokit.errors import InputError
from reprokit.outputs.rule import Rule, default_rule, kind_for
from reprokit.scan import paperconfig

KEEP_MAX_BYTES = 50_000_000
RUNS = 2
HEADROOM = 10.0


@dataclass(frozen=True, kw_only=True, slots=True)
class AuthorRule:
    pattern: str
    settings: tuple[tuple[str, object], ...]  # the table's keys and values, as written
    where: str  # "reprokit.toml: outputs.rules['results/*.json']"

    def matches(self, path: str) -> bool:
        return glob_regex(self.pattern).fullmatch(path if "/" in self.pattern else path.rsplit("/", 1)[-1]) is not None

    def apply(self, path: str) -> Rule:
        """The rule for ``path``: its kind's defaults with the author's settings over them."""
        return Rule.from_dict(dict(self.settings), self.where, base=default_rule(path))

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(k for k, _ in self.settings)


@dataclass(frozen=True, kw_only=True, slots=True)
class OutputsConfig:
    runs: int = RUNS
    runs_given: bool = False  # the author set runs: made even for a long paper
    keep_max_bytes: int = KEEP_MAX_BYTES
    headroom: float = HEADROOM
    rules: tuple[AuthorRule, ...] = ()

    def author_rule(self, path: str) -> AuthorRule | None:
        return next((r for r in self.rules if r.matches(path)), None)


def glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def parse(data: Mapping[str, object], where: str = "reprokit.toml") -> OutputsConfig:
    """The ``[outputs]`` table (``data`` is the table itself)."""
    known = {"runs", "keep-max-bytes", "headroom", "rules"}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"{where}: [outputs] has unknown key(s) {', '.join(sorted(unknown))}; it takes {', '.join(sorted(known))}")
    runs = data.get("runs", RUNS)
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= 10:
        raise InputError(f"{where}: outputs.runs must be a whole number from 1 to 10, not {runs!r}")
    keep = data.get("keep-max-bytes", KEEP_MAX_BYTES)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise InputError(f"{where}: outputs.keep-max-bytes must be a whole number of bytes, not {keep!r}")
    headroom = data.get("headroom", HEADROOM)
    if isinstance(headroom, bool) or not isinstance(headroom, int | float) or not 1 <= headroom <= 1000:
        raise InputError(f"{where}: outputs.headroom must be a number from 1 to 1000, not {headroom!r}")
    table = data.get("rules", {})
    if not isinstance(table, Mapping):
        raise InputError(f"{where}: outputs.rules must be a table of glob = {{ rule = … }}")
    rules = []
    for pattern, settings in table.items():
        place = f"{where}: outputs.rules[{pattern!r}]"
        if not isinstance(settings, Mapping):
            raise InputError(f"{place}: must be a table such as {{ rule = \"json\", rel = 1e-6 }}")
        rule = AuthorRule(pattern=str(pattern), settings=tuple(settings.items()), where=place)
        # Check it now, against a file of the kind the glob names, so errors show at once.
        named = kind_for(pattern)
        base = None if "rule" in settings else default_rule(pattern) if named != "exact" else Rule(kind="text")
        Rule.from_dict(dict(rule.settings), place, base=base)
        rules.append(rule)
    return OutputsConfig(runs=runs, runs_given="runs" in data, keep_max_bytes=keep, headroom=float(headroom), rules=tuple(rules))


def read(paper: Path) -> OutputsConfig:
    """The paper's ``[outputs]`` table (reprokit.toml, or pyproject's [tool.reprokit]), or
    the defaults."""

    cfg = paperconfig.read(paper)
    table = cfg.table.get("outputs", {})
    if not isinstance(table, dict):
        raise InputError(f"{cfg.where}: outputs must be a table ([outputs])")
    return parse(table, cfg.where) if table or cfg.path else OutputsConfig()
