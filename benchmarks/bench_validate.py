#!/usr/bin/env python3
"""Integrity benchmark: ``reprokit validate`` against ``sha256sum -c SHA256SUMS``.

Archives the sample paper with 1.2 GB of extra data files (deterministic bytes, several
sizes) into ``benchmarks/.work/validate-bundle`` (once; needs PyPI the first time), then
alternates ``sha256sum --quiet -c SHA256SUMS`` and ``reprokit validate BUNDLE`` (integrity
and completeness) over several rounds with a warm page cache, and reports the medians and
the throughput ratio.

    python benchmarks/bench_validate.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from reprokit.archive import ArchiveSettings, archive

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"


def make_bundle() -> Path:
    bundle = WORK / "validate-bundle"
    if (bundle / "SHA256SUMS").exists():
        return bundle
    paper = WORK / "validate-paper"
    shutil.rmtree(paper, ignore_errors=True)
    shutil.copytree(ROOT / "sample_paper", paper, ignore=shutil.ignore_patterns("results", "__pycache__"))
    rng = random.Random(7)
    block = rng.randbytes(1 << 20)
    sizes = [300] * 2 + [100] * 3 + [25] * 8 + [1] * 100  # MB
    for i, mb in enumerate(sizes):
        with open(paper / "data" / f"raw_{i:03d}.bin", "wb") as fh:
            for _ in range(mb):
                fh.write(block)
    shutil.rmtree(bundle, ignore_errors=True)
    archive(ArchiveSettings(paper=paper, output=bundle, offline=True, record_outputs=False, quiet=True))
    return bundle


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    bundle = make_bundle()
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    print(f"bundle: {sum(1 for p in bundle.rglob('*') if p.is_file())} files, {size / 1e9:.2f} GB")
    timed(["sha256sum", "--quiet", "-c", "SHA256SUMS"], bundle)  # warm the page cache
    ours, theirs = [], []
    for _ in range(args.rounds):
        theirs.append(timed(["sha256sum", "--quiet", "-c", "SHA256SUMS"], bundle))
        ours.append(timed([sys.executable, "-m", "reprokit", "validate", str(bundle)], bundle))
        print(f"sha256sum -c {theirs[-1]:.2f}s  reprokit validate {ours[-1]:.2f}s")
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    print(f"\nmedian: sha256sum {size / med(theirs) / 1e6:.0f} MB/s, reprokit {size / med(ours) / 1e6:.0f} MB/s, "
          f"throughput ratio {med(theirs) / med(ours):.2f} (target >= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
