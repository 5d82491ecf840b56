"""Learning, at archive time, how much each output changes when nothing changed.

Given two or more runs of the same entry point, each output is byte-stable, or it differs
by noise the rule can absorb (the tolerance is the measured noise times a headroom), or it
changes beyond noise. What makes it change is named in a hint (unset seeds, time stamps,
thread count). The author's rules from ``reprokit.toml`` are final where they say something.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reprokit.errors import InputError
from reprokit.fsutil import sha256_file
from reprokit.outputs import clock, jsondoc, table
from reprokit.outputs.comparison import compare, sha256
from reprokit.outputs.config import OutputsConfig
from reprokit.outputs.record import RecordedOutput, SetBy
from reprokit.outputs.rule import SANITIZERS, STAMPED_KINDS, Rule, Sanitizer, default_rule
from reprokit.outputs.sanitize import which_change
from reprokit.outputs.verdict import Verdict

# Noise is small: relative differences beyond this between runs of the same code are a
# result that changes (an unset seed), not float noise, and are not learned as tolerance.
MAX_NOISE_REL = 1e-4
# Likewise for figures: more than 1% of the pixels changing is a different figure.
MAX_NOISE_PIXELS = 0.01
# A relative difference this large is a zero crossing (1e-17 vs -2e-17): learned as abs.
_ZERO_CROSSING = 0.5

_SANITIZER_HINTS: dict[Sanitizer, str] = {
    "timestamps": "time stamps in the output",
    "addresses": "memory addresses in the output (object reprs)",
    "paths": "absolute paths in the output",
    "durations": "timings in the output",
    "uuids": "random ids in the output (a plotting library's element ids)",
}
THREADS_HINT = "float noise in the last digits, typical of thread count (BLAS/OpenMP threads: OMP_NUM_THREADS=1) or CPU features"
SEED_HINT = "results change from run to run: an unset random seed? (random.seed, numpy.random.default_rng(seed), torch.manual_seed)"
METADATA_HINT = ("time stamps or other metadata in the file, with the same content (matplotlib: savefig(..., metadata={'CreationDate': None}); "
                 "many tools honour SOURCE_DATE_EPOCH)")
LAYOUT_HINT = "the same values written in another order or format between runs (json.dump(..., sort_keys=True) writes a stable order)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Learned:
    outputs: tuple[RecordedOutput, ...]
    notes: tuple[str, ...]  # one line per output that is not byte-stable, with its hint


def _measuring(rule: Rule) -> Rule:
    """The rule with no tolerance: to see every difference between runs."""
    return dataclasses.replace(rule, rel=0.0, abs=0.0, max_pixels=0.0)


def _structural(v: Verdict) -> bool:
    """Differences no tolerance covers (text, keys, shapes), beside numbers and pixels."""
    return any(f.rel is None and not f.where.startswith(("pixels", "page")) and ", pixels" not in f.where for f in v.failures)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _stamps(path: str, kind: str, runs: Sequence[bytes | None], windows: Sequence[clock.Window]) -> tuple[str, ...]:
    """The places of a JSON document or table that hold, in every run that wrote it, a
    time within that run's window (see :mod:`.clock`)."""
    leaves, spans = [], []
    for data, window in zip(runs, windows, strict=True):
        if data is None:
            continue
        try:
            if kind == "json":
                found = list(jsondoc.leaves(jsondoc.parse(data, path)))
            else:
                text = table.decode(data, path)
                found = list(table.leaves(table.parse(text, path, table.delimiter_for(path, text))))
        except (InputError, RecursionError):
            return ()
        leaves.append(found)
        spans.append(window)
    return clock.stamped(leaves, spans) if leaves else ()


