"""What people see: the text reprokit prints for a person (``--json`` prints the data).

Domain modules return data (a validation report, a pin, findings, a publish result);
these functions turn it into text, and :class:`Progress` draws vendor's downloads. The
scan table stays with :mod:`reprokit.scan` for now; the HTML reviewer's report is
:mod:`reprokit.report`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from reprokit.bundle import ArchiveResult
    from reprokit.nixpkgs import NixpkgsPin
    from reprokit.publish import Published
    from reprokit.secrets import Finding
    from reprokit.validate import Report
    from reprokit.vendor import VendorReport


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


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


def archived(result: ArchiveResult) -> str:
    lines = [f"note: {n}" for n in result.notes]
    lines.append(f"wrote {result.bundle}: {counted(result.files, 'paper file')}, {counted(result.packages, 'package')}, "
                 f"{counted(result.outputs, 'recorded output')}" + (f"; {result.tarball}" if result.tarball else ""))
    lines.append(f"check it:  python3 {result.bundle}/verify.py   or   reprokit validate {result.bundle} --rebuild pip --rerun")
    return "\n".join(lines) + "\n"


class Progress:
    """vendor's downloads. On a terminal: one bar per download in flight and one for the
    total, redrawn in place. Otherwise one plain line per finished file."""

    WIDTH = 24

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.lock = threading.Lock()
        self.total_files = self.total_bytes = self.done_files = self.done_bytes = 0
        self.sizes: dict[str, int] = {}
        self.active: dict[str, int] = {}
        self.drawn = 0  # lines drawn last time, to move the cursor back over them
        self.last = 0.0

    def start(self, files: Sequence[tuple[str, int]]) -> None:
        """The files to come, each with its size (0 when unknown)."""
        with self.lock:
            self.sizes = dict(files)
            self.total_files, self.total_bytes = len(files), sum(size for _, size in files)

    @staticmethod
    def bar(done: int, total: int, width: int) -> str:
        frac = min(1.0, done / total) if total else 1.0
        return "[" + "#" * int(frac * width) + "." * (width - int(frac * width)) + "]"

    def advance(self, name: str, n: int) -> None:
        with self.lock:
            self.done_bytes += n
            self.active[name] = self.active.get(name, 0) + n
            if self.tty and time.monotonic() - self.last > 0.1:
                self._draw()

    def _draw(self) -> None:
        self.last = time.monotonic()
        lines = [
            f"{self.bar(done, self.sizes.get(name, 0), self.WIDTH)} {done / 1e6:7.1f} MB  {name[:60]}"
            for name, done in sorted(self.active.items())
        ]
        lines.append(f"{self.bar(self.done_bytes, self.total_bytes, self.WIDTH)} {self.done_bytes / 1e6:7.1f}/{self.total_bytes / 1e6:.1f} MB  "
                     f"{self.done_files}/{self.total_files} files")
        out = ("\x1b[F" * self.drawn) + "".join(f"\x1b[2K{line}\n" for line in lines)
        extra = max(0, self.drawn - len(lines))
        out += "\x1b[2K\n" * extra + "\x1b[F" * extra
        self.drawn = len(lines)
        self.stream.write(out)
        self.stream.flush()

    def finished(self, name: str, how: str) -> None:
        with self.lock:
            self.done_files += 1
            self.active.pop(name, None)
            if self.tty:
                self._draw()
            else:
                self.stream.write(f"{how:<10} {name}\n")
                self.stream.flush()

    def close(self) -> None:
        if self.tty:
            with self.lock:
                self._draw()
