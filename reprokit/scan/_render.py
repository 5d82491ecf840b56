"""What ``reprokit scan`` shows a person: the table of distributions, unresolved imports
and warnings. Kept apart from the scan, which returns data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprokit.render import counted

if TYPE_CHECKING:
    from reprokit.scan import ScanResult


def render_table(result: ScanResult) -> str:
    """The scan as a person reads it: distributions, unresolved imports, warnings."""
    out: list[str] = []
    n_third = sum(1 for i in result.imports if i.kind == "third-party")
    out.append(f"Scanned {counted(result.files_scanned, 'file')} under {result.root} for Python {result.python}"
               + (f" ({result.files_failed} could not be read)" if result.files_failed else ""))
    out.append(f"{counted(len(result.imports), 'module')} imported: "
               f"{sum(1 for i in result.imports if i.kind == 'stdlib')} stdlib, "
               f"{sum(1 for i in result.imports if i.kind == 'local')} local, {n_third} third-party")
    out.append("")
    if result.distributions:
        # "not declared" matters when the paper declares its requirements and forgot one.
        declares = bool(result.declared)
        rows = [("DISTRIBUTION", "IMPORTS", "FOUND BY", "NOTES")]
        for d in result.distributions:
            kind = "lazy" if d.lazy else "optional" if d.optional else ""
            notes = ", ".join(f for f in (kind, "not declared" if declares and not d.declared else "") if f)
            rows.append((d.name, ", ".join(d.imports) or "-", d.how, notes))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            out.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    else:
        out.append("No third-party distributions.")
    if result.unresolved:
        out.append("")
        out.append("Unresolved imports (no known distribution; declare them in requirements.txt):")
        for name in result.unresolved:
            locs = [loc for i in result.imports if i.kind == "third-party" and i.distribution is None and (i.top == name or i.module == name) for loc in i.locations]
            out.append(f"  {name}  ({', '.join(locs[:3])}{', …' if len(locs) > 3 else ''})")
    if result.warnings:
        out.append("")
        out.append(f"{len(result.warnings)} warning(s):")
        for w in result.warnings:
            out.append(f"  {w.path}{':' + str(w.line) if w.line else ''}: {w.message}")
    return "\n".join(out) + "\n"
