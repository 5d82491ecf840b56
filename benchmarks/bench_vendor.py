#!/usr/bin/env python3
"""Vendoring benchmark: cold and warm ``reprokit vendor`` against ``pip download``.

Locks the sample paper (a closure of ~50 packages, sdists and wheels) as of its date,
then, in one run and on the same network:

1. ``pip download --no-deps --require-hashes -r requirements.lock`` into an empty folder
   with pip's cache off: bytes per second;
2. ``reprokit vendor`` with an empty cache (cold): bytes per second;
3. ``reprokit vendor`` again with that cache (warm): seconds and requests made.

    python benchmarks/bench_vendor.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reprokit.resolve import LockSettings, lock, pypi
from reprokit.resolve import lockfile as lock_mod
from reprokit.scan import ScanSettings, scan
from reprokit.vendor import VendorSettings, vendor

ROOT = Path(__file__).resolve().parent.parent


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    paper = ROOT / "sample_paper"
    locked = lock(scan(ScanSettings(path=paper, python="3.11")), LockSettings(date=dt.date(2024, 2, 15), python="3.11", index_url=pypi.DEFAULT_INDEX), root=paper)
    print(f"closure: {len(locked.packages)} packages")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        lock_mod.write(locked, tmp / "lock.yaml", tmp / "requirements.lock")
        pip_rates, cold_rates, warm_ratio = [], [], []
        for r in range(args.rounds):
            dest = tmp / f"pip{r}"
            env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_NO_CACHE_DIR": "1"}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes", "--index-url", pypi.DEFAULT_INDEX,
                            "-r", str(tmp / "requirements.lock"), "-d", str(dest)], check=True, env=env)
            pip_s = time.perf_counter() - start
            pip_rates.append(folder_bytes(dest) / pip_s)

            cache = tmp / f"cache{r}"
            client = pypi.Client()
            start = time.perf_counter()
            cold = vendor(locked, VendorSettings(output=tmp / f"cold{r}", cache_dir=cache, jobs=8), client)
            cold_s = time.perf_counter() - start
            cold_rates.append(folder_bytes(tmp / f"cold{r}") / cold_s)

            client = pypi.Client()
            start = time.perf_counter()
            warm = vendor(locked, VendorSettings(output=tmp / f"warm{r}", cache_dir=cache, jobs=8), client)
            warm_s = time.perf_counter() - start
            assert warm.requests == 0, warm.requests
            warm_ratio.append(warm_s / cold_s)
            print(f"round {r + 1}: pip download {folder_bytes(dest) / 1e6:.0f} MB in {pip_s:.2f}s; "
                  f"reprokit cold {folder_bytes(tmp / f'cold{r}') / 1e6:.0f} MB in {cold_s:.2f}s ({cold.requests} requests); "
                  f"warm {warm_s:.3f}s ({warm.requests} requests)")
            for d in (dest, tmp / f"cold{r}", tmp / f"warm{r}", cache):
                shutil.rmtree(d, ignore_errors=True)
        def med(xs):
            return sorted(xs)[len(xs) // 2]
        print(f"\nmedian throughput: pip download {med(pip_rates) / 1e6:.1f} MB/s, reprokit cold {med(cold_rates) / 1e6:.1f} MB/s "
              f"(ratio {med(cold_rates) / med(pip_rates):.2f})")
        print(f"median warm/cold time: {100 * med(warm_ratio):.2f}% (target < 5%), warm requests: 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
