#!/usr/bin/env python3
"""NAR hashing: ``reprokit hash`` against ``nix-hash --type sha256`` on the same trees.

Three trees, each made once under ``benchmarks/.work/``:

- ``nixpkgs``: the real nixpkgs tree of ``../shared/data/nixpkgs-28fce082.tar.xz``
  (about 22,000 files), unpacked;
- ``tiny``: 100,000 files of 1-200 bytes in 1,000 folders;
- ``mixed``: 12,000 files, about 400 MB: mostly small, some medium, a few large,
  executables and symlinks.

For each, both commands (reprokit installed from a wheel of this tree, as a user has it)
run as subprocesses with a warm page cache, alternating which
goes first, for ``--rounds`` rounds; every round checks they print the same hash. Prints
the medians and the ratio (target: at most 1.0x the time of nix-hash).

    python benchmarks/bench_nar.py [--rounds 5] [--trees nixpkgs,tiny,mixed]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import installed_reprokit, paired

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "nar-tree"
TARBALL = BENCH.parent.parent / "shared" / "data" / "nixpkgs-28fce082.tar.xz"


def unpacked_nixpkgs(tarball: Path) -> Path:
    root = BENCH / ".work" / "nar-nixpkgs"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        (root / "tree").mkdir(parents=True)
        subprocess.run(["tar", "-xJf", str(tarball), "-C", str(root / "tree"), "--strip-components=1"], check=True)
        (root / ".complete").write_text("")
    return root / "tree"


def tiny(files: int = 100_000) -> Path:
    root = BENCH / ".work" / "nar-tiny"
    if not (root / ".complete").exists() or (root / ".complete").read_text() != str(files):
        shutil.rmtree(root, ignore_errors=True)
        rng = random.Random(5)
        for i in range(files):
            d = root / "tree" / f"d{i % 1000:03d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i:06d}").write_bytes(rng.randbytes(rng.randint(1, 200)))
        (root / ".complete").write_text(str(files))
    return root / "tree"


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--trees", default="nixpkgs,tiny,mixed", help="which trees, comma-separated")
    ap.add_argument("--nixpkgs-tarball", type=Path, default=TARBALL)
    args = ap.parse_args()
    if not shutil.which("nix-hash"):
        print("nix-hash not found (apt-get install nix-bin)", file=sys.stderr)
        return 1
    makers = {"nixpkgs": lambda: unpacked_nixpkgs(args.nixpkgs_tarball), "tiny": tiny, "mixed": lambda: (build(WORK, 12000), WORK)[1]}
    for name in args.trees.split(","):
        tree = makers[name]()
        files = [p for p in tree.rglob("*") if p.is_file() and not p.is_symlink()]
        print(f"{name}: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.0f} MB ({tree})")
        result = paired([*installed_reprokit(), "hash", str(tree), "--format", "nix32"],
                        ["nix-hash", "--type", "sha256", "--base32", str(tree)], args.rounds, same=str.__eq__)
        print(f"{name}: " + result.line("reprokit hash", "nix-hash", "target <= 1.0x"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
