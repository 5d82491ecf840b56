"""SVG compared as text after the volatile parts are normalised (the metadata block with
its date, comments, generated ids), with coordinates within the rule; when that fails
and ``rsvg-convert`` is installed, the two drawings are rendered and compared as pixels.
"""

from __future__ import annotations

import re

from reprokit.outputs import image, renderer, text
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Tally

_METADATA = re.compile(r"<metadata\b.*?</metadata>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ID = re.compile(r"""\bid=(["'])([^"']+)\1""")
_REF = re.compile(r"""(\bid=["']|#)([^"'()\s#]+)""")


def normalise(svg: str) -> str:
    """The drawing without what changes on every save: dates, comments, random ids."""
    svg = _COMMENT.sub("", _METADATA.sub("", svg))
    names: dict[str, str] = {}
    for m in _ID.finditer(svg):
        names.setdefault(m.group(2), f"id{len(names) + 1}")
    if names:
        # Every use: id="x", href="#x", url(#x).
        svg = _REF.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), svg)
    # One element per line, so places are reported by element.
    return re.sub(r">\s*<", ">\n<", svg).strip()


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> tuple[Tally, str, bytes | None, str | None]:
    a = normalise(recorded.decode("utf-8", errors="replace"))
    b = normalise(rerun.decode("utf-8", errors="replace"))
    tally = Tally(rule)
    text.compare_lines(a, b, rule, tally, "")
    method = "SVG text after normalising metadata, comments and ids, coordinates within the rule"
    if not tally.failed or not rule.render:
        return tally, method, None, None
    pa, pb = renderer.svg_png(recorded), renderer.svg_png(rerun)
    if pa is None or pb is None:
        if renderer.rsvg_convert() is None:
            tally.notes.append("rsvg-convert is not installed: the drawings were not rendered")
        return tally, method, None, None
    pixels = Tally(rule)
    stats = image.compare_pixels(image.decode(pa, f"{path} (recorded, rendered)"), image.decode(pb, f"{path} (rerun, rendered)"), rule, pixels)
    pixels.notes.append(f"the SVG texts differ ({tally.failures[0].describe()}); rendered, they compare as pixels")
    summary = image.summary(stats, rule) if stats else None
    return pixels, "drawings rendered by rsvg-convert, compared as pixels", stats.diff_png if stats and stats.differing else None, summary
