"""What people see while reprokit works: the downloads of ``vendor`` (and ``archive``) as
bars on a terminal, a plain line per finished file otherwise; and the lines a long run
prints (:func:`lines`)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO


def lines(stream: TextIO = sys.stderr) -> Callable[[str], None]:
    """A progress line printer: each line as it comes, flushed."""
    def say(line: str) -> None:
        print(line, file=stream, flush=True)
    return say


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
