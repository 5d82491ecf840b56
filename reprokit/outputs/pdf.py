"""PDF compared object by object after stripping what changes on every save
(CreationDate, ModDate, Producer, the document ID, XMP metadata, stream lengths, font
subset tags, the cross-reference table); content streams are decompressed and their
numbers compared within the rule. When that fails and ``pdftoppm`` is installed, the
pages are rendered and compared as pixels. The verdict says which comparison decided.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from dataclasses import dataclass

from reprokit.errors import InputError
from reprokit.outputs import image, renderer, text
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Tally

_OBJ = re.compile(rb"(?<![0-9])(\d+)\s+(\d+)\s+obj\b")
_VOLATILE = re.compile(
    rb"/(?:CreationDate|ModDate|Producer|Creator(?=\s*\(\s*(?:Matplotlib|PIL|Pillow)))\s*(?:\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)"
    rb"|/ID\s*\[[^\]]*\]|/Length\s+\d+(?:\s+\d+\s+R)?|/Length1\s+\d+|/Length2\s+\d+|/Length3\s+\d+"
)
_SUBSET = re.compile(rb"/[A-Z]{6}\+")

STRIPPED = "CreationDate, ModDate, Producer, ID, XMP metadata"


@dataclass(frozen=True, kw_only=True, slots=True)
class PdfObject:
    number: int
    head: str  # the dictionary (or value), volatile entries removed
    stream: bytes | None  # decompressed where possible
    kind: str  # page, font, image, metadata, xref, … (from /Type or /Subtype)


def _kind(head: bytes) -> str:
    m = re.search(rb"/Type\s*/(\w+)", head)
    sub = re.search(rb"/Subtype\s*/(\w+)", head)
    return (m.group(1).decode() if m else "") or (sub.group(1).decode() if sub else "")


def objects(data: bytes, where: str) -> dict[int, PdfObject]:
    if not data.lstrip()[:5] == b"%PDF-":
        raise InputError(f"{where}: not a PDF (no %PDF- header)")
    out: dict[int, PdfObject] = {}
    pos = 0
    while True:
        m = _OBJ.search(data, pos)
        if not m:
            break
        start = m.end()
        end = data.find(b"endobj", start)
        if end < 0:
            raise InputError(f"{where}: object {int(m.group(1))} has no endobj (truncated PDF?)")
        body = data[start:end]
        stream = None
        s = re.search(rb"\bstream\r?\n", body)
        if s:
            stop = data.find(b"endstream", start + s.end())
            if stop < 0:
                raise InputError(f"{where}: object {int(m.group(1))} has no endstream (truncated PDF?)")
            end = data.find(b"endobj", stop)
            if end < 0:
                raise InputError(f"{where}: object {int(m.group(1))} has no endobj (truncated PDF?)")
            head = body[: s.start()]
            stream = data[start + s.end() : stop].rstrip(b"\r\n")
            if re.search(rb"/Filter\s*/FlateDecode\b", head):
                with contextlib.suppress(zlib.error):  # damaged or odd: compared as stored
                    stream = zlib.decompress(stream)
        else:
            head = body
        kind = _kind(head)
        clean = _SUBSET.sub(b"/SUBSET+", _VOLATILE.sub(b"", head))
        clean = re.sub(rb"/Filter\s*/FlateDecode\b", b"", clean)
        out[int(m.group(1))] = PdfObject(number=int(m.group(1)), head=" ".join(clean.decode("latin-1").split()),
                                         stream=stream, kind=kind)
        pos = end + len(b"endobj")
    if not out:
        raise InputError(f"{where}: no objects found (not a PDF, or a damaged one)")
    return out


def _texty(data: bytes) -> bool:
    sample = data[:4096]
    return not sample or sum(32 <= c < 127 or c in (9, 10, 13) for c in sample) / len(sample) > 0.95


def compare_structure(a: dict[int, PdfObject], b: dict[int, PdfObject], rule: Rule, tally: Tally) -> None:
    for n in sorted(set(a) | set(b)):
        oa, ob = a.get(n), b.get(n)
        label = f"object {n}" + (f" ({(oa or ob).kind})" if (oa or ob) and (oa or ob).kind else "")  # type: ignore[union-attr]
        if oa is None or ob is None:
            tally.mismatch(label, "(absent)" if oa is None else "present", "(absent)" if ob is None else "present")
            continue
        if oa.kind in ("XRef", "Metadata") or ob.kind in ("XRef", "Metadata"):
            continue  # byte offsets and XMP dates: volatile by nature
        text.compare_lines(oa.head, ob.head, rule, tally, f"{label}, ")
        if (oa.stream is None) != (ob.stream is None):
            tally.mismatch(f"{label} stream", "present" if oa.stream is not None else "(absent)", "present" if ob.stream is not None else "(absent)")
        elif oa.stream is not None and ob.stream is not None and oa.stream != ob.stream:
            if _texty(oa.stream) and _texty(ob.stream):
                text.compare_lines(oa.stream.decode("latin-1"), ob.stream.decode("latin-1"), rule, tally, f"{label} stream, ")
            else:
                tally.mismatch(f"{label} stream", f"{len(oa.stream)} bytes", f"{len(ob.stream)} bytes", "binary stream differs")
        else:
            tally.compared += 1


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> tuple[Tally, str, bytes | None, str | None]:
    """The tally, the method used, a diff image and an equivalent-summary when pages were rendered."""
    tally = Tally(rule)
    compare_structure(objects(recorded, f"{path} (recorded)"), objects(rerun, f"{path} (rerun)"), rule, tally)
    method = f"PDF objects after stripping {STRIPPED}; content streams decompressed, numbers within the rule"
    if not tally.failed:
        tally.notes.append(f"same PDF after stripping volatile metadata ({STRIPPED})")
        return tally, method, None, None
    if not rule.render:
        return tally, method, None, None
    pages_a, pages_b = renderer.pdf_pages(recorded), renderer.pdf_pages(rerun)
    if pages_a is None or pages_b is None:
        tally.notes.append("pdftoppm is not installed: pages were not rendered" if renderer.pdftoppm() is None
                           else "pdftoppm could not render the pages")
        return tally, method, None, None
    first = tally.failures[0].describe()
    pixels = Tally(rule)
    pixels.notes.append(f"the PDF objects differ ({first}); rendered at {renderer.DPI} dpi, pages compare as pixels")
    if len(pages_a) != len(pages_b):
        pixels.mismatch("page count", str(len(pages_a)), str(len(pages_b)))
        return pixels, f"pages rendered by pdftoppm at {renderer.DPI} dpi", None, None
    diff, summaries = None, []
    for i, (pa, pb) in enumerate(zip(pages_a, pages_b, strict=True), 1):
        stats = image.compare_pixels(image.decode(pa, f"{path} page {i} (recorded)"), image.decode(pb, f"{path} page {i} (rerun)"),
                                     rule, pixels, f"page {i}, ")
        if stats is not None and stats.differing and diff is None:
            diff = stats.diff_png
        if stats is not None:
            summaries.append(image.summary(stats, rule))
    return pixels, f"pages rendered by pdftoppm at {renderer.DPI} dpi, compared as pixels", diff, (summaries[0] if len(summaries) == 1 else None)
