"""What a bundle records about one output: its sha256 and size, whether its bytes are kept,
the rule a rerun is compared by, and what archive-time runs taught about its noise.

Plain data both ways (:meth:`RecordedOutput.to_dict`, :meth:`RecordedOutput.from_dict`),
so the manifest can store it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from reprokit.errors import InputError
from reprokit.outputs.rule import RULE_KEYS, Rule

SetBy = Literal["default", "learned", "reprokit.toml"]
SET_BY: tuple[SetBy, ...] = get_args(SetBy)


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordedOutput:
    path: str  # relative to the paper folder, as the entry point wrote it
    sha256: str
    size: int
    kept: bool  # the bytes are in the bundle; False: kept by sha256 only (too large)
    rule: Rule
    set_by: SetBy  # where the rule's tolerances come from
    stable: bool  # byte-identical in every archive-time run
    runs: int  # archive-time runs it was learned from
    noise: str = ""  # the difference measured between those runs, in words
    hint: str = ""  # what makes it change between runs, when it does
    # The archive-time runs differ beyond the rule: the paper does not reproduce it itself,
    # and a rerun that differs too is reported as varying, not judged different.
    varies: bool = False

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "sha256": self.sha256, "size": self.size, "kept": self.kept,
                                  **self.rule.to_dict(), "set_by": self.set_by, "stable": self.stable, "runs": self.runs}
        if self.noise:
            out["noise"] = self.noise
        if self.hint:
            out["hint"] = self.hint
        if self.varies:
            out["varies"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object], where: str) -> RecordedOutput:
        """Read one output record; a format-1 record (path and sha256 only) reads as an
        exact-bytes rule kept by hash."""
        path, sha = data.get("path"), data.get("sha256")
        if not isinstance(path, str) or not path:
            raise InputError(f"{where}: an output needs a path")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise InputError(f"{where}: output {path!r} needs a sha256 of 64 hex digits")
        if "rule" not in data:
            size0 = data.get("size", 0)
            return cls(path=path, sha256=sha, size=size0 if isinstance(size0, int) else 0, kept=False, rule=Rule(kind="exact"),
                       set_by="default", stable=True, runs=1)
        rule = Rule.from_dict({k: v for k, v in data.items() if k in RULE_KEYS}, f"{where}: output {path!r}")
        size, kept, stable, runs = data.get("size", 0), data.get("kept", False), data.get("stable", True), data.get("runs", 1)
        varies = data.get("varies", False)
        set_by = data.get("set_by", "default")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InputError(f"{where}: output {path!r}: size must be a whole number of bytes")
        if not isinstance(kept, bool) or not isinstance(stable, bool) or not isinstance(varies, bool):
            raise InputError(f"{where}: output {path!r}: kept, stable and varies must be true or false")
        if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
            raise InputError(f"{where}: output {path!r}: runs must be a whole number of at least 1")
        if set_by not in SET_BY:
            raise InputError(f"{where}: output {path!r}: set_by must be one of {', '.join(SET_BY)}")
        return cls(path=path, sha256=sha, size=size, kept=kept, rule=rule, set_by=set_by, stable=stable, runs=runs,
                   noise=str(data.get("noise", "")), hint=str(data.get("hint", "")), varies=varies and not stable)
