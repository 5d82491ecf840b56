"""The reviewer's report as one self-contained HTML page: CSS inline, figures as data:
URIs, no script and no network. What people see of a validate run, in a browser.
"""

from __future__ import annotations

import base64
import html
from collections import Counter

from reprokit.checks import CheckResult
from reprokit.outputs.verdict import Difference, Verdict
from reprokit.validate.review import Badge, EntryPointResult, OutputView, Report

_ICONS = {"passed": "✓", "failed": "✗", "not-run": "–", "identical": "✓", "equivalent": "≈", "different": "✗", "missing": "✗",
          "varies": "~", "ran": "✓", "earned": "✓", "not-earned": "✗"}
_WORDS = {"passed": "Passed", "failed": "Failed", "not-run": "Not run", "identical": "Identical", "equivalent": "Equivalent",
          "different": "Different", "missing": "Missing", "varies": "Varies", "ran": "Ran"}
_TONE = {"passed": "good", "identical": "good", "equivalent": "good", "ran": "good", "failed": "bad", "different": "bad",
         "missing": "bad", "not-run": "warn", "varies": "warn"}

CSS = """
:root {
  --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --paper: #ffffff; --wash: #f6f8fa;
  --good: #1a7f37; --good-bg: #dafbe1; --bad: #b3261e; --bad-bg: #ffebe9; --warn: #7d4e00; --warn-bg: #fff8c5;
  --accent: #0b5cad;
}
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; background: var(--wash); color: var(--ink);
  font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 0 24px 48px; }
a { color: var(--accent); }
code, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em; }
h1, h2, h3 { line-height: 1.25; margin: 0; }
h2 { font-size: 1.3rem; margin: 40px 0 14px; }
h3 { font-size: 1.08rem; }
.masthead { background: var(--paper); border-bottom: 1px solid var(--line); }
.masthead .inner { max-width: 1120px; margin: 0 auto; padding: 32px 24px 26px; }
.eyebrow { text-transform: uppercase; letter-spacing: .08em; font-size: .78rem; color: var(--muted); margin: 0 0 8px; font-weight: 600; }
.masthead h1 { font-size: 1.9rem; max-width: 52rem; }
.authors { margin: 10px 0 4px; font-size: 1.05rem; }
.meta { margin: 0; color: var(--muted); font-size: .92rem; }
.meta span + span::before { content: "·"; margin: 0 .5em; color: var(--line); }
.verdict { margin: 28px 0 0; padding: 18px 22px; border-radius: 10px; border: 1px solid; display: flex; gap: 16px; align-items: center; }
.verdict.good { background: var(--good-bg); border-color: #9bd8aa; }
.verdict.bad { background: var(--bad-bg); border-color: #f3b2ad; }
.verdict .big { font-size: 1.9rem; width: 48px; height: 48px; border-radius: 50%; display: grid; place-items: center; color: #fff; flex: none; }
.verdict.good .big { background: var(--good); }
.verdict.bad .big { background: var(--bad); }
.verdict p { margin: 0; }
.verdict strong { font-size: 1.15rem; }
.badges { list-style: none; padding: 0; margin: 0; display: grid; grid-template-columns: repeat(3, 1fr); gap: 16px; }
.badge { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; border-top: 5px solid var(--line); }
.badge.earned { border-top-color: var(--good); }
.badge.not-earned { border-top-color: var(--bad); }
.badge .head { display: flex; align-items: center; gap: 10px; margin-bottom: 6px; }
.badge .seal { width: 30px; height: 30px; border-radius: 50%; display: grid; place-items: center; font-weight: 700; color: #fff; flex: none; }
.badge.earned .seal { background: var(--good); }
.badge.not-earned .seal { background: var(--bad); }
.badge h3 { font-size: 1rem; }
.badge .state { font-size: .8rem; font-weight: 700; text-transform: uppercase; letter-spacing: .05em; }
.badge.earned .state { color: var(--good); }
.badge.not-earned .state { color: var(--bad); }
.badge p { margin: 0; color: var(--ink); font-size: .92rem; }
table { width: 100%; border-collapse: collapse; background: var(--paper); border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
th, td { text-align: left; vertical-align: top; padding: 9px 12px; border-bottom: 1px solid var(--line); font-size: .93rem; }
thead th { background: var(--wash); font-weight: 600; color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
tbody th { font-weight: 600; }
tr:last-child td { border-bottom: none; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.pill { display: inline-flex; align-items: center; gap: .35em; padding: 1px 10px; border-radius: 999px; font-size: .82rem; font-weight: 600; white-space: nowrap; border: 1px solid transparent; }
.pill.good { color: var(--good); background: var(--good-bg); border-color: #9bd8aa; }
.pill.bad { color: var(--bad); background: var(--bad-bg); border-color: #f3b2ad; }
.pill.warn { color: var(--warn); background: var(--warn-bg); border-color: #e9d27a; }
details { margin-top: 6px; }
summary { cursor: pointer; color: var(--accent); font-size: .88rem; }
ul.evidence { margin: 6px 0 0; padding-left: 18px; font-size: .88rem; color: var(--muted); }
dl.facts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 0; }
dl.facts div { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
dt { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
dd { margin: 2px 0 0; font-size: 1.05rem; font-weight: 600; overflow-wrap: anywhere; }
.entry { background: var(--paper); border: 1px solid var(--line); border-radius: 12px; padding: 20px 22px; margin-bottom: 20px; }
.entry > header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 12px; margin-bottom: 4px; }
.entry .counts { color: var(--muted); font-size: .9rem; margin: 0 0 14px; }
.entry .why { margin: 6px 0 12px; color: var(--bad); }
.entry table { border-radius: 8px; }
.output { margin-top: 18px; padding-top: 16px; border-top: 1px dashed var(--line); }
.output h4 { margin: 0 0 4px; font-size: 1rem; }
.output .summary { margin: 0 0 10px; font-size: .93rem; }
.output .how { color: var(--muted); font-size: .85rem; margin: 0 0 10px; }
.trio { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; margin: 0; }
.trio figure { margin: 0; background: var(--wash); border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
.trio img { display: block; width: 100%; height: auto; background: #fff; image-rendering: auto; }
.trio figcaption { font-size: .8rem; color: var(--muted); margin-top: 6px; text-align: center; font-weight: 600; text-transform: uppercase; letter-spacing: .05em; }
.legend { font-size: .82rem; color: var(--muted); margin: 8px 0 0; }
.swatch { display: inline-block; width: .9em; height: .9em; border-radius: 2px; vertical-align: -1px; margin: 0 .3em 0 .8em; }
.numbers { margin-top: 8px; }
.numbers td { font-size: .88rem; }
footer { max-width: 1120px; margin: 0 auto; padding: 0 24px 40px; color: var(--muted); font-size: .85rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 820px) { .badges, .trio { grid-template-columns: 1fr; } dl.facts { grid-template-columns: repeat(2, 1fr); } }
@media print { body { background: #fff; } .entry, .badge, table { break-inside: avoid; } }
"""


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def pill(status: str, text: str | None = None) -> str:
    tone = _TONE.get(status, "warn")
    return f'<span class="pill {tone}"><span aria-hidden="true">{_ICONS.get(status, "•")}</span>{e(text or _WORDS.get(status, status))}</span>'


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} bytes"


