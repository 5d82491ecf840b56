"""What people see: the text reprokit prints for a person (``--json`` prints the data).

Domain modules return data (a validation report, a pin, findings, a publish result);
these functions turn it into text, and :class:`Progress` draws vendor's downloads. The
scan table stays with :mod:`reprokit.scan` for now; the HTML reviewer's report is
:mod:`reprokit.report`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprokit.wording import counted

if TYPE_CHECKING:  # what is drawn; `reprokit validate` does not load archive or publish to print its table
    from reprokit.archive import ArchiveResult
    from reprokit.nix.nixpkgs import NixpkgsPin
    from reprokit.publish import Published
    from reprokit.scan import ScanResult
    from reprokit.scan.secrets import Finding
    from reprokit.validate import Report
    from reprokit.vendor import VendorReport


def report(r: Report) -> str:
    """validate's table: one row per check, then each problem, then the verdict."""
    rows = [("CHECK", "RESULT", "DETAILS")]
    words = {"passed": "pass", "failed": "FAIL", "not-run": "NOT RUN"}
    for c in r.checks:
        res = c.result()
        result = words[res.status] + (" (allowed)" if res.status == "not-run" and c.name in r.allow_skip else "")
        rows.append((c.name, result, c.skipped or c.details or (f"{len(c.problems)} problem(s)" if c.problems else "")))
    w0, w1 = (max(len(row[i]) for row in rows) for i in range(2))
    out = [f"{a:<{w0}}  {b:<{w1}}  {d}".rstrip() for a, b, d in rows]
    for c in r.checks:
        for p in c.problems:
            out.append(f"  {c.name}: {p.path + ': ' if p.path else ''}{p.message}")
    if r.sandbox:
        out.append(f"bundle code ran {r.sandbox}")
    out.append("")
    out.append(r.outcome.verdict_line())
    return "\n".join(out) + "\n"


def pin(p: NixpkgsPin) -> str:
    lines = [
        f"channel       {p.channel}",
        f"rev           {p.rev}",
        f"lastModified  {p.last_modified} ({p.date}, {p.days_before} days before {p.requested})",
        f"narHash       {p.nar_hash}",
        f"url           {p.url}",
        f"source        {p.source}",
    ]
    if p.note:
        lines.append(f"note          {p.note}")
    return "\n".join(lines) + "\n"


def findings(found: Sequence[Finding]) -> str:
    """secrets' findings, values masked."""
    if not found:
        return "No secrets found.\n"
    lines = [f"{f.where}: {f.kind}: {f.masked}" for f in found]
    lines.append(f"\n{len(found)} possible secret(s). Remove them, or allow one with --allow-secret PATH:LINE.")
    return "\n".join(lines) + "\n"


def published(result: Published) -> str:
    lines = [f"note: {n}" for n in result.notes]
    if result.state == "dry-run":
        lines.append("Would upload:")
        lines += [f"  {name}  {size} bytes  sha256 {digest}" for name, size, digest in result.files]
        lines += ["with this metadata:", json.dumps(result.metadata, indent=2), "Nothing was sent."]
    elif result.state == "unchanged":
        lines.append(f"Nothing changed since deposition {result.deposition_id}: DOI {result.doi}, {result.record_url}")
    else:
        lines += [("Draft" if result.state == "draft" else "Published") + f" deposition {result.deposition_id}",
                  f"DOI          {result.doi}", f"record       {result.record_url}", f"concept DOI  {result.concept_doi or '(on publish)'}"]
    return "\n".join(lines) + "\n"


def vendored(r: VendorReport, output: Path) -> str:
    fresh = sum(1 for v in r.files if v.downloaded)
    return (f"{len(r.files)} files in {output} ({fresh} downloaded, {len(r.files) - fresh} from the cache, "
            f"{r.bytes_downloaded / 1e6:.1f} MB, {r.requests} requests, {r.seconds:.1f}s)\n")


def archived(result: ArchiveResult, timings: bool = False) -> str:
    lines = [f"note: {n}" for n in result.notes]
    if timings:
        lines += timing_table(result.timings)
    statuses = [status for _, status in result.entry_points]
    if any(st != "ran" for st in statuses):
        # What did not run is in the notes above; a reader sees the count before the end.
        lines.append(f"entry points: {statuses.count('ran')} of {len(statuses)} ran"
                     + (f", {statuses.count('too-long')} too long to rerun here" if "too-long" in statuses else "")
                     + (f", {statuses.count('failed')} failed" if "failed" in statuses else "")
                     + " (each is named in a note above); validate does not pass what did not run")
    lines.append(f"wrote {result.bundle}: {counted(result.files, 'paper file')}, {counted(result.packages, 'package')}, "
                 f"{counted(result.outputs, 'recorded output')}" + (f"; {result.tarball}" if result.tarball else ""))
    lines.append(f"check it:  python3 {result.bundle}/verify.py   or   reprokit validate {result.bundle} --rebuild pip --rerun")
    return "\n".join(lines) + "\n"


def timing_table(phases: Sequence[tuple[str, float]]) -> list[str]:
    """Where the time went, one phase a line, with each phase's share of the whole."""
    total = sum(s for _, s in phases) or 1.0
    width = max((len(name) for name, _ in phases), default=0)
    rows = [f"  {name:<{width}}  {s:8.1f}s  {100 * s / total:3.0f}%" for name, s in phases]
    return ["time by phase:", *rows, f"  {'total':<{width}}  {sum(s for _, s in phases):8.1f}s"]


def scan_table(result: ScanResult) -> str:
    """The scan as a person reads it: distributions, unresolved imports, warnings."""
    out: list[str] = []
    n_third = sum(1 for i in result.imports if i.kind == "third-party")
    out.append(f"Scanned {counted(result.files_scanned, 'file')} under {result.root} for Python {result.python}"
               + (f" ({result.files_failed} could not be read)" if result.files_failed else ""))
    out.append(f"{counted(len(result.imports), 'module')} imported: "
               f"{sum(1 for i in result.imports if i.kind == 'stdlib')} stdlib, "
               f"{sum(1 for i in result.imports if i.kind == 'local')} local, {n_third} third-party")
    out.append("")
    if result.distributions:
        # "not declared" matters when the paper declares its requirements and forgot one.
        declares = bool(result.declared)
        rows = [("DISTRIBUTION", "IMPORTS", "FOUND BY", "NOTES")]
        for d in result.distributions:
            kind = "lazy" if d.lazy else "optional" if d.optional else ""
            notes = ", ".join(f for f in (kind, "not declared" if declares and not d.declared else "") if f)
            rows.append((d.name, ", ".join(d.imports) or "-", d.how, notes))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            out.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    else:
        out.append("No third-party distributions.")
    if result.unresolved:
        out.append("")
        out.append("Unresolved imports (no known distribution; declare them in requirements.txt):")
        for name in result.unresolved:
            locs = [loc for i in result.imports if i.kind == "third-party" and i.distribution is None and (i.top == name or i.module == name) for loc in i.locations]
            out.append(f"  {name}  ({', '.join(locs[:3])}{', …' if len(locs) > 3 else ''})")
    if result.warnings:
        out.append("")
        out.append(f"{len(result.warnings)} warning(s):")
        for w in result.warnings:
            out.append(f"  {w.path}{':' + str(w.line) if w.line else ''}: {w.message}")
    return "\n".join(out) + "\n"
