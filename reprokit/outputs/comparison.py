"""One output's recorded bytes against its rerun bytes, under its rule: the verdict.

Equal bytes are identical whatever the rule; otherwise the rule's kind chooses the
comparison. An output that cannot be parsed is different, with the parser's one-line
reason, never a crash.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

from reprokit.errors import InputError
from reprokit.outputs import arrays, image, jsondoc, notebook, pdf, svg, table, text
from reprokit.outputs.record import RecordedOutput
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Difference, Tally, Verdict, missing

METHODS = {
    "text": "lines of text, numbers within the rule",
    "json": "parsed JSON: same keys and types, numbers within the rule",
    "table": "parsed table: same shape and text cells, numbers within the rule",
    "image": "decoded pixels, perceptual colour difference, anti-aliased edges may move",
    "notebook": "each code cell's outputs against those stored in the notebook",
    "npy": "arrays element by element, numbers within the rule",
    "hdf5": "datasets element by element (h5py), numbers within the rule",
    "netcdf": "variables element by element, numbers within the rule",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def by_hash(path: str, rule: Rule, recorded_sha256: str, rerun: bytes | None, why: str = "") -> Verdict:
    """The verdict for an output kept by hash only (or whose kind has no reader here)."""
    if rerun is None:
        return missing(path, rule, "the rerun did not write it")
    got = sha256(rerun)
    method = "sha256" + (f" ({why})" if why else "")
    if got == recorded_sha256:
        return Verdict(path=path, status="identical", rule=rule, method=method, summary="identical bytes (sha256)", compared=1)
    d = Difference(where="file", recorded=f"sha256 {recorded_sha256[:16]}…", rerun=f"sha256 {got[:16]}…")
    return Verdict(path=path, status="different", rule=rule, method=method, summary=f"different bytes (sha256 {recorded_sha256[:12]}… recorded, "
                   f"{got[:12]}… rerun)" + (f"; {why}" if why else ""), compared=1, failures=(d,), failed=1)


def compare(path: str, recorded: bytes, rerun: bytes | None, rule: Rule) -> Verdict:
    if rerun is None:
        return missing(path, rule, "the rerun did not write it")
    if recorded == rerun:
        return Verdict(path=path, status="identical", rule=rule, method="bytes", summary="identical bytes",
                       compared=1)
    if rule.kind == "exact":
        return by_hash(path, rule, sha256(recorded), rerun)
    if rule.kind in ("hdf5", "netcdf") and arrays.available(rule.kind) is None:
        lib = "h5py" if rule.kind == "hdf5" else "netCDF4 or h5py"
        return by_hash(path, rule, sha256(recorded), rerun, f"{lib} is not installed, so values were not compared")
    try:
        return _compare(path, recorded, rerun, rule)
    except InputError as exc:
        d = Difference(where="file", recorded="readable", rerun="unreadable", note=str(exc))
        return Verdict(path=path, status="different", rule=rule, method=METHODS.get(rule.kind, rule.kind),
                       summary=f"could not be compared: {exc}", failures=(d,), failed=1)


def _compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> Verdict:
    diff: bytes | None = None
    summary: str | None = None
    tally: Tally
    method = METHODS.get(rule.kind, rule.kind)
    if rule.kind == "text":
        tally = text.compare(path, recorded, rerun, rule)
    elif rule.kind == "json":
        tally = jsondoc.compare(path, recorded, rerun, rule)
    elif rule.kind == "table":
        tally = table.compare(path, recorded, rerun, rule)
    elif rule.kind == "image":
        tally, diff, summary = image.compare(path, recorded, rerun, rule)
    elif rule.kind == "svg":
        tally, method, diff, summary = svg.compare(path, recorded, rerun, rule)
    elif rule.kind == "pdf":
        tally, method, diff, summary = pdf.compare(path, recorded, rerun, rule)
    elif rule.kind == "notebook":
        tally, diff = notebook.compare(path, recorded, rerun, rule)
    else:
        tally = arrays.compare(path, recorded, rerun, rule)
    if not tally.failed and tally.worst_abs is None and tally.worst_rel is None and not tally.notes:
        tally.notes.append("same values; the bytes differ only in layout (order, spacing, number format)")
    return tally.verdict(path, method, diff_image=diff, summary=summary)


def compare_outputs(recorded: Sequence[RecordedOutput], recorded_dir: Path, rerun_dir: Path) -> tuple[Verdict, ...]:
    """A verdict for each recorded output: its kept copy under ``recorded_dir`` (or its
    sha256, when kept by hash only) against the file at the same path under ``rerun_dir``.
    An output the archive-time runs already disagreed on (``varies``) that differs again,
    or is missing, ``varies``: reported with its difference, not judged different."""
    out = []
    for rec in recorded:
        verdict = _verdict(rec, recorded_dir, rerun_dir)
        if rec.varies and verdict.status in ("different", "missing"):
            noise = f" ({rec.noise})" if rec.noise else ""
            verdict = dataclasses.replace(verdict, status="varies",
                                          summary=f"varies between runs, as between the archive's own{noise}: {verdict.summary}")
        out.append(verdict)
    return tuple(out)


def _verdict(rec: RecordedOutput, recorded_dir: Path, rerun_dir: Path) -> Verdict:
    target = rerun_dir / rec.path
    if not target.is_file():
        return missing(rec.path, rec.rule, "the rerun did not write it")
    kept = recorded_dir / rec.path
    if not rec.kept:
        return by_hash(rec.path, rec.rule, rec.sha256, target.read_bytes(), "kept by sha256 only")
    if not kept.is_file():
        return by_hash(rec.path, rec.rule, rec.sha256, target.read_bytes(), "the recorded copy is not in the bundle")
    return compare(rec.path, kept.read_bytes(), target.read_bytes(), rec.rule)
