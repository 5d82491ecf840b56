"""``reprokit pin``: the nixpkgs commit of a channel as of a date, with its narHash.

Online, GitHub's commits API names the channel's newest commit before the date and
reprokit hashes that commit's tarball itself; both requests go through
:func:`reprokit.http.send`, which retries. Offline (or when GitHub cannot be reached
after those retries) an embedded table of real, published pins answers instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reprokit import data, hashes, http, lazy, nar
from reprokit.cache import cache_root
from reprokit.errors import PinError, RetriesExhausted, UsageError
from reprokit.fsutil import atomic_write_bytes
from reprokit.resolve.interpreter import RELEASED

if TYPE_CHECKING:
    import requests
else:
    requests = lazy.module("requests")

log = logging.getLogger(__name__)

GITHUB_API = "https://api.github.com"
GITHUB_ARCHIVE = "https://github.com"
Source = Literal["github", "embedded"]


@dataclass(frozen=True, kw_only=True, slots=True)
class NixpkgsPin:
    channel: str
    rev: str
    last_modified: int  # commit time, seconds since the epoch
    nar_hash: str  # SRI
    url: str  # tarball of the rev
    source: Source
    requested: str  # the date asked for, YYYY-MM-DD
    note: str = ""

    @property
    def date(self) -> str:
        return dt.datetime.fromtimestamp(self.last_modified, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def days_before(self) -> int:
        asked = dt.date.fromisoformat(self.requested)
        return (asked - dt.datetime.fromtimestamp(self.last_modified, dt.timezone.utc).date()).days

    def to_json(self) -> dict[str, object]:
        return {
            "channel": self.channel, "rev": self.rev, "lastModified": self.last_modified,
            "date": self.date, "narHash": self.nar_hash, "url": self.url, "source": self.source,
            "requested": self.requested, "days_before": self.days_before, "note": self.note,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class PinSettings:
    date: dt.date
    channel: str | None = None
    offline: bool = False
    # Overridable for mirrors and tests: $REPROKIT_GITHUB_API, $REPROKIT_GITHUB_ARCHIVE.
    github_api: str = dataclasses.field(default_factory=lambda: os.environ.get("REPROKIT_GITHUB_API", GITHUB_API))
    github_archive: str = dataclasses.field(default_factory=lambda: os.environ.get("REPROKIT_GITHUB_ARCHIVE", GITHUB_ARCHIVE))
    cache_dir: Path | None = None
    timeout: float = 10.0
    # Few retries: an offline machine that forgot --offline falls back after about 1.5 s.
    retries: int = 2
    backoff: float = 0.5
    python: str | None = None  # a pin whose nixpkgs has this CPython


# NixOS releases and the day each was released: its channel is the stable one from then
# until the next. Before 21.05 releases were YY.03 and YY.09, from then YY.05 and YY.11.
RELEASES: tuple[tuple[str, dt.date], ...] = (
    ("14.04", dt.date(2014, 4, 30)), ("14.12", dt.date(2014, 12, 30)), ("15.09", dt.date(2015, 9, 30)),
    ("16.03", dt.date(2016, 3, 31)), ("16.09", dt.date(2016, 9, 30)), ("17.03", dt.date(2017, 3, 31)),
    ("17.09", dt.date(2017, 9, 29)), ("18.03", dt.date(2018, 4, 4)), ("18.09", dt.date(2018, 10, 5)),
    ("19.03", dt.date(2019, 4, 11)), ("19.09", dt.date(2019, 10, 9)), ("20.03", dt.date(2020, 4, 20)),
    ("20.09", dt.date(2020, 10, 27)), ("21.05", dt.date(2021, 5, 31)), ("21.11", dt.date(2021, 11, 30)),
    ("22.05", dt.date(2022, 5, 30)), ("22.11", dt.date(2022, 11, 30)), ("23.05", dt.date(2023, 5, 31)),
    ("23.11", dt.date(2023, 11, 29)), ("24.05", dt.date(2024, 5, 31)), ("24.11", dt.date(2024, 11, 30)),
    ("25.05", dt.date(2025, 5, 23)), ("25.11", dt.date(2025, 11, 30)), ("26.05", dt.date(2026, 5, 31)),
)


def _release_after(release: str) -> str:
    year, month = (int(x) for x in release.split("."))
    return f"{year:02d}.11" if month == 5 else f"{year + 1:02d}.05"


def release_at(date: dt.date) -> str:
    """The NixOS release that was the stable one at ``date`` (the newest released by then;
    past the table's end, one every May and November)."""
    current = RELEASES[0][0]
    for release, day in RELEASES:
        if day <= date:
            current = release
    last, last_day = RELEASES[-1]
    while current == last and date >= last_day:
        nxt = _release_after(current)
        year, month = (int(x) for x in nxt.split("."))
        if date < dt.date(2000 + year, 12 if month == 11 else 6, 1):
            break
        current, last = nxt, nxt
    return current


def stable_channel(date: dt.date) -> str:
    """The NixOS stable channel current at ``date``."""
    return f"nixos-{release_at(date)}"


def release_of_channel(channel: str) -> str | None:
    """``nixos-20.03-small`` -> ``20.03``; None for unstable and other branches."""
    m = re.fullmatch(r"(?:nixos|nixpkgs)-(\d\d\.\d\d)(?:-small|-darwin)?", channel)
    return m.group(1) if m else None


def release_of_pin(channel: str, last_modified: int) -> str:
    """The release a pin belongs to: its channel's, or for unstable the next release
    after its commit (whose interpreters it already has)."""
    named = release_of_channel(channel)
    if named:
        return named
    day = dt.datetime.fromtimestamp(last_modified, dt.timezone.utc).date()
    for release, released in RELEASES:
        if released > day:
            return release
    return _release_after(RELEASES[-1][0])


def has_python(release: str, python: str) -> bool | None:
    """Whether a release's nixpkgs has a released CPython ``python`` (a prerelease, such
    as python39 in 20.03, does not count); None when reprokit does not know the release."""

    rows = {r[0]: r for r in interpreter_table()}
    if release not in rows:
        return None
    _, released_on, attrs = rows[release]
    first = RELEASED.get(python)
    return "python" + python.replace(".", "") in attrs and (first is None or python.startswith("2.") or first <= released_on)


def _previous_stable(channel: str) -> str | None:
    release = release_of_channel(channel)
    names = [r for r, _ in RELEASES]
    if release is None or release not in names or names.index(release) == 0 or channel.endswith(("-small", "-darwin")):
        return None
    return f"nixos-{names[names.index(release) - 1]}"


@functools.cache
def embedded_pins() -> tuple[tuple[str, str, int, str, int], ...]:
    table = data.load_json("nixpkgs_pins.json")
    return tuple((str(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4])) for r in table["pins"])


