"""The external renderers that turn PDF pages and SVG drawings into pixels: ``pdftoppm``
(poppler) and ``rsvg-convert`` (librsvg). Used only when installed; callers say which
comparison they made.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger("reprokit")

DPI = 72


def pdftoppm() -> str | None:
    return shutil.which("pdftoppm")


def rsvg_convert() -> str | None:
    return shutil.which("rsvg-convert")


def _run(cmd: list[str], timeout: int = 120) -> subprocess.CompletedProcess[bytes]:
    log.debug("$ %s", shlex.join(cmd))
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def pdf_pages(data: bytes, dpi: int = DPI) -> list[bytes] | None:
    """Each page of a PDF as PNG bytes; None when pdftoppm is missing or fails."""
    exe = pdftoppm()
    if exe is None:
        return None
    with tempfile.TemporaryDirectory(prefix="reprokit-pdf-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(data)
        try:
            proc = _run([exe, "-r", str(dpi), "-png", str(src), str(Path(tmp) / "page")])
        except subprocess.TimeoutExpired:
            return None
        if proc.returncode != 0:
            return None
        pages = sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        return [p.read_bytes() for p in pages]


def svg_png(data: bytes) -> bytes | None:
    """An SVG drawn as PNG; None when rsvg-convert is missing or fails."""
    exe = rsvg_convert()
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "--format", "png"], input=data, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None
    return proc.stdout if proc.returncode == 0 and proc.stdout else None
