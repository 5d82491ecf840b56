"""``reprokit.yaml``: the bundle's manifest, as typed data read and written here alone.

It says what the bundle holds and why: the paper, the target Python and platform, the
nixpkgs pin, every import and its distribution, every package with its provider and
artifacts, the entry points and their recorded outputs, and every file of ``paper/``.
:meth:`Manifest.from_dict` reads a document (format 1 or 2) after checking it against
``schemas/manifest.schema.json``; :meth:`Manifest.to_dict` writes it back, key for key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from reprokit import schemas
from reprokit.errors import InputError
from reprokit.nix.nixpkgs import NixpkgsPin
from reprokit.outputs.record import RecordedOutput
from reprokit.scan.entrypoints import EntryPoint

# 2: outputs carry their rule and what archive-time runs measured; format 1 still validates.
FORMAT: Final = 2
Format = Literal[1, 2]
SCHEMA = "manifest.schema.json"

ImportKind = Literal["stdlib", "local", "third-party"]
Provider = Literal["nixpkgs", "sdist", "wheel", "build"]
ArtifactKind = Literal["sdist", "wheel"]
Status = Literal["ran", "failed", "too-long"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Paper:
    name: str  # the bundle's name, [A-Za-z0-9._-]+
    title: str
    authors: tuple[str, ...]
    date: dt.date  # the paper's own date: versions are resolved as of it
    doi: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PythonTarget:
    version: str  # "X.Y"
    platform: str  # "x86_64-linux"
    source: str = ""  # where the version came from; "" in bundles made before it was recorded


@dataclass(frozen=True, kw_only=True, slots=True)
class Import:
    module: str
    kind: ImportKind
    optional: bool
    lazy: bool = False  # optional only because every use is lazy
    distribution: str | None
    files: tuple[str, ...]  # the paper's files that import it


@dataclass(frozen=True, kw_only=True, slots=True)
class Artifact:
    """A distribution file vendored in the bundle, with every digest people check it by."""

    path: str  # inside the bundle, e.g. vendor/wheels/x.whl
    kind: ArtifactKind
    url: str  # where it was downloaded from
    sha256: str
    sri: str
    nix32: str
    swhid: str
    size: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Package:
    name: str
    version: str
    provider: Provider  # what the Nix build installs it from
    why: str
    artifacts: tuple[Artifact, ...]
    build_with: tuple[str, ...] = ()  # name==version of the build tools that build its sdist
    build_undeclared: tuple[str, ...] = ()  # what its setup.py imports without declaring it: built unisolated


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildTool:
    name: str
    version: str
    why: str
    artifacts: tuple[Artifact, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildTools:
    """The tools that build the sdists (kept in vendor/build/); not part of the paper's environment."""

    date: str | None  # the upload cutoff they were chosen with
    note: str = ""
    packages: tuple[BuildTool, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Output:
    """An output an entry point wrote when the bundle was made."""

    recorded: RecordedOutput
    # The paper's own copy of this file, when the archive-time run wrote other bytes.
    paper_sha256: str | None = None

    def to_dict(self, format: Format = FORMAT) -> dict[str, Any]:
        # Format 1 recorded path and sha256 alone; what it reads as is no more than that.
        out: dict[str, Any] = {"path": self.recorded.path, "sha256": self.recorded.sha256} if format == 1 else self.recorded.to_dict()
        if self.paper_sha256 is not None:
            out["paper_sha256"] = self.paper_sha256
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordedEntryPoint:
    """An entry point as the bundle records it: how it runs, why it is one, and what it
    wrote (or why it failed) when the bundle was made."""

    entry_point: EntryPoint
    source: str = ""  # reprokit.toml, a README command, a Makefile, a main guard, a notebook
    status: Status = "ran"  # failed: a rerun is expected to fail too; too-long: stopped at the time budget
    error: str = ""  # why it failed (or was stopped) when the bundle was made
    outputs: tuple[Output, ...] = ()

    @property
    def name(self) -> str:
        return self.entry_point.name

    @property
    def path(self) -> str:
        return self.entry_point.path


@dataclass(frozen=True, kw_only=True, slots=True)
class PaperFile:
    path: str  # inside paper/
    sha256: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Manifest:
    format: Format  # the document's; FORMAT for a bundle being made
    tool_version: str  # the reprokit that made the bundle
    paper: Paper
    python: PythonTarget
    nixpkgs: NixpkgsPin | None  # None: a pip-only bundle
    imports: tuple[Import, ...]
    packages: tuple[Package, ...]
    build_tools: BuildTools | None = None  # None in bundles made before build tools were vendored
    python_path: tuple[str, ...] = ()  # folders of paper/ on sys.path when the entry points run
    run_timeout: int | None = None  # seconds each entry point was given when the bundle was made
    entry_points: tuple[RecordedEntryPoint, ...]
    paper_files: tuple[PaperFile, ...]

    @classmethod
    def from_dict(cls, data: Any, where: str = "reprokit.yaml") -> Manifest:
        """A manifest from its document (as YAML or JSON loads it), checked against the
        schema first. What format 1 lacks reads as its default: outputs compared by bytes,
        no build tools. A document that does not fit raises :class:`InputError` naming
        ``where`` and the place in it."""
        schemas.check(data, SCHEMA, where)
        paper = data["paper"]
        try:
            date = dt.date.fromisoformat(paper["date"])
        except ValueError:
            raise InputError(f"{where}: paper/date: {paper['date']!r} is not a date") from None
        python = data["python"]
        pin = data.get("nixpkgs")
        tools = data.get("build_tools")
        return cls(
            format=data["reprokit_manifest"],
            tool_version=data["tool"]["version"],
            paper=Paper(name=paper["name"], title=paper["title"], authors=tuple(paper["authors"]), date=date, doi=paper["doi"]),
            python=PythonTarget(version=python["version"], platform=python["platform"], source=python.get("source", "")),
            nixpkgs=None if pin is None else NixpkgsPin(
                channel=pin["channel"], rev=pin["rev"], last_modified=pin["lastModified"], nar_hash=pin["narHash"], url=pin["url"],
                source=pin["source"], note=pin.get("note", ""), requested=paper["date"]),  # pinned as of the paper's date
            imports=tuple(Import(module=i["module"], kind=i["kind"], optional=i["optional"], lazy=i.get("lazy", False),
                                 distribution=i["distribution"], files=tuple(i["files"])) for i in data["imports"]),
            packages=tuple(Package(name=p["name"], version=p["version"], provider=p["provider"], why=p["why"],
                                   artifacts=_artifacts(p["artifacts"]), build_with=tuple(p.get("build_with", ())),
                                   build_undeclared=tuple(p.get("build_undeclared", ())))
                           for p in data["packages"]),
            build_tools=None if tools is None else BuildTools(
                date=tools.get("date"), note=tools.get("note", ""),
                packages=tuple(BuildTool(name=t["name"], version=t["version"], why=t["why"], artifacts=_artifacts(t["artifacts"]))
                               for t in tools["packages"])),
            python_path=tuple(data.get("python_path", ())),
            run_timeout=data.get("run_timeout"),
            entry_points=tuple(_entry_point(e, f"{where}: entry_points/{n}") for n, e in enumerate(data["entry_points"])),
            paper_files=tuple(PaperFile(path=f["path"], sha256=f["sha256"]) for f in data["paper_files"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The document, keys in the order reprokit has always written them; what is
        optional appears only when set."""
        out: dict[str, Any] = {
            "reprokit_manifest": self.format,
            "tool": {"name": "reprokit", "version": self.tool_version},
            "paper": {"name": self.paper.name, "title": self.paper.title, "authors": list(self.paper.authors),
                      "date": self.paper.date.isoformat(), "doi": self.paper.doi},
            "python": {"version": self.python.version, "platform": self.python.platform,
                       **({"source": self.python.source} if self.python.source else {})},
        }
        if self.nixpkgs is not None:
            pin = self.nixpkgs
            out["nixpkgs"] = {"channel": pin.channel, "rev": pin.rev, "lastModified": pin.last_modified, "narHash": pin.nar_hash,
                              "url": pin.url, "source": pin.source, **({"note": pin.note} if pin.note else {})}
        out["imports"] = [{"module": i.module, "kind": i.kind, "optional": i.optional, "lazy": i.lazy, "distribution": i.distribution,
                           "files": list(i.files)} for i in self.imports]
        out["packages"] = [{"name": p.name, "version": p.version, "provider": p.provider, "why": p.why,
                            **({"build_with": list(p.build_with)} if p.build_with else {}),
                            **({"build_undeclared": list(p.build_undeclared)} if p.build_undeclared else {}),
                            "artifacts": _artifacts_dicts(p.artifacts)}
                           for p in self.packages]
        if self.build_tools is not None:
            out["build_tools"] = {"date": self.build_tools.date, "note": self.build_tools.note, "packages": [
                {"name": t.name, "version": t.version, "why": t.why, "artifacts": _artifacts_dicts(t.artifacts)}
                for t in self.build_tools.packages]}
        if self.python_path:
            out["python_path"] = list(self.python_path)
        if self.run_timeout is not None:
            out["run_timeout"] = self.run_timeout
        out["entry_points"] = [_entry_point_dict(e, self.format) for e in self.entry_points]
        out["paper_files"] = [{"path": f.path, "sha256": f.sha256} for f in self.paper_files]
        return out


def _artifacts(items: list[Mapping[str, Any]]) -> tuple[Artifact, ...]:
    return tuple(Artifact(path=a["path"], kind=a["kind"], url=a["url"], sha256=a["sha256"], sri=a["sri"], nix32=a["nix32"],
                          swhid=a["swhid"], size=a["size"]) for a in items)


def _artifacts_dicts(artifacts: tuple[Artifact, ...]) -> list[dict[str, Any]]:
    return [{"path": a.path, "kind": a.kind, "url": a.url, "sha256": a.sha256, "sri": a.sri, "nix32": a.nix32, "swhid": a.swhid,
             "size": a.size} for a in artifacts]


def _entry_point(e: Mapping[str, Any], where: str) -> RecordedEntryPoint:
    cwd = e.get("cwd")
    # The paper's top folder is written "."; EntryPoint says it with "" (None: its own folder).
    ep = EntryPoint(name=e["name"], kind=e["kind"], path=e["path"], args=tuple(e.get("args", ())), cwd="" if cwd == "." else cwd,
                    mkdirs=tuple(e.get("mkdirs", ())))
    outputs = tuple(Output(recorded=RecordedOutput.from_dict(o, f"{where}/outputs/{n}"), paper_sha256=o.get("paper_sha256"))
                    for n, o in enumerate(e["outputs"]))
    return RecordedEntryPoint(entry_point=ep, source=e.get("source", ""), status=e.get("status", "ran"), error=e.get("error", ""),
                              outputs=outputs)


def _entry_point_dict(e: RecordedEntryPoint, format: Format) -> dict[str, Any]:
    ep = e.entry_point
    out: dict[str, Any] = {"name": ep.name, "kind": ep.kind, "path": ep.path}
    if ep.args:
        out["args"] = list(ep.args)
    if ep.cwd is not None:
        out["cwd"] = ep.cwd or "."
    if e.source:
        out["source"] = e.source
    if ep.mkdirs:
        out["mkdirs"] = list(ep.mkdirs)
    if e.status != "ran":
        out["status"] = e.status
    if e.status != "ran" or e.error:
        out["error"] = e.error
    out["outputs"] = [o.to_dict(format) for o in e.outputs]
    return out


def render(manifest: Manifest) -> str:
    """The manifest's YAML text; a manifest that would not match the schema is refused."""
    data = manifest.to_dict()
    schemas.check(data, SCHEMA, "reprokit.yaml")
    return schemas.dump(data, f"reprokit manifest: what this bundle holds and how it was made. Schema: reprokit manifest format {manifest.format}.")


def read(path: Path) -> Manifest:
    return Manifest.from_dict(parse(schemas.read_text(path), path), str(path))


# reprokit writes paper_files last, a "- path: P" and "  sha256: H" line pair for every file
# of the paper: 20,000 files are 40,000 YAML scalars, nine tenths of the time a manifest
# takes to load. When the document ends in exactly that block, every path a plain scalar
# the YAML resolver reads as a string, the block is read by the expression below and
# the rest by the YAML parser; the result is the same document. Anything else (a quoted
# path, a comment, another key after it) is read by the YAML parser whole.
_PAPER_FILES = re.compile(r"^paper_files:\n((?:- path: [^\n]*\n  sha256: [0-9a-f]{64}\n)*)\Z", re.MULTILINE)
_PAPER_FILE = re.compile(r"- path: ([^\n]*)\n  sha256: ([0-9a-f]{64})\n")
# Plain scalars of these characters, not starting or ending with a space, are the same
# text in any YAML context; the resolver then says whether one reads as a string.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.+/()@=~%-](?:[A-Za-z0-9_.+/()@=~% -]*[A-Za-z0-9_.+/()@=~%-])?")


def parse(text: str, where: Path | str) -> Any:
    """The document of a manifest's text (not yet checked against the schema)."""
    # Anchors, aliases and directives (a %YAML 1.1 reads 'yes' as true) go the long way.
    long_way = "&" in text or "*" in text or text.startswith("%") or "\n%" in text
    block = None if long_way else _PAPER_FILES.search(text)
    rows = _plain_rows(block.group(1)) if block else None
    if block is None or rows is None:
        return schemas.parse_yaml(text, where)
    # The block becomes an empty list on its first line and a blank line for each of the
    # others, so that the YAML parser's line numbers stay those of the file and its
    # bounds on size count the same lines.
    data = schemas.parse_yaml(text[:block.start()] + "paper_files: []\n" + "\n" * (2 * len(rows)), where)
    if not isinstance(data, dict) or data.get("paper_files") != []:
        return schemas.parse_yaml(text, where)
    data["paper_files"] = [{"path": p, "sha256": h} for p, h in rows]
    return data


def _plain_rows(block: str) -> list[tuple[str, str]] | None:
    """The (path, sha256) pairs of a paper_files block, or None when a path is not a plain
    scalar that reads as a string."""
    rows = _PAPER_FILE.findall(block)
    is_str = schemas.plain_is_str
    for path, _ in rows:
        if not (_PLAIN_PATH.fullmatch(path) and is_str(path)):
            return None
    return rows
