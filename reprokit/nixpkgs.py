"""``reprokit pin``: the nixpkgs commit of a channel as of a date, with its narHash.

Online, GitHub's commits API names the channel's newest commit before the date and
reprokit hashes that commit's tarball itself. Offline (or when GitHub cannot be reached)
an embedded table of real, published pins answers instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import requests

from reprokit import data, hashes
from reprokit.errors import PinError, UsageError
from reprokit.fsutil import atomic_write_bytes

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


def stable_channel(date: dt.date) -> str:
    """The NixOS stable release current at ``date`` (YY.05 from June, YY.11 from December)."""
    if date.month >= 12:
        return f"nixos-{date.year % 100:02d}.11"
    if date.month >= 6:
        return f"nixos-{date.year % 100:02d}.05"
    return f"nixos-{(date.year - 1) % 100:02d}.11"


def _previous_stable(channel: str) -> str | None:
    m = re.fullmatch(r"nixos-(\d\d)\.(05|11)", channel)
    if not m:
        return None
    year, month = int(m.group(1)), m.group(2)
    return f"nixos-{year:02d}.05" if month == "11" else f"nixos-{year - 1:02d}.11"


@functools.cache
def embedded_pins() -> tuple[tuple[str, str, int, str, int], ...]:
    table = data.load_json("nixpkgs_pins.json")
    return tuple((str(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4])) for r in table["pins"])


def tarball_url(rev: str, archive: str = GITHUB_ARCHIVE) -> str:
    return f"{archive.rstrip('/')}/NixOS/nixpkgs/archive/{rev}.tar.gz"


def _end_of(date: dt.date) -> int:
    return int(dt.datetime(date.year, date.month, date.day, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp())


def pin_embedded(date: dt.date, channel: str) -> NixpkgsPin:
    """Newest embedded pin of ``channel`` at or before the end of ``date``."""
    limit = _end_of(date)
    tried: list[str] = []
    current: str | None = channel
    note = ""
    while current and len(tried) < 3:
        tried.append(current)
        rows = [r for r in embedded_pins() if r[0] == current and r[2] <= limit]
        if rows:
            ch, rev, last_modified, nar_hash, _ = max(rows, key=lambda r: r[2])
            if current != channel:
                note = f"no embedded pin of {channel} at or before {date}; used {current}"
            return NixpkgsPin(channel=ch, rev=rev, last_modified=last_modified, nar_hash=nar_hash, url=tarball_url(rev), source="embedded", requested=date.isoformat(), note=note)
        current = _previous_stable(current)
    known = sorted({r[0] for r in embedded_pins()})
    raise PinError(
        f"no embedded nixpkgs pin of {' or '.join(tried)} at or before {date}; "
        f"choose another --channel ({', '.join(k for k in known if not k.endswith('darwin'))[:400]}…) or pin online"
    )


def cache_root(cache_dir: Path | None = None) -> Path:
    if cache_dir:
        return cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reprokit"


def pin_github(settings: PinSettings, channel: str, session: requests.Session | None = None) -> NixpkgsPin:
    """Ask GitHub for the channel's commit as of the date, then hash its tarball."""
    session = session or requests.Session()
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "reprokit"}
    token = os.environ.get("GITHUB_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{settings.github_api.rstrip('/')}/repos/NixOS/nixpkgs/commits"
    until = dt.datetime.fromtimestamp(_end_of(settings.date), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    log.debug("GET %s?sha=%s&until=%s", url, channel, until)
    params: dict[str, str | int] = {"sha": channel, "until": until, "per_page": 1}
    r = session.get(url, params=params, headers=headers, timeout=settings.timeout)
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
    unpacked = hashes.unpacked_nar_sha256(tarball)
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
    log.debug("GET %s", url)
    with session.get(url, stream=True, timeout=settings.timeout) as r:
        r.raise_for_status()
        data = b"".join(r.iter_content(1 << 20))
    atomic_write_bytes(dest, data)
    return dest


def pin(settings: PinSettings) -> NixpkgsPin:
    channel = settings.channel or stable_channel(settings.date)
    if not re.fullmatch(r"[A-Za-z0-9._\-]+", channel):
        raise UsageError(f"--channel {channel!r} is not a branch name")
    if settings.offline:
        return pin_embedded(settings.date, channel)
    try:
        return pin_github(settings, channel)
    except (requests.ConnectionError, requests.Timeout) as exc:
        log.debug("GitHub unreachable (%s); using the embedded pins", exc.__class__.__name__)
        embedded = pin_embedded(settings.date, channel)
        return dataclasses.replace(embedded, note=(embedded.note + "; " if embedded.note else "") + "GitHub unreachable: embedded pin")
    except requests.HTTPError as exc:
        resp = exc.response
        raise PinError(f"GitHub answered {resp.status_code if resp is not None else '?'} for {resp.url if resp is not None else 'a request'}; try --offline") from exc


def render(p: NixpkgsPin) -> str:
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


_ATTR_LINE = re.compile(r"^  ([A-Za-z_][A-Za-z0-9_'-]*) = callPackage \.\./development/python-modules/([^ /]+)(?:/[^ ]*)? \{", re.M)
_VERSION = re.compile(r'^\s*version = "([^"$]+)";', re.M)


def python_versions(tarball: Path) -> dict[str, str]:
    """Python package attribute -> version in a nixpkgs tarball, read without unpacking it.

    Reads ``pkgs/top-level/python-packages.nix`` for ``attr = callPackage
    ../development/python-modules/DIR { }`` and each ``DIR/default.nix`` for a literal
    ``version = "…";``. Attributes whose version is computed are left out: reprokit then
    builds them from the vendored files instead of trusting a guess.
    """
    import tarfile

    listing = ""
    versions_by_dir: dict[str, str] = {}
    try:
        with tarfile.open(tarball) as tf:
            for member in tf:
                parts = member.name.split("/")
                if len(parts) < 3 or not member.isfile():
                    continue
                rel = "/".join(parts[1:])
                if rel == "pkgs/top-level/python-packages.nix":
                    listing = tf.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
                elif rel.startswith("pkgs/development/python-modules/") and rel.endswith("/default.nix") and rel.count("/") == 4:
                    text = tf.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
                    m = _VERSION.search(text)
                    if m:
                        versions_by_dir[parts[-2]] = m.group(1)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PinError(f"{tarball}: not a readable nixpkgs tarball ({exc})") from exc
    out: dict[str, str] = {}
    for attr, folder in _ATTR_LINE.findall(listing):
        if folder in versions_by_dir:
            out[attr] = versions_by_dir[folder]
    return out


def cached_tarball(rev: str, cache_dir: Path | None = None) -> Path | None:
    """The nixpkgs tarball of ``rev`` if an online pin (or a vendored bundle) left it in the cache."""
    path = cache_root(cache_dir) / "nixpkgs" / f"{rev}.tar.gz"
    return path if path.exists() else None


# CPython interpreters of a nixpkgs tree: defined by callPackage in the interpreters' file
# (2019 on) or in all-packages.nix (before), or inherited from pythonInterpreters.
_INTERPRETER_FILES = ("pkgs/development/interpreters/python/default.nix", "pkgs/top-level/all-packages.nix")
_DEFINED = re.compile(r"^\s*(python[23]\d+)\s*=\s*(?:\(?\s*)?callPackage\b", re.M)
_INHERITED = re.compile(r"inherit\s*\(pythonInterpreters\)([^;]*);")
_RELEASE = re.compile(r"(?<![\d.])(\d\d\.(?:03|05|09|11))(?![\d.])")


def interpreters_in_tarball(tarball: Path) -> frozenset[str]:
    """``pythonXY`` attributes a nixpkgs tarball defines (any compression tarfile reads)."""
    import tarfile

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
    """(release, release date, interpreters) of each NixOS release since 17.03, oldest first."""
    rows = data.load_json("nixpkgs_pythons.json")["releases"]
    return tuple((str(r[0]), dt.date.fromisoformat(r[1]), frozenset(r[2])) for r in rows)


def release_of(channel: str) -> str | None:
    """The NixOS release a channel follows (nixos-20.09, nixos-20.09-small, nixpkgs-20.09-darwin), or None."""
    m = _RELEASE.search(channel)
    return m.group(1) if m else None


def interpreters_near(p: NixpkgsPin) -> tuple[frozenset[str], str]:
    """The interpreters the table allows a pin to have, and the releases that was read from.

    A release channel has its release's set. A nixos-unstable pin lies between releases:
    an interpreter no release within seven months of it has is not there.
    """
    table = interpreter_table()
    release = release_of(p.channel)
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