def _data_uri(data: bytes, media: str) -> str:
    return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"


def _badge(b: Badge) -> str:
    state = "earned" if b.earned else "not-earned"
    return (f'<li class="badge {state}"><div class="head"><span class="seal" aria-hidden="true">{_ICONS[state]}</span>'
            f'<div><h3>{e(b.title)}</h3><span class="state">{"Earned" if b.earned else "Not earned"}</span></div></div>'
            f"<p>{e(b.reason)}</p></li>")


def _check_row(c: CheckResult) -> str:
    evidence = ""
    if c.evidence:
        items = "".join(f"<li>{'<code>' + e(ev.path) + '</code>: ' if ev.path else ''}{e(ev.message)}</li>" for ev in c.evidence[:50])
        more = f"<li>… and {len(c.evidence) - 50} more</li>" if len(c.evidence) > 50 else ""
        evidence = f"<details><summary>Evidence ({len(c.evidence)})</summary><ul class=\"evidence\">{items}{more}</ul></details>"
    return f"<tr><th scope=\"row\"><code>{e(c.name)}</code></th><td>{pill(c.status)}</td><td>{e(c.reason) or '—'}{evidence}</td></tr>"


def _measured(v: Verdict) -> str:
    if v.status == "identical":
        return "none (same bytes)"
    if v.status == "missing":
        return "—"
    if v.status in ("different", "varies") and v.failures:
        return e(v.failures[0].describe())
    w = v.worst_rel or v.worst_abs
    if w is not None and w.rel is not None:
        return f"worst rel <span class=\"mono\">{w.rel:.2g}</span> at {e(w.where)}"
    if w is not None and w.abs is not None:
        return f"worst colour difference <span class=\"mono\">{w.abs:.3f}</span> at {e(w.where)}"
    return e(v.notes[0] if v.notes else v.summary)


