"""CSV and TSV compared cell by cell: the same shape and header, text cells equal, number
cells within the rule. Places are rows (as a spreadsheet counts them) and columns (by
header name where the first row is one); in a column of time stamps (:mod:`.clock`)
presence and type are compared, not the value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from reprokit.errors import InputError
from reprokit.outputs import clock
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Tally


def delimiter_for(path: str, text: str) -> str:
    if path.lower().endswith((".tsv", ".tab")):
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text, so not a CSV/TSV table") from None


def parse(text: str, where: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        return [row for row in reader if row]
    except csv.Error as exc:
        raise InputError(f"{where}:{reader.line_num}: not a readable table ({exc})") from None


def number(cell: str) -> float | None:
    s = cell.strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _is_header(row: list[str]) -> bool:
    return bool(row) and all(number(c) is None for c in row) and len(set(row)) == len(row)


def _columns(rows: list[list[str]]) -> tuple[list[str] | None, Any]:
    header = rows[0] if rows and _is_header(rows[0]) else None

    def column(j: int) -> str:
        return f"column {header[j]!r}" if header and j < len(header) else f"column {j + 1}"

    return header, column


def leaves(rows: list[list[str]]) -> Iterator[tuple[str, Any]]:
    """Every non-empty cell below the header with its column, numbers as numbers."""
    header, column = _columns(rows)
    for row in rows[1 if header else 0:]:
        for j, cell in enumerate(row):
            if cell.strip():
                yield column(j), number(cell) if number(cell) is not None else cell.strip()


def compare_rows(a: list[list[str]], b: list[list[str]], rule: Rule, tally: Tally) -> None:
    header, column = _columns(a)
    for i, (ra, rb) in enumerate(zip(a, b, strict=False), 1):
        if len(ra) != len(rb):
            tally.mismatch(f"row {i}", f"{len(ra)} cells", f"{len(rb)} cells", "rows differ in length")
            continue
        for j, (ca, cb) in enumerate(zip(ra, rb, strict=True)):
            xa, xb = number(ca), number(cb)
            if rule.stamps and (i > 1 or header is None) and column(j) in rule.stamps:
                va = xa if xa is not None else ca.strip()
                vb = xb if xb is not None else cb.strip()
                tally.compared += 1
                if (xa is None) != (xb is None) or not clock.looks_like_stamp(vb):
                    tally.mismatch(f"row {i}, {column(j)}", ca, cb, "a time stamp was recorded here")
                elif va != vb:
                    tally.note(f"{column(j)}: time stamps, compared by presence and type")
            elif xa is not None and xb is not None:
                tally.number(xa, xb, f"row {i}, {column(j)}", shown=(ca.strip(), cb.strip()))
            else:
                tally.compared += 1
                if ca.strip() != cb.strip():
                    tally.mismatch(f"row {i}, {column(j)}", ca, cb)
    if len(a) != len(b):
        tally.mismatch(f"row {min(len(a), len(b)) + 1}", f"{len(a)} rows", f"{len(b)} rows", "tables differ in length")


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> Tally:
    text_a = decode(recorded, f"{path} (recorded)")
    text_b = decode(rerun, f"{path} (rerun)")
    delimiter = delimiter_for(path, text_a)
    a = parse(text_a, f"{path} (recorded)", delimiter)
    b = parse(text_b, f"{path} (rerun)", delimiter)
    tally = Tally(rule)
    compare_rows(a, b, rule, tally)
    return tally
