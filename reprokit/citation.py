"""The paper's CITATION.cff: what reprokit needs from it (title, authors, date, DOI).

Parsing is tolerant (a bundle is still made from a paper with a broken CITATION.cff);
:func:`problems` names what a CFF 1.2.0 validator would reject.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reprokit.errors import InputError

ORCID = re.compile(r"^https://orcid\.org/\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Author:
    family: str
    given: str = ""
    orcid: str = ""
    affiliation: str = ""
    name: str = ""  # an entity ("The X consortium")

    @property
    def display(self) -> str:
        if self.family:
            return f"{self.family}, {self.given}".rstrip(", ")
        return self.name


@dataclass(frozen=True, kw_only=True, slots=True)
class Citation:
    title: str = ""
    authors: tuple[Author, ...] = ()
    date_released: dt.date | None = None
    doi: str = ""
    version: str = ""
    license: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    repository_code: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def parse(text: str, path: str = "CITATION.cff") -> Citation:
    try:
        data = YAML(typ="safe").load(text)
    except Exception as exc:  # ruamel's several YAML error types
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise InputError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc.__class__.__name__)})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a CITATION.cff mapping")
    authors = []
    for a in data.get("authors") or []:
        if isinstance(a, dict):
            authors.append(Author(
                family=str(a.get("family-names", "") or ""), given=str(a.get("given-names", "") or ""),
                orcid=str(a.get("orcid", "") or ""), affiliation=str(a.get("affiliation", "") or ""), name=str(a.get("name", "") or ""),
            ))
    date = data.get("date-released")
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            date = None
    doi = str(data.get("doi") or "")
    for ident in data.get("identifiers") or []:
        if not doi and isinstance(ident, dict) and ident.get("type") == "doi":
            doi = str(ident.get("value", ""))
    pref = data.get("preferred-citation")
    if not doi and isinstance(pref, dict) and pref.get("doi"):
        doi = str(pref["doi"])
    return Citation(
        title=str(data.get("title") or ""), authors=tuple(authors), date_released=date if isinstance(date, dt.date) else None,
        doi=doi, version=str(data.get("version") or ""), license=str(data.get("license") or ""),
        abstract=str(data.get("abstract") or ""), keywords=tuple(str(k) for k in data.get("keywords") or []),
        repository_code=str(data.get("repository-code") or ""), raw=data,
    )


def read(paper: Path) -> Citation | None:
    path = paper / "CITATION.cff"
    if not path.is_file():
        return None
    return parse(path.read_text(encoding="utf-8"), str(path))


def problems(c: Citation) -> list[str]:
    """What CFF 1.2.0 requires and this file lacks, one message each."""
    out = []
    if c.raw.get("cff-version") != "1.2.0":
        out.append(f"cff-version is {c.raw.get('cff-version')!r}, expected '1.2.0'")
    if not c.raw.get("message"):
        out.append("message is missing")
    if not c.title:
        out.append("title is missing")
    if not c.authors:
        out.append("authors are missing")
    for i, a in enumerate(c.authors, 1):
        if not (a.family or a.name):
            out.append(f"author {i} has neither family-names nor name")
        if a.orcid and not ORCID.match(a.orcid):
            out.append(f"author {i}: orcid {a.orcid!r} is not a URL like https://orcid.org/0000-0000-0000-0000")
    raw_date = c.raw.get("date-released")
    if raw_date is not None and c.date_released is None:
        out.append(f"date-released {raw_date!r} is not a YYYY-MM-DD date")
    return out
