"""``reprokit archive``: a paper made into a bundle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reprokit.archive import ArchiveSettings, archive
from reprokit.cli.options import (
    CACHE_DIR,
    INDEX_URL,
    JSON,
    LOGGING,
    PYTHON,
    QUIET,
    Subparsers,
    duration,
    parse_date,
    print_json,
)
from reprokit.report import text as render
from reprokit.report.progress import Progress, lines


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "archive", parents=[LOGGING, JSON, PYTHON, INDEX_URL, CACHE_DIR, QUIET],
        help="turn a paper folder into a self-contained, verifiable bundle",
        description="Scan, lock, pin nixpkgs, vendor every artifact, record the outputs of the entry points in the "
        "rebuilt environment, and write a bundle (README, CITATION.cff, reprokit.yaml, SHA256SUMS, verify.py, flake, "
        "requirements.lock, pylock.toml, paper/, vendor/). The date is --date, else CITATION.cff's date-released, else the newest git "
        "commit; with none of these archive asks for --date (a bundle holds no wall-clock time). The target Python is "
        "--python, else what the paper says (a lock or environment file, .python-version, notebook metadata, a README, "
        "requires-python), else the newest CPython of the date with wheels for the locked packages.",
    )
    p.add_argument("paper", metavar="PAPER_DIR")
    p.add_argument("-o", "--output", metavar="OUT", help="bundle folder (default: PAPER_DIR's name + '-bundle')")
    p.add_argument("--date", type=parse_date, metavar="YYYY-MM-DD",
                   help="the paper's date: packages and nixpkgs as of it (default: CITATION.cff's date-released, else the newest git commit)")
    p.add_argument("--channel", metavar="CH", help="nixpkgs channel (default: the stable release current at the date)")
    p.add_argument("--no-nix", action="store_true", help="write a pip-only bundle: no flake and no nixpkgs pin")
    p.add_argument("--offline", action="store_true", help="pin nixpkgs from the embedded table only")
    p.add_argument("--no-wheels", action="store_true", help="vendor source archives only (wheels only where no sdist exists)")
    p.add_argument("--vendor-nixpkgs", action="store_true", help="also keep the pinned nixpkgs tarball in vendor/nixpkgs/ (needs an online pin)")
    p.add_argument("--record-outputs", action=argparse.BooleanOptionalAction, default=True,
                   help="rebuild and run the entry points to record their outputs (default: yes)")
    p.add_argument("--tar", action="store_true", help="also write OUT.tar.gz, byte-identical for identical inputs")
    p.add_argument("--force", action="store_true", help="replace an existing OUT")
    p.add_argument("--no-sandbox", action="store_true", help="record outputs without the sandbox (sdist builds and the paper run with your rights)")
    p.add_argument("--run-timeout", type=duration, metavar="TIME",
                   help="time each entry point may run, such as 90m or 2h (default: reprokit.toml's run-timeout, else 30m); "
                        "one that takes longer is recorded as too long to rerun here")
    p.add_argument("--timings", action="store_true", help="print the seconds each phase took (scan and resolve, build tools, "
                   "nixpkgs pin, vendor, environment, each run, seal, tarball); --json always has them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    paper = Path(args.paper)
    out = Path(args.output) if args.output else Path(f"{paper.resolve().name}-bundle")
    result = archive(ArchiveSettings(
        paper=paper, output=out, date=args.date, python=args.python, channel=args.channel, offline=args.offline,
        wheels=not args.no_wheels, nix=not args.no_nix, tar=args.tar, force=args.force, record_outputs=args.record_outputs, vendor_nixpkgs=args.vendor_nixpkgs,
        index_url=args.index_url, cache_dir=Path(args.cache_dir) if args.cache_dir else None, quiet=args.quiet,
        sandboxed=not args.no_sandbox, run_timeout=args.run_timeout,
        progress=None if args.quiet else lines(sys.stderr), downloads=None if args.quiet else Progress(sys.stderr),
    ))
    if args.json:
        print_json({"reprokit_archive": 1, "bundle": str(result.bundle), "tarball": str(result.tarball) if result.tarball else None,
                     "packages": result.packages, "paper_files": result.files, "recorded_outputs": result.outputs, "notes": list(result.notes),
                     "timings": dict(result.timings), "entry_points": [{"path": path, "status": status} for path, status in result.entry_points]})
    else:
        sys.stdout.write(render.archived(result, timings=args.timings))
    return 0
