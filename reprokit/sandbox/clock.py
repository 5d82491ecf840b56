"""The clock a sandboxed run sees, moved ahead (``--clock-ahead 10y``) through libfaketime:
the library is preloaded into every process of the run (``LD_PRELOAD``) and told the
offset (``FAKETIME``), so expired certificates, hard-coded years and other date-dependent
code fail now rather than in ten years. Monotonic clocks are left alone, so time budgets
and sleeps still measure real time.
"""

from __future__ import annotations

import datetime as dt
import glob
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from reprokit.errors import UsageError

# Where the library is looked for: the ``libfaketime`` wheel (a dependency of reprokit),
# then Debian's ``libfaketime`` package (what the ``faketime`` command preloads).
WHEEL_PACKAGE = "libfaketime"
WHEEL_LIBRARY = "vendor/libfaketime/src/libfaketime.so.1"
SYSTEM_LIBRARIES = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1", "/usr/lib64/faketime/libfaketime.so.1")

_SPAN = re.compile(r"(\d+)\s*(y|d)")


@dataclass(frozen=True, kw_only=True, slots=True)
class Clock:
    """A clock ``seconds`` ahead of the real one, as asked (``spec``: ``10y``)."""

    spec: str
    seconds: int
    library: Path  # libfaketime.so.1

    def environment(self) -> dict[str, str]:
        """What a run's environment gets: libfaketime preloaded, the offset, real monotonic time."""
        return {"LD_PRELOAD": str(self.library), "FAKETIME": f"+{self.seconds}", "DONT_FAKE_MONOTONIC": "1"}

    def now(self) -> dt.datetime:
        """What a run sees as now (UTC)."""
        return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.seconds)

    def describe(self) -> str:
        return f"clock {self.spec} ahead (to {self.now():%Y-%m-%d})"


def seconds_ahead(spec: str, now: dt.datetime | None = None) -> int:
    """The seconds from ``now`` to ``spec`` ahead of it: ``10y`` (calendar years; 29 February
    becomes the 28th), ``400d``, ``2y30d``. A bad span is a :class:`UsageError`."""
    text = spec.strip().lower()
    parts = _SPAN.findall(text)
    if not parts or _SPAN.sub("", text).strip() or all(int(n) == 0 for n, _ in parts):
        raise UsageError(f"--clock-ahead {spec!r}: give a span such as 10y, 400d or 2y30d")
    start = now or dt.datetime.now(dt.timezone.utc)
    years = sum(int(n) for n, unit in parts if unit == "y")
    days = sum(int(n) for n, unit in parts if unit == "d")
    if start.year + years > 9000 or days > 3_000_000:
        raise UsageError(f"--clock-ahead {spec!r}: too far ahead")
    try:
        moved = start.replace(year=start.year + years)
    except ValueError:  # 29 February in a year that has none
        moved = start.replace(year=start.year + years, day=28)
    return round((moved + dt.timedelta(days=days) - start).total_seconds())


def libraries() -> list[Path]:
    """The libfaketime libraries on this machine, the wheel's first."""
    found: list[Path] = []
    spec = importlib.util.find_spec(WHEEL_PACKAGE)  # finds the package without running it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / WHEEL_LIBRARY
        if candidate.is_file():
            found.append(candidate.resolve())
    for pattern in SYSTEM_LIBRARIES:
        found += [Path(p).resolve() for p in sorted(glob.glob(pattern))]
    return list(dict.fromkeys(found))


def ahead(spec: str, library: Path, now: dt.datetime | None = None) -> Clock:
    return Clock(spec=spec, seconds=seconds_ahead(spec, now), library=library)
