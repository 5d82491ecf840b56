#!/usr/bin/env python3
"""NAR hashing benchmark: ``reprokit hash`` against ``nix-hash`` on the same large tree.

Builds (once, in ``benchmarks/.work/nar-tree``) a deterministic tree of 12,000 files and
about 400 MB: mostly small source-like files, some medium, a few large, executables and
symlinks, nested folders. Then alternates ``nix-hash --type sha256 --base32 TREE`` and
``reprokit hash TREE --format nix32`` for several rounds (warm page cache for both),
checks that they print the same hash, and reports median wall times and their ratio.

    python benchmarks/bench_nar.py [--rounds 5] [--files 12000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "nar-tree"


def build(root: Path, files: int) -> None:
    stamp = root / ".complete"
    if stamp.exists() and stamp.read_text() == str(files):
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(1)
    block = rng.randbytes(1 << 20)
    for i in range(files):
        d = root / f"d{i % 40:02d}" / f"s{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        r = rng.random()
        size = rng.randint(100, 8000) if r < 0.9 else rng.randint(20_000, 400_000) if r < 0.99 else rng.randint(2_000_000, 12_000_000)
        p = d / f"f{i:05d}.dat"
        with open(p, "wb") as fh:
            left = size
            while left:
                n = min(left, len(block))
                fh.write(block[:n])
                left -= n
        if i % 97 == 0:
            p.chmod(0o755)
        if i % 211 == 0:
            os.symlink(p.name, d / f"link{i:05d}")
    stamp.write_text(str(files))


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    return time.perf_counter() - start, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--files", type=int, default=12000)
    args = ap.parse_args()
    if not shutil.which("nix-hash"):
        print("nix-hash not found (apt-get install nix-bin)", file=sys.stderr)
        return 1
    build(WORK, args.files)
    size = sum(p.stat().st_size for p in WORK.rglob("*") if p.is_file() and not p.is_symlink())
    n = sum(1 for p in WORK.rglob("*") if p.is_file())
    print(f"tree: {n} files, {size / 1e6:.0f} MB")
    nix_t, ours_t = [], []
    timed(["nix-hash", "--type", "sha256", "--base32", str(WORK)])  # warm the page cache
    for _ in range(args.rounds):
        t1, h1 = timed(["nix-hash", "--type", "sha256", "--base32", str(WORK)])
        t2, h2 = timed([sys.executable, "-m", "reprokit", "hash", str(WORK), "--format", "nix32"])
        assert h1 == h2, (h1, h2)
        nix_t.append(t1)
        ours_t.append(t2)
        print(f"nix-hash {t1:.2f}s  reprokit {t2:.2f}s  ({h1})")
    def med(xs):
        return sorted(xs)[len(xs) // 2]
    print(f"\nmedian: nix-hash {med(nix_t):.2f}s, reprokit {med(ours_t):.2f}s, ratio {med(ours_t) / med(nix_t):.2f} (target <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
