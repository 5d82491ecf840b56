"""Where an archive's time went, phase by phase: scan and resolve, build tools, the
nixpkgs pin, vendoring, rebuilding the environment, each run of each entry point, and
sealing the bundle. A phase entered again (a run repeated after a mend) adds up."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def items(self) -> tuple[tuple[str, float], ...]:
        return tuple((name, round(s, 3)) for name, s in self.seconds.items())