def learn_output(path: str, runs: Sequence[bytes | None], config: OutputsConfig,
                 windows: Sequence[clock.Window] | None = None) -> RecordedOutput:
    """What the runs of one output teach (``None``: that run did not write it); with the
    runs' ``windows`` (when each started and ended), also where it holds time stamps."""
    present = [d for d in runs if d is not None]
    if not present:
        raise ValueError(f"{path}: no run wrote it")
    first = present[0]
    author = config.author_rule(path)
    base = author.apply(path) if author else default_rule(path)
    set_keys = author.keys if author else frozenset()
    set_by: SetBy = "reprokit.toml" if author else "default"
    common = {"path": path, "sha256": sha256(first), "size": len(first), "kept": len(first) <= config.keep_max_bytes, "runs": len(runs)}
    partial = f"written by only {len(present)} of {len(runs)} runs" if len(present) < len(runs) else ""
    stamp_hint = ""
    if windows is not None and base.kind in STAMPED_KINDS and "time-stamps" not in set_keys and common["kept"]:
        stamps = _stamps(path, base.kind, runs, windows)
        if stamps:
            base, set_by = dataclasses.replace(base, stamps=stamps), "learned"
            stamp_hint = (f"{', '.join(stamps)} hold{'s' if len(stamps) == 1 else ''} the time each run wrote it "
                          "(a time stamp): compared by presence and type")
    digests = {sha256(d) for d in present}
    if len(digests) == 1:
        return RecordedOutput(rule=base, set_by=set_by, stable=not partial, hint=_join(partial, stamp_hint), varies=bool(partial),
                              **common)  # type: ignore[arg-type]
    if not common["kept"]:
        return RecordedOutput(rule=base, set_by=set_by, stable=False, noise="the bytes differ between runs",
                              hint=_join(partial, f"larger than outputs.keep-max-bytes ({config.keep_max_bytes}) so kept by sha256 only, "
                                         "and not byte-stable: a rerun cannot match it; make it deterministic or raise keep-max-bytes"),
                              varies=True, **common)  # type: ignore[arg-type]
    if base.kind == "exact":
        return RecordedOutput(rule=base, set_by=set_by, stable=False, noise="the bytes differ between runs",
                              hint=_join(partial, "compared by sha256 but not byte-stable: make it deterministic (seeds, time stamps), "
                                         "or give it a rule in reprokit.toml [outputs.rules]"), varies=True, **common)  # type: ignore[arg-type]

    others = present[1:]
    rule = base
    hints: list[str] = [stamp_hint] if stamp_hint else []
    measured = [compare(path, first, d, _measuring(rule)) for d in others]
    if rule.kind in ("text", "notebook") and any(not v.ok for v in measured) and "sanitize" not in set_keys:
        added = [s for d in others for s in which_change(_text(first), _text(d), SANITIZERS)
                 if s not in rule.sanitize]
        if added:
            # Kept only when they remove differences: a time stamp, not a number that moved.
            trial = dataclasses.replace(rule, sanitize=tuple(dict.fromkeys((*rule.sanitize, *added))))
            remeasured = [compare(path, first, d, _measuring(trial)) for d in others]
            if sum(v.failed for v in remeasured) < sum(v.failed for v in measured):
                rule, measured = trial, remeasured
                hints += [_SANITIZER_HINTS[s] for s in dict.fromkeys(added)]

    rels = [f.rel for v in measured for f in v.failures if f.rel is not None and f.rel < _ZERO_CROSSING]
    rels += [v.worst_rel.rel for v in measured if v.worst_rel and v.worst_rel.rel is not None and v.worst_rel.rel < _ZERO_CROSSING]
    # A zero crossing is noise only next to the output's own numbers: 1e-17 vs -2e-17 in a
    # table of ones. Two unseeded draws, 0.1 and 0.8, are no crossing, whatever their rel.
    abss = [f.abs for v in measured for f in v.failures if f.rel is not None and f.rel >= _ZERO_CROSSING and f.abs is not None
            and f.abs <= MAX_NOISE_REL * v.magnitude]
    beyond = any(f.rel is not None and f.rel >= _ZERO_CROSSING and f.abs is not None and f.abs > MAX_NOISE_REL * v.magnitude
                 for v in measured for f in v.failures)
    pixels = max((v.changed_pixels for v in measured), default=0.0)
    need_rel, need_abs = max(rels, default=0.0), max(abss, default=0.0)
    changes: dict[str, float] = {}
    if need_rel and "rel" not in set_keys and need_rel <= MAX_NOISE_REL:
        changes["rel"] = max(rule.rel, _round_up(need_rel * config.headroom))
    if need_abs and "abs" not in set_keys:
        changes["abs"] = max(rule.abs, _round_up(need_abs * config.headroom))
    if pixels and "max-pixels" not in set_keys and pixels <= MAX_NOISE_PIXELS:
        # A fraction of pixels is no float: ten times the noise of a figure drawn from
        # unseeded random data would let a real change through. Twice the noise, at most
        # twice the most noise reprokit takes for noise.
        changes["max_pixels"] = max(rule.max_pixels, min(_round_up(pixels * 2), 2 * MAX_NOISE_PIXELS))
    learned = dataclasses.replace(rule, **changes)  # type: ignore[arg-type]
    if learned != base:
        set_by = "learned"

    noise = _noise(measured)
    structural = any(_structural(v) for v in measured)
    if not structural and not need_rel and not need_abs and not pixels and not beyond:
        hints.append(METADATA_HINT if rule.kind in ("image", "pdf", "svg") else LAYOUT_HINT if not hints else "")
    elif need_rel and need_rel <= 1e-6 and not structural:
        hints.append(THREADS_HINT)
    elif need_rel or need_abs or structural or beyond:
        hints.append(SEED_HINT)
    elif pixels:
        hints.append("figure pixels change between runs (values with float noise drawn across pixel edges, or random data)")
    ok = all(compare(path, first, d, learned).ok for d in others)
    if not ok:
        tight = [k for k in ("rel", "abs", "max-pixels", "sanitize") if k in set_keys]
        why = (f"the runs differ by more than reprokit.toml's {', '.join(tight)} allows" if tight
               else "the runs differ beyond what is learned as noise")
        hints.append(f"{why}: a rerun that differs is reported as varying, not judged; set seeds, or a rule in reprokit.toml [outputs.rules]")
    return RecordedOutput(rule=learned, set_by=set_by, stable=False, noise=noise, hint=_join(partial, *hints), varies=bool(partial) or not ok,
                          **common)  # type: ignore[arg-type]


