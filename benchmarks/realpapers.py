"""Archive and validate real paper repositories, as a new user would, and tabulate the result.

    python benchmarks/realpapers.py [--papers DIR] [--only NAME ...] [--work DIR] [--json OUT]

For each paper folder under DIR (default ``../shared/realpapers`` beside the repository):
``reprokit archive PAPER -o WORK/NAME --date D`` with the paper's date as its README table
gives it (:func:`paper_dates`), then ``reprokit validate WORK/NAME --rebuild pip --rerun
--airgap --json``. A paper passes when both exit 0 and validate compared at least one
output ("ran, nothing to compare" is no pass). Otherwise the table shows the first ``error:`` line (or the
failed checks), which should name the real blocker; a traceback anywhere is reported
as such. Network: PyPI is used (warm or cold cache, as the machine has it); GitHub is
not reachable here, so nixpkgs pins come from reprokit's table.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def paper_dates(readme: Path) -> dict[str, str]:
    """Each paper's date from the "paper's date" column of the corpus README.

    The column starts with the date its source gives: a full date is taken as it is, a
    month as its 15th, a year as the full date the same cell gives for that year (a last
    commit) or else its 1st of July.
    """
    dates: dict[str, str] = {}
    header: list[str] = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
            continue
        if len(cells) != len(header) or not cells[0].startswith("`"):
            continue
        column = next(i for i, h in enumerate(header) if h.startswith("paper's date"))
        name, cell = cells[0].strip("`"), cells[column]
        if m := re.match(r"(\d{4})-(\d{2})-(\d{2})\b", cell):
            dates[name] = m.group(0)
        elif m := re.match(r"(\d{4})-(\d{2})\b", cell):
            dates[name] = f"{m.group(0)}-15"
        elif m := re.match(r"(\d{4})\b", cell):
            same_year = re.search(rf"\b{m.group(1)}-\d{{2}}-\d{{2}}\b", cell)
            dates[name] = same_year.group(0) if same_year else f"{m.group(1)}-07-01"
    return dates


def reason(out: str) -> str:
    """The line that says why a command failed; a traceback of reprokit's own (no
    ``error:`` line, a Python traceback) is reported as such."""
    errors = [ln[len("error: "):] for ln in out.splitlines() if ln.startswith("error: ")]
    if errors:
        return errors[0]
    if "Traceback (most recent call last)" in out:
        last = [ln for ln in out.splitlines() if ln.strip()][-1]
        return f"TRACEBACK: {last.strip()}"
    failed = [ln.strip() for ln in out.splitlines() if re.match(r"^\s+\w[\w-]*: ", ln)]
    return "; ".join(failed[:2]) if failed else (out.strip().splitlines() or ["(no output)"])[-1]


def phases(out: str) -> dict[str, float]:
    """Where an archive's time went, from the table ``archive --timings`` prints."""
    found: dict[str, float] = {}
    lines = out.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln == "time by phase:"), None)
    for ln in lines[start + 1:] if start is not None else []:
        m = re.match(r"^  (.+?)\s+([\d.]+)s(?:\s+\d+%)?$", ln)
        if not m:
            break
        if m.group(1) != "total":
            found[m.group(1)] = float(m.group(2))
    return found


# The columns of the phase table: each a phase, or the sum of those starting with it.
COLUMNS = (("scan+resolve", "scan and resolve"), ("build tools", "build tools"), ("pin", "nixpkgs pin"), ("vendor", "vendor"),
           ("environment", "environment"), ("runs", "run "), ("seal", "seal"), ("tarball", "tarball"))


def validate_summary(out: str) -> tuple[int, str]:
    """How many outputs validate compared, and its failed checks with their reasons,
    from its ``--json`` envelope (a traceback or an ``error:`` line when there is none)."""
    try:
        data = json.loads(out[out.index("{"):])
    except ValueError:
        return 0, reason(out)
    compared = sum(1 for v in data.get("outputs", []) if v.get("status") != "missing")
    failed = [f"{c['name']}: {c['reason']}" for c in data.get("checks", []) if c.get("status") != "passed"]
    return compared, "; ".join(failed)[:400]


