"""The release series before the one a lock took, when the paper most likely ran on it.

A lock as of the paper's date takes the newest release of each distribution. When that
release series came out a few weeks before the date, the authors' environment, made
earlier, most likely held the series before it: numpy 1.12 (80 days before a paper)
refuses float indices the paper's numpy 1.11 took, matplotlib 3.1 (9 days before) broke
set_aspect on 3D axes. An entry point that fails inside such a distribution is run again
with the series before; which one ran is what the bundle keeps, with a note.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from reprokit.errors import ReprokitError
from reprokit.resolve import pypi

# A series this recent at the paper's date may be newer than what its authors ran.
RECENT_DAYS = 180
# An error that says what the paper used was taken out (numpy 1.24: "`np.float` was a
# deprecated alias ... see the 1.20 release notes") is a later release's, however long
# before the paper's date its series came out (a last commit's date, code years older).
# A module that says it has no such attribute from its own __init__.py (not the
# interpreter, at the caller) is a removal stub: numpy's and scipy's __getattr__.
_REMOVED = re.compile(r"(?i)deprecat|\bremoved\b|no longer (?:supported|available|exists?)|release[ -]notes|/release/"
                      r"|module '[\w.]+' has no attribute .*\(in [\w/]+/__init__\.py\b")


def says_removed(message: str) -> bool:
    """Whether a failure's line says the API it used was deprecated and removed."""
    return _REMOVED.search(message) is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class EarlierSeries:
    name: str
    locked: str  # the version the lock took, e.g. 3.1.1
    series: str  # its release series, e.g. 3.1
    days: int  # how long before the paper's date the series came out
    before: str  # the newest release of an earlier series by that date, e.g. 3.0.3
    removed: bool = False  # chosen because the error says the API was removed, not for the series' age

    @property
    def requirement(self) -> str:
        return f"{self.name}<{self.series}"


def earlier_series(client: pypi.Client, name: str, locked: str, date: dt.date, *, removed: bool = False) -> EarlierSeries | None:
    """The series before ``locked``'s, when ``locked``'s came out at most
    :data:`RECENT_DAYS` days before ``date`` (at any time before it, for an error that
    ``removed`` an API) and an earlier release came out before it; else None (an index
    that cannot say is None too)."""
    try:
        version = Version(locked)
        released = pypi.released(client.files(name))
    except (InvalidVersion, ReprokitError):
        return None
    series = version.release[:2] if len(version.release) > 1 else version.release[:1]
    ours = [when for v, when in released.items() if v.release[:len(series)] == series and not v.is_prerelease and not v.is_devrelease]
    if not ours:
        return None
    start = min(ours)
    days = (date - start.date()).days
    older = [v for v, when in released.items() if v.release[:len(series)] < series and when < start and not v.is_prerelease and not v.is_devrelease]
    if (days > RECENT_DAYS and not removed) or not older:
        return None
    return EarlierSeries(name=name, locked=locked, series=".".join(map(str, series)), days=max(days, 0), before=str(max(older)),
                         removed=removed and days > RECENT_DAYS)
