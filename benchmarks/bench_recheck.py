#!/usr/bin/env python3
"""recheck benchmark: 20 small bundles checked with 1 and with 2 Dask workers, beside a
plain loop of ``validate`` calls in one process.

Archives a small paper (one pure-Python dependency, a few seconds of its own work) into
``benchmarks/.work/recheck/`` once (needs PyPI the first time) and copies it into
``--bundles`` bundles. Each round runs the three ways in turn, alternating their order
from round to round, every check the default one (integrity, completeness, rebuild pip,
rerun), each recheck into a fresh history; then prints the medians and:

- speed-up: the 2-worker time over the 1-worker time (at most 0.6 expected on 2 cores);
- overhead per bundle: the 1-worker recheck's time beside the plain loop's, divided by
  the bundles (scheduler, history and progress; under 0.2 s expected).

    python benchmarks/bench_recheck.py [--bundles 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reprokit.archive import ArchiveSettings, archive
from reprokit.recheck import RecheckSettings, recheck
from reprokit.validate import ValidateSettings, validate

WORK = Path(__file__).resolve().parent / ".work" / "recheck"
PAPER = {
    "CITATION.cff": 'cff-version: 1.2.0\nmessage: "cite"\ntitle: "Benchmark paper"\nauthors:\n  - family-names: Doe\n    given-names: Jo\n'
                    'date-released: "2024-01-20"\n',
    "requirements.txt": "six==1.16.0\n",
    "run.py": "import json, os\nimport six\n\ndef primes(n):\n    sieve = bytearray([1]) * n\n    sieve[:2] = b'\\x00\\x00'\n"
              "    for i in range(2, int(n ** 0.5) + 1):\n        if sieve[i]:\n            sieve[i * i::i] = bytearray(len(sieve[i * i::i]))\n"
              "    return sum(sieve)\n\nif __name__ == '__main__':\n    os.makedirs('out', exist_ok=True)\n"
              "    json.dump({'six': six.__version__, 'primes': primes(3_000_000)}, open('out/result.json', 'w'))\n",
}


def make_bundles(n: int) -> list[Path]:
    base = WORK / "base"
    if not (base / "SHA256SUMS").is_file():
        paper = WORK / "paper"
        shutil.rmtree(paper, ignore_errors=True)
        for rel, text in PAPER.items():
            (paper / rel).parent.mkdir(parents=True, exist_ok=True)
            (paper / rel).write_text(text, encoding="utf-8")
        shutil.rmtree(base, ignore_errors=True)
        archive(ArchiveSettings(paper=paper, output=base, nix=False, quiet=True))
    shelf = WORK / f"shelf-{n}"
    if not shelf.is_dir():
        for i in range(n):
            shutil.copytree(base, shelf / f"bundle-{i:02d}")
    return sorted(p for p in shelf.iterdir() if p.is_dir())


def plain_loop(bundles: list[Path]) -> float:
    start = time.perf_counter()
    for b in bundles:
        if not validate(ValidateSettings(bundle=b, rebuild="pip", rerun=True)).ok:
            raise SystemExit(f"{b} did not pass")
    return time.perf_counter() - start


def rechecked(bundles: list[Path], workers: int) -> float:
    with tempfile.TemporaryDirectory(prefix="reprokit-bench-") as tmp:
        start = time.perf_counter()
        outcome = recheck(RecheckSettings(sources=tuple(str(b) for b in bundles), db=Path(tmp) / "history.sqlite", workers=workers))
        elapsed = time.perf_counter() - start
    if not outcome.ok:
        raise SystemExit(f"recheck with {workers} worker(s): not every bundle passed")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundles", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    bundles = make_bundles(args.bundles)
    ways: dict[str, Callable[[], float]] = {"plain validate loop": lambda: plain_loop(bundles),
                                            "recheck, 1 worker": lambda: rechecked(bundles, 1),
                                            "recheck, 2 workers": lambda: rechecked(bundles, 2)}
    times: dict[str, list[float]] = {name: [] for name in ways}
    print(f"{len(bundles)} bundles, {args.rounds} rounds, {dt.datetime.now():%Y-%m-%d %H:%M}", flush=True)
    for r in range(args.rounds):
        order = list(ways) if r % 2 == 0 else list(reversed(ways))
        for name in order:
            times[name].append(ways[name]())
            print(f"  round {r + 1}: {name:<20} {times[name][-1]:7.1f} s", flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    print()
    for name, m in med.items():
        print(f"{name:<20} median {m:7.1f} s  ({m / len(bundles):.2f} s per bundle)")
    ratio = med["recheck, 2 workers"] / med["recheck, 1 worker"]
    overhead = (med["recheck, 1 worker"] - med["plain validate loop"]) / len(bundles)
    print(f"2 workers / 1 worker: {ratio:.2f} (expected at most 0.60)")
    print(f"scheduler overhead per bundle, 1 worker beside the plain loop: {overhead:+.3f} s (expected under 0.2 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
