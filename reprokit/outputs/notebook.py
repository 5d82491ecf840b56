"""Notebooks compared cell by cell: each code cell's outputs in the rerun against the
outputs stored in the notebook, as nbval does but with tolerances. Text (results, stdout)
after the rule's sanitizers with numbers within the rule; figures as pixels; an error
where none was stored fails. stderr is never compared (warnings vary); stdout only when
the rule says ``streams``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from reprokit.errors import InputError
from reprokit.outputs import image, text
from reprokit.outputs.rule import Rule
from reprokit.outputs.verdict import Tally

_IMAGE_TYPES = ("image/png", "image/jpeg")
_TEXT_TYPES = ("text/plain", "text/markdown", "text/latex", "text/html", "application/json")


@dataclass(frozen=True, kw_only=True, slots=True)
class Output:
    kind: Literal["text", "image", "stdout", "error"]
    label: str  # "text/plain", "stdout", "image/png", "ValueError"
    value: str | bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class CodeCell:
    number: int  # among code cells, from 1 (as scan counts them)
    execution_count: int | None
    source: str
    outputs: tuple[Output, ...]

    @property
    def name(self) -> str:
        return f"cell {self.number}" + (f" (In [{self.execution_count}])" if self.execution_count is not None else "")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _outputs(raw: list[Any], where: str) -> tuple[Output, ...]:
    out: list[Output] = []
    for o in raw:
        if not isinstance(o, dict):
            raise InputError(f"{where}: an output is not a JSON object")
        t = o.get("output_type")
        if t == "stream":
            if o.get("name") != "stdout":
                continue
            if out and out[-1].kind == "stdout":  # a kernel may split one print into several messages
                out[-1] = Output(kind="stdout", label="stdout", value=str(out[-1].value) + _text(o.get("text", "")))
            else:
                out.append(Output(kind="stdout", label="stdout", value=_text(o.get("text", ""))))
        elif t in ("execute_result", "display_data", "pyout"):
            data = o.get("data", {})
            if not isinstance(data, dict):
                raise InputError(f"{where}: output data is not a mapping")
            img = next((m for m in _IMAGE_TYPES if m in data), None)
            if img:
                try:
                    out.append(Output(kind="image", label=img, value=base64.b64decode(_text(data[img]))))
                except (binascii.Error, ValueError):
                    raise InputError(f"{where}: {img} output is not base64") from None
                continue
            mime = next((m for m in _TEXT_TYPES if m in data), None)
            if mime:
                value = data[mime]
                out.append(Output(kind="text", label=mime, value=json.dumps(value, indent=1, sort_keys=True) if mime == "application/json" else _text(value)))
            elif "image/svg+xml" in data:
                out.append(Output(kind="text", label="image/svg+xml", value=_text(data["image/svg+xml"])))
        elif t in ("error", "pyerr"):
            out.append(Output(kind="error", label=str(o.get("ename", "error")), value=f"{o.get('ename', '')}: {o.get('evalue', '')}"))
    return tuple(out)


def code_cells(data: bytes, where: str) -> list[CodeCell]:
    """The code cells of a notebook (format 4, or 3 with its worksheets) with their outputs."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = f":{exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(f"{where}{line}: not a notebook (invalid JSON)") from None
    except RecursionError:
        raise InputError(f"{where}: not a notebook (nested deeper than can be read)") from None
    if not isinstance(nb, dict):
        raise InputError(f"{where}: not a notebook (no top-level object)")
    cells: Any
    if nb.get("nbformat") == 3:
        cells = [c for ws in nb.get("worksheets", []) for c in ws.get("cells", [])]
    else:
        cells = nb.get("cells")
    if not isinstance(cells, list):
        raise InputError(f"{where}: not a notebook (no cells)")
    out: list[CodeCell] = []
    for c in cells:
        if isinstance(c, dict) and c.get("cell_type") == "code":
            n = len(out) + 1
            raw = c.get("outputs", [])
            out.append(CodeCell(number=n, execution_count=c.get("execution_count", c.get("prompt_number")),
                                source=_text(c.get("source", c.get("input", ""))),
                                outputs=_outputs(raw if isinstance(raw, list) else [], f"{where}: cell {n}")))
    return out


def compare(path: str, recorded: bytes, rerun: bytes, rule: Rule) -> tuple[Tally, bytes | None]:
    a = code_cells(recorded, f"{path} (recorded)")
    b = code_cells(rerun, f"{path} (rerun)")
    tally = Tally(rule)
    diff: bytes | None = None
    if len(a) != len(b):
        tally.mismatch("code cells", str(len(a)), str(len(b)), "the notebooks have different cells")
    for ca, cb in zip(a, b, strict=False):
        name = ca.name
        if ca.source.strip() != cb.source.strip():
            tally.mismatch(f"{name} source", ca.source.strip().splitlines()[0] if ca.source.strip() else "", cb.source.strip().splitlines()[0] if cb.source.strip() else "",
                           "the code of the cell changed")
            continue
        oa = [o for o in ca.outputs if rule.streams or o.kind != "stdout"]
        ob = [o for o in cb.outputs if rule.streams or o.kind != "stdout"]
        for i, (x, y) in enumerate(zip(oa, ob, strict=False), 1):
            where = f"{name}, output {i}" if len(oa) > 1 else name
            if x.kind != y.kind or (x.kind == "image" and x.label != y.label):
                tally.mismatch(where, f"{x.label} output", f"{y.label} output" + (f" ({y.value!s})" if y.kind == "error" else ""))
            elif x.kind == "error":
                tally.compared += 1
                if x.value != y.value:
                    tally.mismatch(where, str(x.value), str(y.value), "a different error")
            elif x.kind == "image":
                assert isinstance(x.value, bytes) and isinstance(y.value, bytes)
                stats = image.compare_pixels(image.decode(x.value, f"{path}: {where} (recorded)"), image.decode(y.value, f"{path}: {where} (rerun)"),
                                             rule, tally, f"{where}, ")
                if stats is not None and stats.differing and diff is None:
                    diff = stats.diff_png
            else:
                prefix = f"{where}{' stdout' if x.kind == 'stdout' else ''}, "
                text.compare_lines(str(x.value), str(y.value), rule, tally, prefix)
        if len(oa) != len(ob):
            n = min(len(oa), len(ob))
            extra = (oa if len(oa) > len(ob) else ob)[n]
            shown = f"{extra.label} output" + (f" ({extra.value!s})" if extra.kind == "error" else "")
            tally.mismatch(f"{name}, output {n + 1}", shown if len(oa) > len(ob) else "(none)", shown if len(ob) > len(oa) else "(none)",
                           f"{len(oa)} outputs stored, {len(ob)} in the rerun")
    return tally, diff
