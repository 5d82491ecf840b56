"""What ``reprokit recheck SOURCES...`` is asked to check, as a list of bundles: a bundle
folder, a bundle tarball, a folder of them, a text file listing any of these (one a
line, ``#`` comments, paths relative to the file), a Zenodo DOI or record URL, or every
record of a Zenodo community. Zenodo bundles are downloaded later (:mod:`.zenodo`), once
it is known which are still to check.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reprokit.errors import UsageError, ZenodoError
from reprokit.publish import instance_base
from reprokit.recheck import zenodo

MAX_LIST_LINES = 100_000
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """One bundle to check."""

    bundle_id: str  # the DOI (and file) of a Zenodo bundle, else its absolute path
    name: str  # a first name for it; the check replaces it with the paper's
    source: str  # as given (the DOI, the URL, the path, the list's line)
    path: Path | None = None  # on disk; None for a Zenodo file not yet downloaded
    doi: str | None = None
    remote: zenodo.RemoteFile | None = None
    base: str = ""  # the Zenodo instance of ``remote``
    error: str = ""  # why it cannot be had (a record gone): recorded as unavailable


def _is_tarball(path: Path) -> bool:
    if path.name.lower().endswith(zenodo.TARBALLS):
        return True
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _stem(name: str) -> str:
    for suffix in zenodo.TARBALLS:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _local(path: Path, source: str) -> Target:
    real = path.resolve()
    return Target(bundle_id=str(real), name=_stem(real.name), source=source, path=real, doi=_published_doi(real))


def _published_doi(path: Path) -> str | None:
    """The DOI ``reprokit publish`` recorded beside the bundle (``BUNDLE.zenodo.json``)."""
    folder = path if path.is_dir() else path.with_name(_stem(path.name))
    record = folder.with_name(folder.name + ".zenodo.json")
    try:
        doi = json.loads(record.read_text(encoding="utf-8")).get("doi")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return str(doi) if doi else None


def _folder(path: Path, source: str) -> list[Target]:
    if (path / "reprokit.yaml").is_file():
        return [_local(path, source)]
    found = [_local(p, str(p)) for p in sorted(path.iterdir())
             if (p.is_dir() and (p / "reprokit.yaml").is_file()) or (p.is_file() and p.name.lower().endswith(zenodo.TARBALLS))]
    if not found:
        raise UsageError(f"{path}: no bundle in it (a bundle folder holds reprokit.yaml; a bundle tarball ends in .tar.gz)")
    return found


def _record(records: zenodo.Records, record: zenodo.Record, source: str) -> list[Target]:
    bundles = record.bundles
    if not bundles:
        return []
    ident = record.doi or f"{records.base}/records/{record.id}"
    return [Target(bundle_id=ident if len(bundles) == 1 else f"{ident}/{f.key}", name=_stem(f.key), source=source, doi=record.doi,
                   remote=f, base=records.base) for f in bundles]


def gather(sources: Sequence[str], communities: Sequence[str] = (), *, zenodo_url: str = zenodo.DEFAULT_URL, allow_http: bool = False,
           say: Callable[[str], None] | None = None) -> list[Target]:
    """Every bundle the sources name, each once, in the order given."""
    note = say or (lambda line: None)
    clients: dict[str, zenodo.Records] = {}

    def records(base: str) -> zenodo.Records:
        if base not in clients:
            clients[base] = zenodo.Records(base, allow_http=allow_http)
        return clients[base]

    def one(text: str, relative_to: Path | None, in_list: bool) -> list[Target]:
        ref = zenodo.reference(text, zenodo_url)
        if ref is not None:
            base, record_id = ref
            client = records(base)
            try:
                record = client.record(record_id)
            except ZenodoError as exc:
                return [Target(bundle_id=text, name=text, source=text, error=str(exc))]
            found = _record(client, record, text)
            if not found:
                return [Target(bundle_id=record.doi or text, name=text, source=text, doi=record.doi,
                               error=f"{text}: the record holds no bundle tarball ({', '.join(f.key for f in record.files) or 'no files'})")]
            return found
        path = Path(text).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if path.is_dir():
            return _folder(path, text)
        if path.is_file():
            if _is_tarball(path):
                return [_local(path, text)]
            if in_list:
                raise UsageError(f"{path}: a list of bundles may name bundles and Zenodo records, not other lists")
            return listed(path)
        raise UsageError(f"{text}: no such bundle folder or tarball, list of bundles, Zenodo DOI or record URL")

    def listed(path: Path) -> list[Target]:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: not a readable list of bundles ({exc.__class__.__name__})") from None
        if len(lines) > MAX_LIST_LINES:
            raise UsageError(f"{path}: more than {MAX_LIST_LINES} lines")
        out: list[Target] = []
        for line in lines:
            entry = _COMMENT.sub("", line).strip()
            if entry:
                out += one(entry, path.parent, True)
        return out

    targets: list[Target] = []
    for text in sources:
        targets += one(text, None, False)
    for name in communities:
        client = records(instance_base(zenodo_url))
        try:
            found = client.community(name)
        except ZenodoError as exc:
            raise ZenodoError(f"--zenodo-community {name}: {exc}") from None
        with_bundles = [t for r in found for t in _record(client, r, f"community {name}: {r.doi or r.id}")]
        note(f"community {name}: {len(found)} records, {len(with_bundles)} bundle tarballs")
        targets += with_bundles
    unique: dict[str, Target] = {}
    for t in targets:
        unique.setdefault(t.bundle_id, t)
    return list(unique.values())
