"""Figures compared by their decoded pixels, as a person would see them.

Colours are compared by the YIQ difference pixelmatch uses (0 = same, 1 = black vs
white); a pixel whose colour is found within ``shift`` pixels in the other image is an
edge that moved (anti-aliasing), not a change. A diff image shows both: red for changed
pixels, amber for moved edges, over a faded copy of the recorded figure.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import UnidentifiedImageError

from reprokit import lazy
from reprokit.errors import InputError
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Difference, Tally

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

    Pixels = NDArray[np.float32]  # height, width, RGB; 0-255, composited over white
else:
    np = lazy.module("numpy")
    Image = lazy.module("PIL.Image")

_MAX_DELTA = 35215.0  # pixelmatch's largest YIQ difference (black vs white)


def decode(data: bytes, where: str) -> Pixels:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return decode_image(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{where}: not a readable image ({exc})") from None


def _yiq(p: Pixels) -> Pixels:
    r, g, b = p[..., 0], p[..., 1], p[..., 2]
    y = r * 0.29889531 + g * 0.58662247 + b * 0.11448223
    i = r * 0.59597799 - g * 0.27417610 - b * 0.32180189
    q = r * 0.21147017 - g * 0.52261711 + b * 0.31114694
    return np.stack([y, i, q], axis=-1)


def _delta(ya: Pixels, yb: Pixels) -> Pixels:
    d = ya - yb
    out: Pixels = np.sqrt((0.5053 * d[..., 0] ** 2 + 0.299 * d[..., 1] ** 2 + 0.1957 * d[..., 2] ** 2) / _MAX_DELTA)
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class PixelStats:
    width: int
    height: int
    differing: int  # pixels whose colour differs by more than the threshold
    shifted: int  # of those, pixels explained by an edge moving at most ``shift`` pixels
    worst: float  # largest colour difference, 0-1
    worst_at: tuple[int, int]  # (x, y)
    worst_colours: tuple[str, str]
    box: tuple[int, int, int, int] | None  # x0, y0, x1, y1 of the changed (not shifted) pixels
    diff_png: bytes

    @property
    def changed(self) -> int:
        return self.differing - self.shifted

    @property
    def total(self) -> int:
        return self.width * self.height


def _hex(p: NDArray[np.float32]) -> str:
    r, g, b = (round(float(v)) for v in p)
    return f"#{r:02x}{g:02x}{b:02x}"


def _neighbourhood(p: Pixels, shift: int) -> tuple[Pixels, Pixels]:
    """Per pixel and channel: the darkest and brightest value at most ``shift`` pixels away."""
    h, w = p.shape[:2]
    padded = np.pad(p, ((shift, shift), (shift, shift), (0, 0)), mode="edge")
    lo, hi = p.copy(), p.copy()
    for dy in range(2 * shift + 1):
        for dx in range(2 * shift + 1):
            window = padded[dy : dy + h, dx : dx + w]
            lo, hi = np.minimum(lo, window), np.maximum(hi, window)
    return lo, hi


def _explained(src: Pixels, other: Pixels, shift: int, slack: float) -> NDArray[np.bool_]:
    """Pixels of ``src`` whose colour lies between the colours ``other`` has nearby: what an
    edge drawn a fraction of a pixel (up to ``shift`` pixels) away looks like after
    anti-aliasing, which blends the colours on either side of it."""
    lo, hi = _neighbourhood(other, shift)
    inside: NDArray[np.bool_] = np.all((src >= lo - slack) & (src <= hi + slack), axis=-1)
    return inside


def measure(a: Pixels, b: Pixels, rule: Rule) -> PixelStats:
    """Compare two decoded images of the same size."""
    h, w = a.shape[:2]
    ya, yb = _yiq(a), _yiq(b)
    delta = _delta(ya, yb)
    differ = delta > rule.pixel_threshold
    shifted = np.zeros_like(differ)
    if differ.any() and rule.shift > 0:
        ys, xs = np.nonzero(differ)
        s = rule.shift
        y0, y1 = max(0, int(ys.min()) - s), min(h, int(ys.max()) + s + 1)
        x0, x1 = max(0, int(xs.min()) - s), min(w, int(xs.max()) + s + 1)
        ca, cb = a[y0:y1, x0:x1], b[y0:y1, x0:x1]
        slack = 255.0 * rule.pixel_threshold / 4
        moved = _explained(cb, ca, s, slack) & _explained(ca, cb, s, slack)
        shifted[y0:y1, x0:x1] = moved & differ[y0:y1, x0:x1]
    changed = differ & ~shifted
    wy, wx = np.unravel_index(int(np.argmax(delta)), delta.shape)
    box = None
    if changed.any():
        cy, cx = np.nonzero(changed)
        box = (int(cx.min()), int(cy.min()), int(cx.max()), int(cy.max()))
    return PixelStats(
        width=w, height=h, differing=int(differ.sum()), shifted=int(shifted.sum()), worst=float(delta[wy, wx]),
        worst_at=(int(wx), int(wy)), worst_colours=(_hex(a[wy, wx]), _hex(b[wy, wx])), box=box,
        diff_png=diff_image(a, changed, shifted),
    )


def diff_image(a: Pixels, changed: NDArray[np.bool_], shifted: NDArray[np.bool_]) -> bytes:
    grey = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    faded = 255.0 - (255.0 - grey) * 0.25  # the figure, faint, so the marks stand out
    out = np.repeat(faded[..., None], 3, axis=2)
    out[shifted] = (245.0, 170.0, 0.0)
    out[changed] = (220.0, 20.0, 60.0)
    buf = io.BytesIO()
    Image.fromarray(out.clip(0, 255).astype(np.uint8), "RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def compare_pixels(a: Pixels, b: Pixels, rule: Rule, tally: Tally, where: str = "") -> PixelStats | None:
    """Feed the comparison of two images into ``tally``; None when the sizes differ."""
    if a.shape != b.shape:
        tally.mismatch(f"{where}image size", f"{a.shape[1]}×{a.shape[0]} px", f"{b.shape[1]}×{b.shape[0]} px")
        return None
    stats = measure(a, b, rule)
    tally.compared += stats.total
    if stats.differing:
        worst = Difference(where=f"{where}pixel ({stats.worst_at[0]}, {stats.worst_at[1]})", recorded=stats.worst_colours[0],
                           rerun=stats.worst_colours[1], abs=stats.worst)
        if tally.worst_abs is None or (tally.worst_abs.abs or 0) < stats.worst:
            tally.worst_abs = worst
    tally.notes.append(pixel_note(stats, rule, where))
    tally.changed_pixels = max(tally.changed_pixels, stats.changed / stats.total)
    if stats.changed > rule.max_pixels * stats.total:
        assert stats.box is not None
        x0, y0, x1, y1 = stats.box
        tally.fail(Difference(
            where=f"{where}pixels x {x0}–{x1}, y {y0}–{y1}", recorded=stats.worst_colours[0], rerun=stats.worst_colours[1],
            abs=stats.worst, note=f"{stats.changed} pixels ({stats.changed / stats.total:.3%}) changed colour beyond {rule.pixel_threshold:g}"
            + (f", more than the {rule.max_pixels:.3%} the rule allows" if rule.max_pixels else ""),
        ))
    return stats


def pixel_note(stats: PixelStats, rule: Rule, where: str = "") -> str:
    if not stats.differing:
        return f"{where}{stats.width}×{stats.height} px: every pixel within colour difference {rule.pixel_threshold:g}"
    return (f"{where}{stats.width}×{stats.height} px: {stats.differing} pixels differ, {stats.shifted} of them where an edge "
            f"moved by at most {rule.shift} px (anti-aliasing), {stats.changed} changed; worst colour difference "
            f"{stats.worst:.3f} at ({stats.worst_at[0]}, {stats.worst_at[1]})")


def summary(stats: PixelStats, rule: Rule) -> str:
    if not stats.differing:
        return f"equivalent: same pixels ({stats.width}×{stats.height}), different bytes (metadata such as time stamps)"
    return (f"equivalent: {stats.differing} of {stats.total} pixels differ, {stats.shifted} by anti-aliasing (edges moved ≤{rule.shift} px), "
            f"{stats.changed} changed (allowed {rule.max_pixels:.3%}); worst colour difference {stats.worst:.3f}")


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> tuple[Tally, bytes | None, str | None]:
    a = decode(recorded, f"{path} (recorded)")
    b = decode(rerun, f"{path} (rerun)")
    tally = Tally(rule)
    stats = compare_pixels(a, b, rule, tally)
    if stats is None:
        return tally, None, None
    return tally, stats.diff_png if stats.differing else None, summary(stats, rule)


def likeness(committed: bytes, reproduced: bytes, threshold: float = 0.1) -> float | None:
    """The fraction of a committed figure's pixels that differ (colour difference above
    ``threshold``) from a reproduced one drawn at its size: how alike two figures are
    when nothing says they are the same file. None when either is no readable image."""
    try:
        with Image.open(io.BytesIO(committed)) as a_im, Image.open(io.BytesIO(reproduced)) as b_im:
            a_im.load()
            b_im.load()
            size = a_im.size
            if size[0] * size[1] > 50_000_000:
                return None
            a = decode_image(a_im)
            b = decode_image(b_im.resize(size) if b_im.size != size else b_im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return float((_delta(_yiq(a), _yiq(b)) > threshold).mean())


def decode_image(im: Image.Image) -> Pixels:
    rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
    alpha = rgba[..., 3:4] / 255.0
    out: Pixels = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return out