def _noise(measured: list[Verdict]) -> str:
    worst = max(measured, key=lambda v: (v.failed, (v.worst_rel.rel or 0) if v.worst_rel else 0, v.changed_pixels))
    if worst.status in ("identical", "equivalent"):
        return "same content between runs, different bytes"
    if worst.changed_pixels and not worst.worst_rel:
        return f"{worst.changed_pixels:.3%} of the pixels change between runs; worst at {worst.failures[0].where}" if worst.failures else ""
    if worst.worst_rel is not None and not _structural(worst):
        w = worst.worst_rel
        return f"numbers differ between runs by up to rel {w.rel:.2g} (abs {w.abs:.2g}), at {w.where}"
    return f"the runs differ: {worst.failures[0].describe()}" if worst.failures else worst.summary


def _round_up(x: float) -> float:
    """A tolerance as one significant digit, rounded up: 3.2e-11 -> 4e-11."""
    if x <= 0:
        return 0.0
    text = f"{x:.0e}"
    mantissa, exponent = text.split("e")
    value = float(text)
    return value if value >= x else float(f"{int(mantissa) + 1}e{exponent}")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def learn(runs: Sequence[Mapping[str, Path]], config: OutputsConfig, windows: Sequence[clock.Window] | None = None) -> Learned:
    """Learn every output of one entry point from its archive-time runs (each run maps an
    output's path in the paper to where that run's file is; ``windows``, when each run
    started and ended, in epoch seconds, finds time stamps)."""
    paths = sorted({p for run in runs for p in run})
    out = []
    notes = []
    for path in paths:
        sizes = [run[path].stat().st_size for run in runs if path in run]
        if max(sizes) > config.keep_max_bytes:
            # Large: hashed as a stream, never read whole.
            digests = [sha256_file(run[path]) if path in run else None for run in runs]
            present = [d for d in digests if d is not None]
            stable = len(set(present)) == 1 and len(present) == len(runs)
            author = config.author_rule(path)
            rec = RecordedOutput(
                path=path, sha256=present[0], size=sizes[0], kept=False, rule=author.apply(path) if author else default_rule(path),
                set_by="reprokit.toml" if author else "default", stable=stable, runs=len(runs),
                noise="" if stable else "the bytes differ between runs",
                hint="" if stable else (f"larger than outputs.keep-max-bytes ({config.keep_max_bytes}) so kept by sha256 only, and not "
                                        "byte-stable: a rerun cannot match it; make it deterministic or raise keep-max-bytes"),
                varies=not stable,
            )
        else:
            rec = learn_output(path, [run[path].read_bytes() if path in run else None for run in runs], config, windows)
        out.append(rec)
        if rec.stable and rec.rule.stamps and rec.set_by == "learned":
            notes.append(f"{path}: {rec.hint}")
        if not rec.stable:
            notes.append(f"{path}: not byte-stable between {len(runs)} runs ({rec.noise or 'written by some runs only'})"
                         + (f"; rule {rec.rule.describe()}" if rec.set_by == "learned" else "") + (f"; hint: {rec.hint}" if rec.hint else ""))
    return Learned(outputs=tuple(out), notes=tuple(notes))
