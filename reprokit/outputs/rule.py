"""The rule that says how a rerun's output is compared with the recorded one.

A :class:`Rule` is plain data: :meth:`Rule.to_dict` gives the JSON-able form a manifest
stores and ``reprokit.toml`` spells, :meth:`Rule.from_dict` reads it back, and
:func:`default_rule` picks the rule for a file type from its name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

from reprokit.errors import InputError

Kind = Literal["exact", "text", "json", "table", "image", "svg", "pdf", "notebook", "npy", "hdf5", "netcdf"]
Sanitizer = Literal["addresses", "timestamps", "paths", "durations", "uuids"]

KINDS: tuple[Kind, ...] = get_args(Kind)
SANITIZERS: tuple[Sanitizer, ...] = get_args(Sanitizer)

# Numbers a machine wrote in full (repr of a float) agree to ~1e-15 when nothing changed;
# 1e-9 leaves room for BLAS threads and CPU features and still catches any real change.
FILE_REL = 1e-9
# Notebooks show rounded numbers (pandas prints six digits): noise flips the last one.
NOTEBOOK_REL = 1e-6
# Float noise around zero (1e-17 instead of 0.0) has no meaningful relative size.
DEFAULT_ABS = 1e-12
# pixelmatch's default: the YIQ colour difference (0-1) a person starts to notice.
PIXEL_THRESHOLD = 0.1
# Where several anti-aliased edges cross, a few blended pixels match neither figure's
# neighbourhood: one pixel in 10,000 may change; a moved curve or label changes far more.
MAX_PIXELS = 1e-4

NUMERIC_KINDS: frozenset[Kind] = frozenset({"text", "json", "table", "svg", "pdf", "notebook", "npy", "hdf5", "netcdf"})
PIXEL_KINDS: frozenset[Kind] = frozenset({"image", "svg", "pdf", "notebook"})
SANITIZED_KINDS: frozenset[Kind] = frozenset({"text", "notebook"})
# Kinds whose places can hold time stamps (JSON paths, table columns): see outputs.clock.
STAMPED_KINDS: frozenset[Kind] = frozenset({"json", "table"})

_BY_SUFFIX: dict[str, Kind] = {
    ".json": "json", ".geojson": "json",
    ".csv": "table", ".tsv": "table", ".tab": "table",
    ".txt": "text", ".log": "text", ".out": "text", ".dat": "text", ".md": "text", ".tex": "text",
    ".html": "text", ".htm": "text", ".yaml": "text", ".yml": "text", ".xml": "text", ".rst": "text",
    ".png": "image", ".jpg": "image", ".jpeg": "image",
    ".svg": "svg", ".pdf": "pdf", ".ipynb": "notebook",
    ".npy": "npy", ".npz": "npy",
    ".h5": "hdf5", ".hdf5": "hdf5", ".he5": "hdf5",
    ".nc": "netcdf", ".nc4": "netcdf", ".cdf": "netcdf",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """How one output is compared. Numbers agree when ``|a - b| <= abs`` or their relative
    difference ``|a - b| / max(|a|, |b|) <= rel``; pixels agree when their perceptual colour
    difference is at most ``pixel_threshold``, or an edge moved by at most ``shift`` pixels
    (anti-aliasing); at most ``max_pixels`` (a fraction) may differ otherwise. At
    ``stamps`` (JSON paths with ``[*]`` for indices, or ``column 'NAME'``) the values are
    wall-clock times: compared by presence and type."""

    kind: Kind
    rel: float = 0.0
    abs: float = 0.0
    sanitize: tuple[Sanitizer, ...] = ()
    pixel_threshold: float = PIXEL_THRESHOLD
    max_pixels: float = 0.0
    shift: int = 1
    streams: bool = True
    render: bool = True
    stamps: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def describe(self) -> str:
        """The rule in a few words, for tables and reports."""
        if self.kind == "exact":
            return "exact bytes (sha256)"
        parts: list[str] = [self.kind]
        if self.numeric:
            parts.append(f"rel {self.rel:.0e}, abs {self.abs:.0e}" if self.rel or self.abs else "numbers exact")
        if self.kind in PIXEL_KINDS:
            parts.append(f"colour difference {self.pixel_threshold:g}, edges may move {self.shift} px"
                         + (f", {self.max_pixels:.2%} of pixels may differ" if self.max_pixels else ""))
        if self.sanitize:
            parts.append("ignoring " + ", ".join(self.sanitize))
        if self.stamps:
            parts.append("time stamps at " + ", ".join(self.stamps))
        if self.kind == "notebook" and not self.streams:
            parts.append("streams not compared")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """The fields that matter for this kind, under the names ``reprokit.toml`` uses."""
        out: dict[str, object] = {"rule": self.kind}
        if self.numeric:
            out["rel"] = self.rel
            out["abs"] = self.abs
        if self.kind in SANITIZED_KINDS:
            out["sanitize"] = list(self.sanitize)
        if self.kind in PIXEL_KINDS:
            out["pixel-threshold"] = self.pixel_threshold
            out["max-pixels"] = self.max_pixels
            out["shift"] = self.shift
        if self.kind == "notebook":
            out["streams"] = self.streams
        if self.kind in STAMPED_KINDS and self.stamps:
            out["time-stamps"] = list(self.stamps)
        if self.kind in ("pdf", "svg"):
            out["render"] = self.render
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object], where: str, base: Rule | None = None) -> Rule:
        """Read a rule; keys left out keep ``base``'s values (or the kind's defaults)."""
        unknown = set(data) - set(RULE_KEYS)
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; a rule takes {', '.join(RULE_KEYS)}")
        kind = data.get("rule", base.kind if base else None)
        if kind not in KINDS:
            raise InputError(f"{where}: rule must be one of {', '.join(KINDS)}, not {kind!r}")
        rule = base if base is not None and base.kind == kind else defaults(kind)
        changes: dict[str, object] = {}
        for key, attr in (("rel", "rel"), ("abs", "abs"), ("pixel-threshold", "pixel_threshold"), ("max-pixels", "max_pixels")):
            if key in data:
                value = data[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                    raise InputError(f"{where}: {key} must be a number of at least 0, not {value!r}")
                changes[attr] = float(value)
        if "shift" in data:
            value = data["shift"]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
                raise InputError(f"{where}: shift must be a whole number of pixels from 0 to 5, not {value!r}")
            changes["shift"] = value
        for key in ("streams", "render"):
            if key in data:
                if not isinstance(data[key], bool):
                    raise InputError(f"{where}: {key} must be true or false, not {data[key]!r}")
                changes[key] = data[key]
        if "sanitize" in data:
            names = data["sanitize"]
            if not isinstance(names, list | tuple) or any(n not in SANITIZERS for n in names):
                raise InputError(f"{where}: sanitize must be a list of {', '.join(SANITIZERS)}, not {names!r}")
            changes["sanitize"] = tuple(dict.fromkeys(names))
        if "time-stamps" in data:
            places = data["time-stamps"]
            if not isinstance(places, list | tuple) or any(not isinstance(p, str) or not p for p in places):
                raise InputError(f"{where}: time-stamps must be a list of places (JSON paths such as $.generated_at, "
                                 f"or table columns such as column 'when'), not {places!r}")
            changes["stamps"] = tuple(dict.fromkeys(places))
        return replace(rule, **changes)  # type: ignore[arg-type]


# The keys of a rule, as reprokit.toml and the manifest spell them.
RULE_KEYS = ("rule", "rel", "abs", "sanitize", "pixel-threshold", "max-pixels", "shift", "streams", "render", "time-stamps")


def defaults(kind: Kind) -> Rule:
    """The rule of a kind before anything was learned or set."""
    pixels = MAX_PIXELS if kind in PIXEL_KINDS else 0.0
    if kind == "notebook":
        return Rule(kind=kind, rel=NOTEBOOK_REL, abs=DEFAULT_ABS, sanitize=SANITIZERS, max_pixels=pixels)
    if kind in NUMERIC_KINDS:
        return Rule(kind=kind, rel=FILE_REL, abs=DEFAULT_ABS, max_pixels=pixels)
    return Rule(kind=kind, max_pixels=pixels)


def kind_for(path: str) -> Kind:
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return _BY_SUFFIX.get(name[dot:], "exact") if dot > 0 else "exact"


def default_rule(path: str) -> Rule:
    return defaults(kind_for(path))