# What a failure's one line names, as the issue counts them: a real blocker outside
# reprokit's reach, or not (then it is reprokit's to fix). First match wins.
BLOCKERS = (
    # A folder above the paper it writes into is where it keeps data it fetches (torchvision's
    # ../../mnist_data): what it reads from there is not in the repository.
    ("data absent", re.compile(r"data absent|No such file or directory|does not exist|not found\.|asked for keyboard input|"
                               r"it writes outside the paper \(\.\./", re.I)),
    ("no index has it", re.compile(r"no known distribution|no package index has|no version of|not on the index|from a repository or URL", re.I)),
    ("system library", re.compile(r"system library|missing C header|--rebuild nix|Nix input", re.I)),
    ("Python not installable", re.compile(r"no Python \d|cannot install Python|Python \d\.\d+ is not", re.I)),
    ("needs R or a service", re.compile(r"\bRscript\b|\brpy2\b|cluster is running|Connection refused|network", re.I)),
    ("too long to rerun here", re.compile(r"too long to rerun here", re.I)),
    ("benchmark time limit", re.compile(r"^timed out after \d+s$")),  # --timeout: the benchmark's, no verdict of reprokit's
)


def blocker(reason_line: str) -> str:
    """The kind of real blocker a failure's line names, or ``reprokit`` when it names none
    (a traceback, a resolver's or a build's error reprokit should have mended)."""
    if reason_line.startswith("TRACEBACK"):
        return "reprokit (traceback)"
    return next((kind for kind, pattern in BLOCKERS if pattern.search(reason_line)), "reprokit")


def run(cmd: list[str], timeout: int) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started
    except subprocess.TimeoutExpired:
        return -1, f"error: timed out after {timeout}s", time.monotonic() - started


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--papers", type=Path, default=ROOT.parent / "shared" / "realpapers")
    p.add_argument("--only", nargs="*", default=[])
    p.add_argument("--work", type=Path, default=Path("/tmp/reprokit-realpapers"))
    p.add_argument("--timeout", type=int, default=3600, help="seconds for each command")
    p.add_argument("--run-timeout", help="passed to archive and validate: each entry point's time budget (default: reprokit's)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    reprokit = [sys.executable, "-m", "reprokit"]
    rows = []
    dates = paper_dates(args.papers / "README.md")
    for name, date in dates.items():
        if args.only and not any(o in name for o in args.only):
            continue
        paper = args.papers / name
        out = args.work / name
        if not paper.is_dir():
            rows.append({"paper": name, "ok": False, "stage": "-", "reason": f"{paper} is missing", "seconds": 0})
            continue
        budget = ["--run-timeout", args.run_timeout] if args.run_timeout else []
        code, text, t_archive = run([*reprokit, "archive", str(paper), "-o", str(out), "--date", date, "--force", "--quiet", "--timings", *budget],
                                    args.timeout)
        (args.work / f"{name}.archive.log").parent.mkdir(parents=True, exist_ok=True)
        (args.work / f"{name}.archive.log").write_text(text)
        row = {"paper": name, "date": date, "archive_seconds": round(t_archive), "phases": phases(text)}
        if code != 0:
            row.update(ok=False, stage="archive", reason=reason(text))
        else:
            code, text, t_validate = run([*reprokit, "validate", str(out), "--rebuild", "pip", "--rerun", "--airgap", "--json", *budget],
                                         args.timeout)
            (args.work / f"{name}.validate.log").write_text(text)
            compared, why = validate_summary(text)
            row.update(validate_seconds=round(t_validate), outputs=compared, ok=code == 0 and compared > 0, stage="validate",
                       reason=why if code != 0 else "" if compared else "ran, nothing to compare")
        rows.append(row)
        print(f"{'PASS' if row['ok'] else 'FAIL'}  {name}  {row.get('stage')}  {row.get('reason', '')}", flush=True)
    print("\n| paper | date | result | blocker | outputs compared | archive s | validate s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        result = "pass" if r["ok"] else f"{r['stage']}: {r['reason']}"
        kind = "" if r["ok"] else blocker(r.get("reason", ""))
        print(f"| {r['paper']} | {r.get('date', '')} | {result} | {kind} | {r.get('outputs', '')} | {r.get('archive_seconds', '')} "
              f"| {r.get('validate_seconds', '')} |")
    failed = [blocker(r.get("reason", "")) for r in rows if not r["ok"]]
    real = sum(not k.startswith(("reprokit", "benchmark")) for k in failed)
    print(f"\n{sum(r['ok'] for r in rows)} of {len(rows)} pass; of the {len(failed)} failures, {real} name a real blocker, "
          f"{sum(k.startswith('reprokit') for k in failed)} are reprokit's, {failed.count('benchmark time limit')} ran out of --timeout")
    print("\nwhere each archive's time went (seconds):\n\n| paper | " + " | ".join(c for c, _ in COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
    for r in rows:
        if r.get("phases"):
            cells = [sum(v for k, v in r["phases"].items() if k.startswith(prefix)) for _, prefix in COLUMNS]
            print(f"| {r['paper']} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
