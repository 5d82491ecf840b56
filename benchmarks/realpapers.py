"""Archive and validate real paper repositories, as a new user would, and tabulate the result.

    python benchmarks/realpapers.py [--papers DIR] [--only NAME ...] [--work DIR] [--json OUT]

For each paper folder under DIR (default ``../shared/realpapers`` beside the repository):
``reprokit archive PAPER -o WORK/NAME --date D`` with the paper's date as its README table
gives it, then ``reprokit validate WORK/NAME --rebuild pip --rerun --airgap``. A paper
passes when both exit 0. Otherwise the table shows the first ``error:`` line (or the
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

# The date of each paper, from the "paper's date" column of the papers' README: a full
# date where it gives one; the middle of the month or year it names otherwise.
DATES = {
    "ReScience-Archives__Viejo-Girard-Khamassi-2016": "2016-02-10",
    "ReScience-Archives__Shifman-2017": "2017-01-20",
    "ReScience-Archives__Hathway-Goodman-2018": "2018-08-03",
    "schackartk__t-junction_model_replication": "2023-04-14",
    "briandesilva__discovery-of-physics-from-data": "2020-07-01",
    "brian-team__brian2_paper_examples": "2019-07-11",
    "econ-ark__Aiyagari1994QJE": "2024-01-15",
    "anhornsby__coherent-representations": "2019-06-11",
    "weecology__mete-energy": "2013-08-15",
    "ReScience-Archives__Stollmeier-2017": "2017-08-23",
    "michael-nagel__dhs": "2024-02-14",
    "engeir__code-to-radiative-forcing-by-super-volcano-eruptions": "2025-02-24",
}


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
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    reprokit = [sys.executable, "-m", "reprokit"]
    rows = []
    for name, date in DATES.items():
        if args.only and not any(o in name for o in args.only):
            continue
        paper = args.papers / name
        out = args.work / name
        if not paper.is_dir():
            rows.append({"paper": name, "ok": False, "stage": "-", "reason": f"{paper} is missing", "seconds": 0})
            continue
        code, text, t_archive = run([*reprokit, "archive", str(paper), "-o", str(out), "--date", date, "--force", "--quiet"], args.timeout)
        (args.work / f"{name}.archive.log").parent.mkdir(parents=True, exist_ok=True)
        (args.work / f"{name}.archive.log").write_text(text)
        row = {"paper": name, "date": date, "archive_seconds": round(t_archive)}
        if code != 0:
            row.update(ok=False, stage="archive", reason=reason(text))
        else:
            code, text, t_validate = run([*reprokit, "validate", str(out), "--rebuild", "pip", "--rerun", "--airgap"], args.timeout)
            (args.work / f"{name}.validate.log").write_text(text)
            row.update(validate_seconds=round(t_validate), ok=code == 0, stage="validate", reason="" if code == 0 else reason(text))
        rows.append(row)
        print(f"{'PASS' if row['ok'] else 'FAIL'}  {name}  {row.get('stage')}  {row.get('reason', '')}", flush=True)
    print("\n| paper | date | result | archive s | validate s |\n|---|---|---|---|---|")
    for r in rows:
        result = "pass" if r["ok"] else f"{r['stage']}: {r['reason']}"
        print(f"| {r['paper']} | {r.get('date', '')} | {result} | {r.get('archive_seconds', '')} | {r.get('validate_seconds', '')} |")
    print(f"\n{sum(r['ok'] for r in rows)} of {len(rows)} pass")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
