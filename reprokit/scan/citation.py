"""The paper's CITATION.cff: what reprokit needs from it (title, authors, date, DOI).

Parsing is tolerant (a bundle is still made from a paper with a broken CITATION.cff);
:func:`problems` checks it against the official CFF 1.2.0 JSON Schema, shipped as
``reprokit/data/cff-1.2.0.schema.json`` (CC-BY-4.0, see the NOTICE beside it).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprokit import data as data_files
from reprokit import lazy, schemas
from reprokit.errors import InputError

if TYPE_CHECKING:
    import jsonschema
else:
    jsonschema = lazy.module("jsonschema")

SCHEMA = "cff-1.2.0.schema.json"


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
    data = schemas.parse_yaml(text, path)
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


@functools.cache
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(data_files.load_json(SCHEMA), format_checker=jsonschema.FormatChecker())


def _as_schema_sees_it(value: Any) -> Any:
    """YAML dates as strings, as the schema asks of validators (its ``date`` ``$comment``)."""
    if isinstance(value, dict):
        return {k: _as_schema_sees_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_schema_sees_it(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _closest(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """For an ``anyOf``/``oneOf`` failure (a person or an entity; a license or a list of
    them), the errors of the alternative it came nearest to: the one with fewest errors."""
    if not error.context:
        return [error]
    branches: dict[object, list[jsonschema.ValidationError]] = defaultdict(list)
    for sub in error.context:
        branches[sub.relative_schema_path[0]].append(sub)
    nearest = min(branches.values(), key=len)
    return [leaf for sub in nearest for leaf in _closest(sub)]


def _say(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(top)"
    if error.validator == "enum":
        what = f"{error.instance!r} is not one of the {len(error.validator_value)} values CFF 1.2.0 allows"
    else:
        what = error.message
    return f"{where}: {what if len(what) <= 200 else what[:197] + '...'}"


def problems(c: Citation) -> list[str]:
    """Where the file breaks the CFF 1.2.0 schema, each as ``path: what``
    (``authors/0/orcid: … does not match …``), sorted by path."""
    found: list[jsonschema.ValidationError] = []
    for error in _validator().iter_errors(_as_schema_sees_it(c.raw)):
        found += _closest(error)
    found.sort(key=lambda e: [f"{p:08d}" if isinstance(p, int) else str(p) for p in e.absolute_path])
    # A malformed date breaks both its pattern and its format: say it once.
    dated = {tuple(e.absolute_path) for e in found if e.validator == "format"}
    out = [_say(e) for e in found if not (e.validator == "pattern" and tuple(e.absolute_path) in dated)]
    return list(dict.fromkeys(out))