def tarball_url(rev: str, archive: str = GITHUB_ARCHIVE) -> str:
    return f"{archive.rstrip('/')}/NixOS/nixpkgs/archive/{rev}.tar.gz"


def _end_of(date: dt.date) -> int:
    return int(dt.datetime(date.year, date.month, date.day, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp())


def _pin_from_row(row: tuple[str, str, int, str, int], date: dt.date, note: str = "") -> NixpkgsPin:
    ch, rev, last_modified, nar_hash, _ = row
    return NixpkgsPin(channel=ch, rev=rev, last_modified=last_modified, nar_hash=nar_hash, url=tarball_url(rev),
                      source="embedded", requested=date.isoformat(), note=note)


def _fits(row: tuple[str, str, int, str, int], python: str | None) -> bool:
    return python is None or has_python(release_of_pin(row[0], row[2]), python) is not False


def pin_embedded(date: dt.date, channel: str, python: str | None = None, *, strict: bool = False) -> NixpkgsPin:
    """Newest embedded pin of ``channel`` at or before the end of ``date`` whose nixpkgs
    has CPython ``python``; failing that, the previous stable releases'.

    When none exists (a paper older than the table, or a Python the release lacks), the
    pin nearest to the date among the release channels that have ``python`` is taken,
    and :attr:`NixpkgsPin.note` says so: a pin never blocks an archive. ``strict``
    raises :class:`PinError` instead (``--channel`` asked for that channel only).
    """
    limit = _end_of(date)
    tried: list[str] = []
    current: str | None = channel
    lacking: list[str] = []
    while current and len(tried) < 3:
        tried.append(current)
        dated = [r for r in embedded_pins() if r[0] == current and r[2] <= limit]
        rows = [r for r in dated if _fits(r, python)]
        if dated and not rows:
            lacking.append(current)
        if rows:
            note = ""
            if current != channel:
                why = f"the nixpkgs of {' and '.join(lacking)} lacks Python {python}" if lacking else f"no embedded pin of {channel} at or before {date}"
                note = f"{why}; used {current}"
            return _pin_from_row(max(rows, key=lambda r: r[2]), date, note)
        if strict:
            break
        current = _previous_stable(current)
    wanted = f" with Python {python}" if python else ""
    if strict:
        later = [r for r in embedded_pins() if r[0] == channel and _fits(r, python)]
        hint = f"; its nearest is {min(later, key=lambda r: abs(r[2] - limit))[1][:12]}" if later else ""
        raise PinError(f"no embedded nixpkgs pin of {channel}{wanted} at or before {date}{hint}; choose another --channel or pin online")
    stable = [r for r in embedded_pins() if re.fullmatch(r"nixos-\d\d\.\d\d", r[0]) and _fits(r, python)]
    if not stable:
        raise PinError(f"no embedded nixpkgs pin of a NixOS release has Python {python}; choose --channel and pin online")
    nearest = min(stable, key=lambda r: abs(r[2] - limit))
    when = dt.datetime.fromtimestamp(nearest[2], dt.timezone.utc).date()
    why = f"the nixpkgs of {channel} lacks Python {python}" if python and any(r[0] == channel and r[2] <= limit for r in embedded_pins()) \
        else f"reprokit knows no pin of {channel} (or an older release){wanted} at or before {date}"
    note = (f"{why}: used {nearest[0]} of {when} ({nearest[1][:12]}), the nearest pin{wanted}; "
            f"PyPI versions are still those of {date}")
    return _pin_from_row(nearest, date, note)


def pin_github(settings: PinSettings, channel: str, session: requests.Session | None = None) -> NixpkgsPin:
    """Ask GitHub for the channel's commit as of the date, then hash its tarball."""
    session = session or requests.Session()
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "reprokit"}
    token = os.environ.get("GITHUB_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{settings.github_api.rstrip('/')}/repos/NixOS/nixpkgs/commits"
    until = dt.datetime.fromtimestamp(_end_of(settings.date), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    params: dict[str, str | int] = {"sha": channel, "until": until, "per_page": 1}
    r = http.send(session, "GET", url, retries=settings.retries, backoff=settings.backoff, params=params, headers=headers,
                  timeout=settings.timeout)
    if r.status_code in (403, 429) and r.headers.get("X-RateLimit-Remaining") == "0":
        raise PinError("GitHub's API rate limit is used up; set GITHUB_TOKEN or pin with --offline")
    if r.status_code == 404 or r.status_code == 422:
        raise PinError(f"GitHub knows no nixpkgs branch {channel!r}")
    r.raise_for_status()
    commits = r.json()
    if not commits:
        raise PinError(f"nixpkgs branch {channel} has no commit at or before {settings.date}")
    rev = commits[0]["sha"]
    committed = commits[0]["commit"]["committer"]["date"]
    last_modified = int(dt.datetime.fromisoformat(committed.replace("Z", "+00:00")).timestamp())
    tarball = fetch_tarball(settings, rev, session)
    unpacked = nar.unpacked_nar_sha256(tarball)
    return NixpkgsPin(
        channel=channel, rev=rev, last_modified=last_modified or unpacked.last_modified,
        nar_hash=hashes.sri(unpacked.nar), url=tarball_url(rev, settings.github_archive),
        source="github", requested=settings.date.isoformat(),
    )


def fetch_tarball(settings: PinSettings, rev: str, session: requests.Session) -> Path:
    """The tarball of a nixpkgs rev, from the cache or downloaded into it."""
    dest = cache_root(settings.cache_dir) / "nixpkgs" / f"{rev}.tar.gz"
    if dest.exists():
        return dest
    url = tarball_url(rev, settings.github_archive)
    with http.send(session, "GET", url, retries=settings.retries, backoff=settings.backoff, stream=True, timeout=settings.timeout) as r:
        r.raise_for_status()
        data = b"".join(r.iter_content(1 << 20))
    atomic_write_bytes(dest, data)
    return dest


def pin(settings: PinSettings) -> NixpkgsPin:
    channel = settings.channel or stable_channel(settings.date)
    if not re.fullmatch(r"[A-Za-z0-9._\-]+", channel):
        raise UsageError(f"--channel {channel!r} is not a branch name")
    strict = settings.channel is not None
    if settings.offline:
        return pin_embedded(settings.date, channel, settings.python, strict=strict)
    try:
        return pin_github(settings, channel)
    except (RetriesExhausted, requests.ConnectionError, requests.Timeout) as exc:
        # RetriesExhausted: no try reached GitHub; the others: the tarball's download broke off.
        log.debug("GitHub unreachable (%s); using the embedded pins", exc.reason if isinstance(exc, RetriesExhausted) else exc.__class__.__name__)
        embedded = pin_embedded(settings.date, channel, settings.python, strict=strict)
        return dataclasses.replace(embedded, note=(embedded.note + "; " if embedded.note else "") + "GitHub unreachable: embedded pin")
    except requests.HTTPError as exc:
        resp = exc.response
        raise PinError(f"GitHub answered {resp.status_code if resp is not None else '?'} for {resp.url if resp is not None else 'a request'}; try --offline") from exc


def cached_tarball(rev: str, cache_dir: Path | None = None) -> Path | None:
    """The nixpkgs tarball of ``rev`` if an online pin (or a vendored bundle) left it in the cache."""
    path = cache_root(cache_dir) / "nixpkgs" / f"{rev}.tar.gz"
    return path if path.exists() else None


# CPython interpreters of a nixpkgs tree: defined by callPackage in the interpreters' file
# (2019 on) or in all-packages.nix (before), or inherited from pythonInterpreters.
_INTERPRETER_FILES = ("pkgs/development/interpreters/python/default.nix", "pkgs/top-level/all-packages.nix")
_DEFINED = re.compile(r"^\s*(python[23]\d+)\s*=\s*(?:\(?\s*)?callPackage\b", re.M)
_INHERITED = re.compile(r"inherit\s*\(pythonInterpreters\)([^;]*);")


def interpreters_in_tarball(tarball: Path) -> frozenset[str]:
    """``pythonXY`` attributes a nixpkgs tarball defines (any compression tarfile reads)."""

    found: set[str] = set()
    try:
        with tarfile.open(tarball) as tf:
            for member in tf:
                rel = member.name.split("/", 1)[-1]
                if member.isfile() and rel in _INTERPRETER_FILES:
                    text = tf.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
                    found.update(_DEFINED.findall(text))
                    for names in _INHERITED.findall(text):
                        found.update(n for n in names.split() if re.fullmatch(r"python[23]\d+", n))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PinError(f"{tarball}: not a readable nixpkgs tarball ({exc})") from exc
    return frozenset(found)


@functools.cache
def interpreter_table() -> tuple[tuple[str, dt.date, frozenset[str]], ...]:
    """(release, release date, ``pythonXY`` attributes) of each NixOS release since 16.03,
    oldest first: whether the attribute exists, prereleases included (:func:`has_python`
    says which interpreters a pin should be chosen for)."""
    released = dict(RELEASES)
    rows = data.load_json("nixpkgs_pythons.json")["releases"]
    return tuple((str(r[0]), released[r[0]], frozenset(r[1])) for r in rows)


def interpreters_near(p: NixpkgsPin) -> tuple[frozenset[str], str]:
    """The interpreters the table allows a pin to have, and the releases that was read from.

    A release channel has its release's set. A nixos-unstable pin lies between releases:
    an interpreter no release within seven months of it has is not there.
    """
    table = interpreter_table()
    release = release_of_channel(p.channel)
    rows = [r for r in table if r[0] == release]
    if not rows:
        when = dt.datetime.fromtimestamp(p.last_modified, dt.timezone.utc).date()
        rows = [r for r in table if abs((r[1] - when).days) <= 213]
    if not rows:
        return frozenset(), "no release near it"
    return frozenset.union(*(r[2] for r in rows)), ", ".join(r[0] for r in rows)


def releases_with(attr: str) -> list[str]:
    """The NixOS releases whose nixpkgs has interpreter ``attr``, oldest first."""
    return [r[0] for r in interpreter_table() if attr in r[2]]