def _numbers_table(diffs: list[Difference], caption: str) -> str:
    notes = any(d.note for d in diffs)
    rows = "".join(
        f"<tr><td>{e(d.where)}</td><td class=\"num mono\">{e(d.recorded)}</td><td class=\"num mono\">{e(d.rerun)}</td>"
        f"<td class=\"num mono\">{'' if d.abs is None else f'{d.abs:.3g}'}</td><td class=\"num mono\">{'' if d.rel is None else f'{d.rel:.3g}'}</td>"
        + (f"<td>{e(d.note)}</td>" if notes else "") + "</tr>"
        for d in diffs
    )
    note_head = '<th scope="col">Note</th>' if notes else ""
    return (f'<table class="numbers"><caption class="sr-only">{e(caption)}</caption><thead><tr><th scope="col">Where</th>'
            f'<th scope="col">Recorded</th><th scope="col">Rerun</th><th scope="col">Abs. diff.</th><th scope="col">Rel. diff.</th>'
            f'{note_head}</tr></thead><tbody>{rows}</tbody></table>')


def _output_detail(o: OutputView) -> str:
    v = o.verdict
    shows_images = o.recorded_image is not None or o.rerun_image is not None
    diffs: list[Difference] = list(v.failures)
    for w in (v.worst_rel, v.worst_abs):
        if w is not None and w not in diffs and v.status == "equivalent":
            diffs.append(w)
    if not shows_images and not diffs and v.status != "missing":
        return ""
    parts = [f'<div class="output"><h4><code>{e(v.path)}</code> {pill(v.status)}</h4>', f'<p class="summary">{e(v.summary)}</p>',
             f'<p class="how">Compared by {e(v.method)}; rule: {e(v.rule.describe())}.</p>']
    if shows_images:
        cells = []
        for label, data, media in (("Recorded", o.recorded_image, o.media), ("Rerun", o.rerun_image, o.media), ("Difference", v.diff_image, "image/png")):
            if data is None:
                text = "same pixels: nothing to mark" if label == "Difference" else "not available"
                cells.append(f'<figure><div class="mono" style="padding:24px 8px;text-align:center">{e(text)}</div><figcaption>{label}</figcaption></figure>')
            else:
                alt = f"{label} {v.path}" if label != "Difference" else f"Where {v.path} differs: red pixels changed, amber pixels moved by anti-aliasing"
                cells.append(f'<figure><img src="{_data_uri(data, media)}" alt="{e(alt)}"><figcaption>{label}</figcaption></figure>')
        parts.append(f'<div class="trio">{"".join(cells)}</div>')
        if v.diff_image is not None:
            parts.append('<p class="legend">In the difference:<span class="swatch" style="background:#dc143c"></span>changed'
                         '<span class="swatch" style="background:#f5aa00"></span>an edge moved by anti-aliasing</p>')
    for note in v.notes:
        parts.append(f'<p class="how">{e(note)}</p>')
    if diffs:
        title = "Where it differs" if v.status in ("different", "varies") else "Largest differences measured"
        more = f" ({v.failed} places in all, the first {len(v.failures)} shown)" if v.failed > len(v.failures) else ""
        table = _numbers_table(diffs, f"{title} in {v.path}")
        parts.append(f"<details{' open' if v.status == 'different' else ''}><summary>{title}{e(more)}</summary>{table}</details>")
    parts.append("</div>")
    return "".join(parts)


