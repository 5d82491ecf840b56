"""``reprokit publish``: a verified bundle on Zenodo, with a DOI and CITATION.cff metadata.

From ``zenodo-client``, the project's Zenodo client, publish takes what it does: the token
lookup (``ZENODO_API_TOKEN``, ``ZENODO_SANDBOX_API_TOKEN`` or ``~/.config/zenodo.ini``,
through pystow), the sandbox switch and the URLs of the deposit API. reprokit keeps the
requests themselves (:class:`Deposits`), because zenodo-client's send the token as an
``access_token`` query parameter (where proxies, logs and error messages show it), do not
retry timeouts, 429 or 5xx, name each upload after its local file, sleep a second before
every action, and set a new version's version and date to today's. Its ``Metadata``
model is not used either: it wants a comma in every creator's name (an author that is a
consortium has none), defaults the version to today and the license to CC0, and has no
publication date or related identifiers.

Before anything is sent the bundle's integrity is checked, its CITATION.cff is checked
against the CFF 1.2.0 JSON Schema, and it is scanned for secrets. What was published is remembered in
``BUNDLE.zenodo.json`` so a re-run makes no duplicate and a changed bundle becomes a new
version.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reprokit import __version__, http, lazy
from reprokit.bundle import manifest, tarball
from reprokit.bundle.integrity import check_integrity, read_sums
from reprokit.bundle.manifest import Manifest
from reprokit.bundle.pack import epoch, write_tar
from reprokit.errors import PublishRefused, RetriesExhausted, UsageError, ZenodoError
from reprokit.fsutil import atomic_write_text, files_under, sha256_file
from reprokit.scan import citation, secrets

if TYPE_CHECKING:
    import requests
else:
    requests = lazy.module("requests")


@dataclass(frozen=True, kw_only=True, slots=True)
class PublishSettings:
    bundle: Path
    sandbox: bool = False
    zenodo_url: str | None = None
    new_version_of: str | None = None
    draft: bool = False
    dry_run: bool = False
    yes: bool = False
    token_env: str | None = None
    allow_secrets: tuple[str, ...] = ()
    allow_http: bool = False  # a plain-http Zenodo other than this machine
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Published:
    deposition_id: int
    doi: str
    concept_doi: str
    record_url: str
    state: str  # done | draft | unchanged | dry-run
    files: tuple[tuple[str, int, str], ...]  # name, size, sha256
    metadata: dict[str, Any]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"reprokit_publish": 1, "state": self.state, "deposition_id": self.deposition_id, "doi": self.doi,
                "concept_doi": self.concept_doi, "record_url": self.record_url,
                "files": [{"name": n, "size": s, "sha256": h} for n, s, h in self.files], "metadata": self.metadata,
                "notes": list(self.notes)}


def record_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".zenodo.json")


# --- metadata -----------------------------------------------------------------------

def metadata(cit: citation.Citation, man: Manifest, readme: str) -> dict[str, Any]:
    """Zenodo deposit metadata from CITATION.cff and the manifest."""
    creators = []
    for a in cit.authors:
        c: dict[str, str] = {"name": a.display}
        if a.orcid:
            c["orcid"] = a.orcid.rsplit("/", 1)[-1]
        if a.affiliation:
            c["affiliation"] = a.affiliation
        creators.append(c)
    description = cit.abstract.strip() or readme.split("\n## ", 1)[0].strip()
    related = []
    if cit.doi:
        related.append({"identifier": cit.doi, "relation": "isSupplementTo", "scheme": "doi", "resource_type": "publication-article"})
    if cit.repository_code:
        related.append({"identifier": cit.repository_code, "relation": "isDerivedFrom", "scheme": "url"})
    pin = man.nixpkgs
    notes = (f"Archived with reprokit {man.tool_version}: Python {man.python.version} on {man.python.platform}, "
             f"{len(man.packages)} packages vendored, " + (f"nixpkgs {pin.channel} rev {pin.rev} ({pin.nar_hash}). " if pin else "no Nix build. ")
             + "Verify with `python3 verify.py` or `sha256sum -c SHA256SUMS` inside the archive.")
    md: dict[str, Any] = {
        "upload_type": "software",
        "title": cit.title,
        "creators": creators,
        "description": description,
        "publication_date": (cit.date_released or man.paper.date).isoformat(),
        "access_right": "open",
        "notes": notes,
    }
    if cit.version:
        md["version"] = cit.version
    if cit.license:
        md["license"] = cit.license.lower()
    if cit.keywords:
        md["keywords"] = list(cit.keywords)
    if related:
        md["related_identifiers"] = related
    return md


# --- Zenodo ---------------------------------------------------------------------------

class Deposits:
    """The deposit API at zenodo-client's URLs (or the same layout on another instance),
    called with the token in a header, with retries, and with upload names chosen here."""

    def __init__(self, client: Any, *, base_url: str | None, timeout: float, retries: int, backoff: float) -> None:
        self.sandbox: bool = client.sandbox
        self.base: str = client.base
        self.depositions_base: str = client.depositions_base
        if base_url:
            self.base = instance_base(base_url)
            self.depositions_base = self.base + client.depositions_base.removeprefix(client.base)
        self.session = requests.Session()
        http.hide(client.access_token)  # no text from here on shows it, whatever a server echoes
        self.session.headers.update({"Authorization": f"Bearer {client.access_token}", "User-Agent": f"reprokit/{__version__}"})
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    def call(self, method: str, url: str, *, data: Any = None, json_body: Any = None, rewind: Callable[[], object] | None = None) -> dict[str, Any]:
        # URLs in Zenodo's answers (links.bucket, links.latest_draft) are followed only
        # on the host the user named: the token goes nowhere else.
        if origin(url) != origin(self.base):
            raise ZenodoError(f"Zenodo's answer sends {method} to {http.scrub_url(url)}, not to {http.scrub_url(self.base)}; "
                              "the token goes only to the Zenodo given, so nothing was sent there")
        try:
            r = http.send(self.session, method, url, retries=self.retries, backoff=self.backoff, rewind=rewind,
                          data=data, json=json_body, timeout=self.timeout)
        except RetriesExhausted as exc:
            raise ZenodoError(f"{method} {http.redact(url)}: Zenodo did not answer after {self.retries + 1} tries ({exc.reason})") from None
        except requests.RequestException as exc:  # its message may quote the request's headers: not shown
            raise ZenodoError(f"{method} {http.redact(url)}: the request could not be sent ({exc.__class__.__name__})") from None
        if r.status_code >= 400:
            raise explain(r, self.sandbox)
        try:
            body = r.json() if r.content else {}
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {"items": body}

    def create(self) -> dict[str, Any]:
        return self.call("POST", self.depositions_base, json_body={})

    def get(self, deposition_id: int | str) -> dict[str, Any]:
        return self.call("GET", f"{self.depositions_base}/{deposition_id}")

    def set_metadata(self, deposition_id: int | str, md: dict[str, Any]) -> dict[str, Any]:
        return self.call("PUT", f"{self.depositions_base}/{deposition_id}", json_body={"metadata": md})

    def upload(self, bucket: str, name: str, path: Path) -> dict[str, Any]:
        with open(path, "rb") as fh:
            return self.call("PUT", f"{bucket}/{name}", data=fh, rewind=lambda: fh.seek(0))

    def delete_file(self, deposition_id: int | str, file_id: str) -> None:
        self.call("DELETE", f"{self.depositions_base}/{deposition_id}/files/{file_id}")

    def publish(self, deposition_id: int | str) -> dict[str, Any]:
        return self.call("POST", f"{self.depositions_base}/{deposition_id}/actions/publish")

    def new_version(self, deposition_id: int | str) -> dict[str, Any]:
        return self.call("POST", f"{self.depositions_base}/{deposition_id}/actions/newversion")


def explain(r: requests.Response, sandbox: bool) -> ZenodoError:
    """An HTTP error as a message a person can act on; never with the token."""
    where = f"{r.request.method} {http.redact(r.url)}"
    try:
        body = r.json()
    except ValueError:
        body = {}
    message = body.get("message", "") if isinstance(body, dict) else ""
    if r.status_code == 401:
        env = "ZENODO_SANDBOX_API_TOKEN" if sandbox else "ZENODO_API_TOKEN"
        return ZenodoError(f"Zenodo refused the token (401) at {where}: it is missing, mistyped or revoked; set {env} or use --token-env VAR")
    if r.status_code == 403:
        other = "a production token on the sandbox" if sandbox else "a sandbox token on production Zenodo"
        return ZenodoError(f"Zenodo forbade {where} (403): the token lacks the deposit:write and deposit:actions scopes, or it is {other}")
    errors = body.get("errors") if isinstance(body, dict) else None
    if r.status_code == 400 and isinstance(errors, list) and errors:
        lines = []
        for e in errors:
            if isinstance(e, dict):
                msgs = e.get("messages") or [e.get("message", "")]
                lines.append(f"  {e.get('field', '?')}: {'; '.join(str(m) for m in msgs)}")
        return ZenodoError(http.redact("Zenodo rejected the deposit (400):\n" + "\n".join(lines)))
    return ZenodoError(f"Zenodo answered {r.status_code} at {where}" + (f": {http.redact(str(message))}" if message else ""))


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def instance_base(url: str) -> str:
    """The instance's base URL from ``--zenodo-url``: ``https://host[/prefix]``, or its API
    URL (ending in ``/api``), with or without a trailing slash."""
    base = url.rstrip("/")
    return base.removesuffix("/api")


def check_zenodo_url(url: str, allow_http: bool) -> None:
    """https, or plain http only to this machine or with --allow-http: the token travels
    in a header that anyone on the way could read."""
    scheme, host, _ = origin(url)
    if scheme == "https":
        return
    if scheme == "http" and (allow_http or host in ("localhost", "127.0.0.1", "::1")):
        return
    if scheme == "http":
        raise UsageError(f"--zenodo-url {http.scrub_url(url)}: plain http would send the token unencrypted; use https://, or pass --allow-http")
    raise UsageError(f"--zenodo-url {http.scrub_url(url)}: not an http(s) URL")


def _zenodo_client() -> Any:
    """zenodo-client, imported when a command talks to Zenodo: on import it makes a data
    folder in the user's home (pystow), which other commands (and a reviewer's validate,
    run as any user) must not."""
    import zenodo_client

    return zenodo_client


def find_token(settings: PublishSettings) -> str:
    """The token from ``--token-env VAR``, else where zenodo-client looks for it."""
    if settings.token_env:
        where = settings.token_env
        token = os.environ.get(where, "")
        if not token:
            raise UsageError(f"--token-env {where}: that variable is empty or unset")
    else:
        where = "ZENODO_SANDBOX_API_TOKEN" if settings.sandbox else "ZENODO_API_TOKEN"
        try:
            token = _zenodo_client().Zenodo(sandbox=settings.sandbox).access_token or ""
        except ValueError:  # pystow's ConfigError: nothing configured
            token = ""
        if not token:
            key = "sandbox_api_token" if settings.sandbox else "api_token"
            raise UsageError(f"no Zenodo token: set {where} (a personal access token with deposit:write and deposit:actions), "
                             f"or {key} in the [zenodo] section of ~/.config/zenodo.ini, or use --token-env VAR")
        if where not in os.environ:
            where = "the token in ~/.config/zenodo.ini"
    # Checked before any use: a stray newline or carriage return would end up in a header
    # error, and its message (with the token) in a traceback.
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise UsageError(f"{where}: the token holds a space or control character (a trailing newline or \\r?); remove it. Nothing was sent")
    return token


# --- the job --------------------------------------------------------------------------

def fresh_tarball(bundle: Path, name: str, date: dt.date) -> str:
    """Make ``BUNDLE.tar.gz`` hold what the (intact) folder holds: an existing one is kept
    only when its contents are the folder's; otherwise it is written anew, byte for byte
    what ``archive --tar`` writes. Returns a note when a stale one was replaced."""
    path = bundle.with_name(bundle.name + ".tar.gz")
    why = "it is missing"
    if path.is_file():
        listed, _ = read_sums(bundle)  # the integrity check just proved these are the files' digests
        digests = {rel: listed.get(rel) or sha256_file(bundle / rel) for rel in files_under(bundle)}
        why = tarball.differs(path, bundle, name, digests) or ""
        if not why:
            return ""
    write_tar(bundle, name, path, epoch(date))
    return "" if why == "it is missing" else f"{path} did not match the folder ({why}): wrote it anew from the folder"


def prepare(settings: PublishSettings) -> tuple[dict[str, Any], list[tuple[str, Path]], str, tuple[str, ...]]:
    """Checks, metadata, the files to upload and notes; sends nothing."""
    bundle = settings.bundle
    if not (bundle / "reprokit.yaml").is_file():
        raise UsageError(f"{bundle}: not a reprokit bundle (no reprokit.yaml)")
    integrity = check_integrity(bundle)
    if not integrity.ok:
        first = integrity.problems[0]
        raise PublishRefused(f"{bundle}: the bundle is corrupt ({first.path}: {first.message}); nothing was sent")
    found = [f for f in secrets.scan_path(bundle, settings.allow_secrets) if not f.path.startswith("vendor/")]
    if found:
        listing = "; ".join(f"{f.where} ({f.kind}: {f.masked})" for f in found[:5])
        raise PublishRefused(f"possible secrets in the bundle: {listing}; remove them, or pass --allow-secret PATH:LINE for each")
    cit_path = bundle / "CITATION.cff"
    if not cit_path.is_file():
        raise PublishRefused(f"{cit_path}: missing; Zenodo metadata comes from it")
    cit = citation.parse(cit_path.read_text(encoding="utf-8"), str(cit_path))
    problems = citation.problems(cit)
    if problems:
        raise PublishRefused(f"{cit_path} is not valid CFF 1.2.0: " + "; ".join(problems))
    man = manifest.read(bundle / "reprokit.yaml")
    md = metadata(cit, man, (bundle / "README.md").read_text(encoding="utf-8"))
    name = man.paper.name
    note = fresh_tarball(bundle, name, man.paper.date)
    packed = bundle.with_name(bundle.name + ".tar.gz")
    files = [(f"{name}.tar.gz", packed), ("README.md", bundle / "README.md"), ("CITATION.cff", cit_path)]
    return md, files, sha256_file(packed), (note,) if note else ()


def publish(settings: PublishSettings, confirm: Callable[[str], bool] | None = None) -> Published:
    md, files, bundle_sha, notes = prepare(settings)
    described = tuple((n, p.stat().st_size, sha256_file(p)) for n, p in files)
    if settings.dry_run:
        return Published(deposition_id=0, doi="", concept_doi="", record_url="", state="dry-run", files=described, metadata=md, notes=notes)
    if not settings.draft and not settings.yes and confirm is None:
        raise UsageError("publishing cannot be undone: pass --yes (or --draft to stop before publishing)")
    record_file = record_path(settings.bundle)
    previous = json.loads(record_file.read_text(encoding="utf-8")) if record_file.is_file() else None
    if previous and previous.get("bundle_sha256") == bundle_sha and previous.get("state") == "done" and not settings.new_version_of:
        return Published(deposition_id=previous["deposition_id"], doi=previous["doi"], concept_doi=previous["concept_doi"],
                         record_url=previous["record_url"], state="unchanged", files=described, metadata=md, notes=notes)
    parent = settings.new_version_of or (str(previous["deposition_id"]) if previous and previous.get("state") == "done" else None)
    if parent and previous and str(previous.get("deposition_id")) == str(parent) and previous.get("bundle_sha256") == bundle_sha:
        return Published(deposition_id=previous["deposition_id"], doi=previous["doi"], concept_doi=previous["concept_doi"],
                         record_url=previous["record_url"], state="unchanged", files=described, metadata=md, notes=notes)
    if settings.zenodo_url:
        check_zenodo_url(settings.zenodo_url, settings.allow_http)
    client = _zenodo_client().Zenodo(access_token=find_token(settings), sandbox=settings.sandbox)
    z = Deposits(client, base_url=settings.zenodo_url, timeout=settings.timeout, retries=settings.retries, backoff=settings.backoff)
    if previous and previous.get("state") == "draft" and not parent:
        deposition = z.get(previous["deposition_id"])
    elif parent:
        answer = z.new_version(parent)
        latest = answer.get("links", {}).get("latest_draft")
        if not latest:
            raise ZenodoError(f"Zenodo made no new version of deposition {parent}")
        deposition = z.call("GET", latest)
        for f in deposition.get("files", []):
            z.delete_file(deposition["id"], str(f["id"]))  # the previous version's files
    else:
        deposition = z.create()
    dep_id = deposition["id"]
    bucket = deposition["links"]["bucket"]
    for name, path in files:
        z.upload(bucket, name, path)
    z.set_metadata(dep_id, md)
    state = "draft"
    done = deposition
    if not settings.draft and (settings.yes or (confirm is not None and confirm(f"Publish deposition {dep_id} on {z.base}? This cannot be undone."))):
        done = z.publish(dep_id)
        state = "done"
    doi = done.get("doi") or (done.get("metadata", {}).get("prereserve_doi", {}) or {}).get("doi", "")
    result = Published(deposition_id=int(dep_id), doi=doi, concept_doi=done.get("conceptdoi", ""),
                       record_url=done.get("links", {}).get("record_html") or done.get("links", {}).get("html", ""),
                       state=state, files=described, metadata=md, notes=notes)
    atomic_write_text(record_file, json.dumps({
        "deposition_id": result.deposition_id, "doi": result.doi, "concept_doi": result.concept_doi, "record_url": result.record_url,
        "state": state, "bundle_sha256": bundle_sha, "zenodo": z.base,
    }, indent=2) + "\n")
    return result

