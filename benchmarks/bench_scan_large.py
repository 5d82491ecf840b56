#!/usr/bin/env python3
"""Scan a generated tree of 50,000 Python files: wall time and peak memory.

Writes (once) ``benchmarks/.work/scan-large`` with 50,000 small modules in 2,600 folders,
then runs ``reprokit scan`` on it ``--rounds`` times (warm page cache) under
``/usr/bin/time -v`` (when present) and prints the median wall time, the CPU time of the
scan and its workers, and the largest resident set size (target: under 5 s of wall time
on 2 cores).

    python benchmarks/bench_scan_large.py [--files 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
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
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    build(args.files)
    cmd = [sys.executable, "-m", "reprokit", "scan", str(WORK), "--no-installed"]
    timer = ["/usr/bin/time", "-f", "%U %S %M"] if Path("/usr/bin/time").exists() else []
    walls, cpus, peaks = [], [], []
    for i in range(args.rounds):
        start = time.perf_counter()
        proc = subprocess.run(timer + cmd, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - start)
        if timer:
            user, system, peak = proc.stderr.strip().splitlines()[-1].split()
            cpus.append(float(user) + float(system))
            peaks.append(int(peak))
        if i == 0:
            print(proc.stdout.splitlines()[0])
        print(f"  round {i + 1}: wall {walls[-1]:.1f}s" + (f", CPU {cpus[-1]:.1f}s" if cpus else ""))
    print(f"median wall {statistics.median(walls):.1f}s (target < 5 s on 2 cores)"
          + (f", median CPU {statistics.median(cpus):.1f}s, peak RSS {max(peaks) // 1024} MiB" if cpus else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