def _likenesses(ep: EntryPointResult) -> str:
    """The paper's committed figures beside the figures the rerun showed most like them."""
    if not ep.likenesses:
        return ""
    parts = ['<div class="output"><h4>The paper\'s own figures beside what the rerun showed</h4>',
             '<p class="how">Informative: nothing says they are the same figure, so this fails no check. Each figure the rerun '
             'showed (plt.show()) is put beside the committed figure most like it.</p>']
    for x in ep.likenesses:
        parts.append(f'<p class="summary"><code>{e(x.committed)}</code> beside <code>{e(x.shown)}</code>: '
                     f'<span class="mono">{x.differing:.1%}</span> of its pixels differ</p>')
        cells = [f'<figure><img src="{_data_uri(x.committed_image, _media(x.committed))}" alt="{e("Committed " + x.committed)}">'
                 f'<figcaption>Committed</figcaption></figure>',
                 f'<figure><img src="{_data_uri(x.shown_image, "image/png")}" alt="{e("Shown by the rerun: " + x.shown)}">'
                 f'<figcaption>Shown by the rerun</figcaption></figure>']
        parts.append(f'<div class="trio">{"".join(cells)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _media(path: str) -> str:
    return "image/jpeg" if path.lower().endswith((".jpg", ".jpeg")) else "image/png"


def _entry(ep: EntryPointResult) -> str:
    counts: Counter[str] = Counter(o.verdict.status for o in ep.outputs)
    order = ("identical", "equivalent", "varies", "different", "missing")
    count_text = " · ".join(f"{counts[s]} {s}" for s in order if counts[s]) or "no recorded outputs"
    rows = "".join(
        f"<tr><td><code>{e(o.path)}</code></td><td>{e(o.verdict.rule.describe())}</td><td>{pill(o.verdict.status)}</td><td>{_measured(o.verdict)}</td></tr>"
        for o in ep.outputs
    )
    table = (f'<table><caption class="sr-only">Outputs of {e(ep.path)}</caption><thead><tr><th scope="col">Output</th><th scope="col">Rule</th>'
             f'<th scope="col">Verdict</th><th scope="col">Measured difference</th></tr></thead><tbody>{rows}</tbody></table>') if rows else ""
    why = f'<p class="why">{e(ep.message)}</p>' if ep.message else ""
    details = "".join(_output_detail(o) for o in ep.outputs) + _likenesses(ep)
    return (f'<article class="entry" aria-labelledby="ep-{e(ep.name)}"><header><h3 id="ep-{e(ep.name)}"><code>{e(ep.path)}</code></h3>'
            f"{pill(ep.status)}<span class=\"how\">{e(ep.kind)}</span></header>{why}<p class=\"counts\">{e(count_text)}</p>{table}{details}</article>")


def render(report: Report) -> str:
    p, h, outcome = report.paper, report.holdings, report.outcome
    title = p.title or p.name or report.bundle
    meta = []
    if p.doi:
        meta.append(f'<span>DOI <a href="https://doi.org/{e(p.doi)}">{e(p.doi)}</a></span>')
    if p.date:
        meta.append(f"<span>dated {e(p.date)}</span>")
    meta.append(f"<span>bundle <code>{e(report.bundle)}</code></span>")
    tone = "good" if outcome.ok else "bad"
    headline = "Every requested check ran and passed" if outcome.ok else f"{len(outcome.failures)} of the checks did not pass"
    facts = [("Paper files", str(h.files)), ("Bundle size", _size(h.size_bytes)), ("Locked packages", str(h.packages)),
             ("Python", f"{h.python} · {h.platform}"), ("nixpkgs", h.nixpkgs), ("Entry points", str(h.entry_points)),
             ("Recorded outputs", str(h.recorded_outputs)), ("Archive record", h.archive_record or "none")]
    facts_html = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in facts)
    checks = "".join(_check_row(c) for c in outcome.checks) + "".join(
        _check_row(c) for c in outcome.failures if c not in outcome.checks)
    entries = "".join(_entry(ep) for ep in report.entry_points) or "<p>No entry point was rerun (validate --rerun).</p>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="reprokit {e(report.tool_version)}">
<title>Artifact report: {e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header class="masthead"><div class="inner">
<p class="eyebrow">Artifact evaluation report</p>
<h1>{e(title)}</h1>
<p class="authors">{e(" · ".join(p.authors)) if p.authors else "Authors not recorded"}</p>
<p class="meta">{"".join(meta)}</p>
</div></header>
<main>
<section class="verdict {tone}" role="status" aria-live="polite">
<span class="big" aria-hidden="true">{"✓" if outcome.ok else "✗"}</span>
<p><strong>{e(headline)}</strong><br>{e(outcome.verdict_line())} · exit status {outcome.exit_status}</p>
</section>
<section aria-labelledby="badges-h"><h2 id="badges-h">ACM artifact badges</h2>
<ul class="badges">{"".join(_badge(b) for b in report.badges)}</ul>
</section>
<section aria-labelledby="checks-h"><h2 id="checks-h">Checks</h2>
<table><caption class="sr-only">Each check, its result and the reason</caption>
<thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">Reason and evidence</th></tr></thead>
<tbody>{checks}</tbody></table>
</section>
<section aria-labelledby="holds-h"><h2 id="holds-h">What the bundle holds</h2><dl class="facts">{facts_html}</dl></section>
<section aria-labelledby="eps-h"><h2 id="eps-h">Entry points and their outputs</h2>{entries}</section>
</main>
<footer>Made by reprokit {e(report.tool_version)} on {e(report.generated)}. This page is one self-contained file: its styles and
figures are inside it, and it loads nothing from the network.</footer>
</body>
</html>
"""
