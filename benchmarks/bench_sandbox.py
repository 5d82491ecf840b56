#!/usr/bin/env python3
"""What the sandbox costs: the same work with and without it, both warm.

1. Start-up: ``true`` run through ``sandbox.run`` contained (bubblewrap) and with
   ``contained=False`` (the --no-sandbox path: same environment, limits and output
   handling, no bubblewrap), many times each, alternating.
2. The sample paper: ``validate --rebuild pip --rerun`` of its bundle with the sandbox and
   with --no-sandbox, alternating, after one warm-up run of each (page cache, pip's
   compiled files in the interpreter, bwrap binary). The bundle is made once in
   ``benchmarks/.work/sandbox-bundle`` (needs PyPI the first time).

    python benchmarks/bench_sandbox.py [--rounds 3] [--startup 50]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from reprokit import sandbox
from reprokit.archive import ArchiveSettings, archive
from reprokit.validate import ValidateSettings, validate

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"


def make_bundle() -> Path:
    bundle = WORK / "sandbox-bundle"
    if (bundle / "SHA256SUMS").exists():
        return bundle
    paper = WORK / "sandbox-paper"
    shutil.rmtree(paper, ignore_errors=True)
    shutil.copytree(ROOT / "sample_paper", paper, ignore=shutil.ignore_patterns("results", "__pycache__"))
    shutil.rmtree(bundle, ignore_errors=True)
    archive(ArchiveSettings(paper=paper, output=bundle, offline=True, record_outputs=True, quiet=True))
    return bundle


def startup(n: int) -> tuple[list[float], list[float]]:
    boxed, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for contained in (True, False):  # warm both paths once
            sandbox.run(["true"], cwd=work, writable=[work], contained=contained)
        for _ in range(n):
            for contained, into in ((True, boxed), (False, bare)):
                start = time.perf_counter()
                proc = sandbox.run(["true"], cwd=work, writable=[work], contained=contained)
                into.append(time.perf_counter() - start)
                assert proc.returncode == 0, proc.stderr
    return boxed, bare


def paper_run(bundle: Path, sandboxed: bool) -> float:
    start = time.perf_counter()
    report = validate(ValidateSettings(bundle=bundle, rebuild="pip", rerun=True, sandboxed=sandboxed))
    took = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"validate failed ({'sandbox' if sandboxed else 'no sandbox'}): "
                         + "; ".join(f"{c.name}: {p.message}" for c in report.checks for p in c.problems))
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="validate runs of each kind (default 3)")
    ap.add_argument("--startup", type=int, default=50, help="start-up runs of each kind (default 50)")
    args = ap.parse_args()
    why = sandbox.available()
    if why:
        raise SystemExit(f"no sandbox here: {why}")
    bwrap = sandbox.find_bwrap()
    print(f"bwrap {bwrap.path if bwrap else '?'} {'.'.join(map(str, bwrap.version)) if bwrap else ''}, Python {sys.version.split()[0]}")

    boxed, bare = startup(args.startup)
    mb, mu = statistics.median(boxed), statistics.median(bare)
    print(f"start-up ('true', {args.startup} runs each, warm): sandboxed median {mb * 1000:.1f} ms, "
          f"uncontained median {mu * 1000:.1f} ms, added {(mb - mu) * 1000:.1f} ms per run")

    bundle = make_bundle()
    paper_run(bundle, True)
    paper_run(bundle, False)
    with_box, without = [], []
    for _ in range(args.rounds):
        with_box.append(paper_run(bundle, True))
        without.append(paper_run(bundle, False))
        print(f"validate --rebuild pip --rerun: sandboxed {with_box[-1]:.2f}s  --no-sandbox {without[-1]:.2f}s")
    wb, wo = statistics.median(with_box), statistics.median(without)
    print(f"\nsample paper, median of {args.rounds} warm runs each: sandboxed {wb:.2f}s, --no-sandbox {wo:.2f}s, "
          f"added {wb - wo:+.2f}s ({(wb - wo) / wo * 100:+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
