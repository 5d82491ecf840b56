"""The ten-year check as one self-contained HTML page (``reprokit recheck --report DIR``):
each bundle's status over time as a strip of runs, what changed between its last pass
and its first failure, the failures grouped by cause, and the totals of every run drawn
as an inline SVG chart. CSS inline, no script, nothing loaded from the network.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from reprokit.recheck.causes import Change, change, grouped
from reprokit.recheck.results import Result, Run, latest, names
from reprokit.report.html import CSS as REPORT_CSS
from reprokit.wording import counted

MAX_STRIP = 60  # runs shown in a bundle's strip (the newest)
_TONE = {"passed": "good", "failed": "bad", "killed-workers": "bad", "unavailable": "warn", "error": "warn"}
_WORDS = {"passed": "Passed", "failed": "Failed", "killed-workers": "Kills its worker", "unavailable": "Unavailable", "error": "Check crashed"}
_COLOURS = (("passed", "#1a7f37", "passed"), ("failed", "#b3261e", "failed"), ("other", "#bf8700", "unavailable, crashed or killed"))

CSS = REPORT_CSS + """
.strip { display: flex; gap: 3px; flex-wrap: wrap; align-items: center; }
.cell { width: 14px; height: 22px; border-radius: 3px; display: inline-block; border: 1px solid rgba(0,0,0,.08); }
.cell.passed { background: var(--good); }
.cell.failed, .cell.killed-workers { background: var(--bad); }
.cell.unavailable, .cell.error { background: #bf8700; }
.cell.absent { background: transparent; border: 1px dashed var(--line); }
.cell.bomb { box-shadow: inset 0 -6px 0 #f5a623; }
.plot { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.plot svg { display: block; width: 100%; height: auto; }
.legend { display: flex; gap: 18px; margin: 8px 0 0; padding: 0; list-style: none; font-size: .85rem; color: var(--muted); }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.causes { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; }
.cause { background: var(--paper); border: 1px solid var(--line); border-left: 5px solid var(--bad); border-radius: 10px; padding: 12px 16px; }
.cause h3 { display: flex; justify-content: space-between; gap: 8px; }
.cause .n { color: var(--bad); font-variant-numeric: tabular-nums; }
.cause ul { margin: 8px 0 0; padding-left: 18px; font-size: .88rem; }
.cause li { margin: 2px 0; }
.changed { margin: 6px 0 0; padding-left: 18px; font-size: .86rem; color: var(--ink); }
.small { font-size: .82rem; color: var(--muted); }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _day(stamp: str | None) -> str:
    return (stamp or "")[:10]


def chart(runs: Sequence[Run], results: Sequence[Result], width: int = 1040, height: int = 260) -> str:
    """Each run's bundles by status as a stacked bar, as an inline SVG."""
    shown = list(runs)[-MAX_STRIP:]
    counts = []
    for run in shown:
        mine = [r for r in results if r.run_id == run.id]
        passed = sum(r.status == "passed" for r in mine)
        failed = sum(r.status in ("failed", "killed-workers") for r in mine)
        counts.append((run, passed, failed, len(mine) - passed - failed))
    top = max([1, *(p + f + o for _, p, f, o in counts)])
    left, right, up, down = 44, 12, 14, 46
    plot_w, plot_h = width - left - right, height - up - down
    step = plot_w / max(1, len(counts))
    bar = min(48.0, step * 0.7)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="bundles by status in each run">']
    ticks = sorted({0, top, *range(0, top + 1, max(1, top // 4))})
    for t in ticks:
        y = up + plot_h - t / top * plot_h
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d1d9e0" stroke-width="1"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#59636e">{t}</text>')
    for i, (run, passed, failed, other) in enumerate(counts):
        x = left + i * step + (step - bar) / 2
        y = up + plot_h
        for (_, colour, label), n in zip(_COLOURS, (passed, failed, other), strict=True):
            if not n:
                continue
            h = n / top * plot_h
            y -= h
            out.append(f'<rect class="bar {label.split()[0].rstrip(",")}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                       f'fill="{colour}"><title>run {run.id}, {_day(run.started)}: {n} {label}</title></rect>')
        cx = x + bar / 2
        out.append(f'<text x="{cx:.1f}" y="{up + plot_h + 18}" text-anchor="middle" font-size="12" fill="#1f2328">run {run.id}</text>')
        out.append(f'<text x="{cx:.1f}" y="{up + plot_h + 34}" text-anchor="middle" font-size="11" fill="#59636e">{_e(_day(run.started)[5:])}</text>')
    out.append("</svg>")
    return "".join(out)


def _strip(runs: Sequence[Run], mine: Sequence[Result]) -> str:
    by_run = {r.run_id: r for r in mine}
    cells = []
    for run in list(runs)[-MAX_STRIP:]:
        r = by_run.get(run.id)
        if r is None:
            cells.append(f'<span class="cell absent" title="run {run.id}, {_day(run.started)}: not in this run"></span>')
            continue
        bomb = " bomb" if r.time_bombs else ""
        why = f" ({r.detail or next((s.name + ' ' + s.status for s in r.steps if s.status != 'passed'), '')})" if not r.ok else ""
        cells.append(f'<span class="cell {r.status}{bomb}" title="run {run.id}, {_e(_day(r.checked_at))}: {_e(_WORDS[r.status])}{_e(why)}"></span>')
    return '<div class="strip">' + "".join(cells) + "</div>"


def _change(c: Change) -> str:
    head = (f'Passed in run {c.last_pass.run_id} ({_e(_day(c.last_pass.checked_at))}); failed from run {c.first_failure.run_id} '
            f'({_e(_day(c.first_failure.checked_at))}):')
    items = [f"check <code>{_e(n)}</code>: {_e(a)} → <strong>{_e(b)}</strong>" for n, a, b in c.checks]
    items += [f"output <code>{_e(p)}</code>: {_e(a)} → <strong>{_e(b)}</strong>" for p, a, b in c.outputs]
    items += [f"{_e(what)}: {_e(a)} → {_e(b)}" for what, a, b in c.around]
    return f'<div class="small">{head}</div><ul class="changed">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def render(runs: Sequence[Run], results: Sequence[Result], *, generated: str, tool_version: str, source: str = "") -> str:
    """The dashboard of a history: ``runs`` and every result of them, oldest first."""
    now = latest(results)
    current = sorted(now.values(), key=lambda r: (r.ok, r.name))
    passing = sum(r.ok for r in current)
    bombs = sum(bool(r.time_bombs) for r in current)
    tone = "good" if current and passing == len(current) else "bad"
    title = "Ten-year check"
    verdict = (f"{passing} of {counted(len(current), 'bundle')} pass in their latest check" if current else "No rechecks recorded yet")
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}: {_e(verdict)}</title>',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<style>{CSS}</style></head><body>",
             '<header class="masthead"><div class="inner"><p class="eyebrow">reprokit · recheck</p>',
             f'<h1>{title}: which archived bundles still rebuild and rerun</h1><p class="meta"><span>{counted(len(now), "bundle")}</span>'
             f'<span>{counted(len(runs), "run")}' + (f", {_e(_day(runs[0].started))} to {_e(_day(runs[-1].started))}" if runs else "") + "</span>"
             f"<span>generated {_e(generated)} by reprokit {_e(tool_version)}</span>" + (f"<span>{_e(source)}</span>" if source else "") + "</p>",
             f'<div class="verdict {tone}"><div class="big">{"✓" if tone == "good" else "✗"}</div><p><strong>{_e(verdict)}</strong><br>'
             f"{len(current) - passing} failing now" + (f", {counted(bombs, 'time bomb')} found with the clock ahead" if bombs else "")
             + "</p></div></div></header><main>"]
    parts.append('<h2>Totals</h2><div class="plot">' + chart(runs, results) + '<ul class="legend">'
                 + "".join(f'<li><i style="background:{c}"></i>{_e(label)}</li>' for _, c, label in _COLOURS) + "</ul></div>")
    called = names(current)
    groups = grouped(current)
    parts.append("<h2>Why bundles fail now</h2>")
    if groups:
        parts.append('<div class="causes">')
        for label, found in groups:
            items = "".join(f"<li><strong>{_e(called[r.bundle_id])}</strong>: {_e(c.reason[:300])}</li>" for r, c in found)
            parts.append(f'<section class="cause"><h3><span>{_e(label)}</span><span class="n">{len(found)}</span></h3><ul>{items}</ul></section>')
        parts.append("</div>")
    else:
        parts.append('<p class="small">Nothing fails in the latest checks.</p>')
    parts.append('<h2>Bundles</h2><table class="bundles"><thead><tr><th>Bundle</th><th>Runs, oldest first</th><th>Latest</th>'
                 "<th>What changed</th></tr></thead><tbody>")
    for r in sorted(current, key=lambda r: (r.ok, called[r.bundle_id])):
        mine = [x for x in results if x.bundle_id == r.bundle_id]
        moved = change(mine)
        what = _change(moved) if moved else ("" if r.ok else '<span class="small">never passed in this history</span>')
        ident = f"DOI {r.doi}" if r.doi else r.bundle_id
        parts.append(f'<tr class="bundle {r.status}"><th>{_e(called[r.bundle_id])}<div class="small mono">{_e(ident)}</div></th><td>{_strip(runs, mine)}</td>'
                     f'<td><span class="pill {_TONE[r.status]}">{_e(_WORDS[r.status])}</span></td><td>{what}</td></tr>')
    parts.append("</tbody></table></main></body></html>")
    return "\n".join(parts) + "\n"
