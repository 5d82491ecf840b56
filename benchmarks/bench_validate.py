#!/usr/bin/env python3
"""Integrity check: ``reprokit validate BUNDLE`` against ``sha256sum -c SHA256SUMS``.

Two bundles of the sample paper, made once under ``benchmarks/.work/`` (PyPI or
reprokit's cache the first time): ``large``, with 450 MB of data files of several sizes,
and ``small``, with 20,000 data files of 100 bytes to 4 KB in 200 folders. For each,
``sha256sum --quiet -c SHA256SUMS`` and ``reprokit validate BUNDLE`` (integrity and
completeness, the default; reprokit installed from a wheel of this tree, as a user has
it) run as subprocesses with a warm page cache, alternating which
goes first, for ``--rounds`` rounds; both must pass every round. Prints the medians and
the ratio (target: at most 0.67x the time of sha256sum -c).

    python benchmarks/bench_validate.py [--rounds 5] [--bundles large,small]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from reprokit.archive import ArchiveSettings, archive

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import installed_reprokit, paired

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"


def large(paper: Path) -> None:
    rng = random.Random(7)
    block = rng.randbytes(1 << 20)
    for i, mb in enumerate([100] * 2 + [25] * 8 + [1] * 50):
        with open(paper / "data" / f"raw_{i:03d}.bin", "wb") as fh:
            for _ in range(mb):
                fh.write(block)


def small(paper: Path) -> None:
    rng = random.Random(11)
    for i in range(20_000):
        d = paper / "data" / "many" / f"d{i % 200:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"x{i:05d}.dat").write_bytes(rng.randbytes(rng.randint(100, 4096)))


def bundle(name: str, fill: Callable[[Path], None]) -> Path:
    out = WORK / f"validate-{name}-bundle"
    if (out / "SHA256SUMS").exists():
        return out
    paper = WORK / f"validate-{name}-paper"
    shutil.rmtree(paper, ignore_errors=True)
    shutil.copytree(ROOT / "sample_paper", paper, ignore=shutil.ignore_patterns("results", "__pycache__"))
    fill(paper)
    shutil.rmtree(out, ignore_errors=True)
    archive(ArchiveSettings(paper=paper, output=out, offline=True, record_outputs=False, quiet=True))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bundles", default="large,small", help="which bundles, comma-separated")
    args = ap.parse_args()
    for name in args.bundles.split(","):
        b = bundle(name, {"large": large, "small": small}[name])
        files = [p for p in b.rglob("*") if p.is_file()]
        print(f"{name}: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.0f} MB ({b})")
        result = paired([*installed_reprokit(), "validate", str(b)], ["sha256sum", "--quiet", "-c", "SHA256SUMS"], args.rounds, cwd=b)
        print(f"{name}: " + result.line("reprokit validate", "sha256sum -c", "target <= 0.67x"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
