#!/usr/bin/env python3
"""Scan a generated tree of 50,000 Python files: wall time and peak memory.

Writes (once) ``benchmarks/.work/scan-large`` with 50,000 small modules in 2,600 folders,
then runs ``reprokit scan`` on it under ``/usr/bin/time -v`` (when present) and prints the
wall time and maximum resident set size.

    python benchmarks/bench_scan_large.py [--files 50000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "scan-large"
MODULES = ["numpy", "pandas", "scipy.stats", "matplotlib.pyplot", "requests", "yaml", "sklearn.linear_model", "torch", "os", "json", "re"]


def build(n: int) -> None:
    stamp = WORK / ".complete"
    if stamp.exists() and stamp.read_text() == str(n):
        return
    shutil.rmtree(WORK, ignore_errors=True)
    rng = random.Random(3)
    for i in range(n):
        d = WORK / f"pkg{i % 200:03d}" / f"sub{i % 13}"
        d.mkdir(parents=True, exist_ok=True)
        body = [f"import {rng.choice(MODULES)}" for _ in range(5)] + [f"def f{j}(x):\n    return x * {j}\n" for j in range(20)]
        (d / f"m{i:05d}.py").write_text("\n".join(body))
    stamp.write_text(str(n))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50000)
    args = ap.parse_args()
    build(args.files)
    cmd = [sys.executable, "-m", "reprokit", "scan", str(WORK), "--no-installed"]
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    start = time.perf_counter()
    proc = subprocess.run(timer + cmd, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    peak = next((line.split(":")[-1].strip() for line in proc.stderr.splitlines() if "Maximum resident" in line), "?")
    print(proc.stdout.splitlines()[0])
    print(f"wall {elapsed:.1f}s, peak RSS of the main process {peak} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
