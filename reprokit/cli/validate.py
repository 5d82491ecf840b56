"""``reprokit validate``: a bundle checked, rebuilt and rerun."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reprokit import sandbox
from reprokit.bundle import tarball
from reprokit.cli.options import JSON, LOGGING, Subparsers, duration, positive, print_json, size
from reprokit.fsutil import atomic_write_text
from reprokit.report import html
from reprokit.report import text as render
from reprokit.report.progress import lines
from reprokit.validate import ValidateSettings, validate


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "validate", parents=[LOGGING, JSON],
        help="check a bundle: intact, complete, rebuildable, reruns to the same outputs",
        description="Check BUNDLE (a folder or .tar.gz): integrity (SHA256SUMS, manifest, flake.lock), completeness "
        "(every third-party import is locked), and on request a rebuild (pip offline from vendor/, or nix build) and a "
        "rerun of the entry points whose outputs are compared with the recorded ones by their rules (numbers within "
        "tolerance, figures as pixels, notebooks cell by cell). Exit 0 only when every requested check ran and passed; "
        "a check that could not run fails unless --allow-skip names it; 1 when one failed, 2 for usage errors.",
    )
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--rebuild", choices=("pip", "nix", "none"), default="none")
    p.add_argument("--rerun", action="store_true", help="rerun the entry points and compare outputs (needs --rebuild pip)")
    net = p.add_mutually_exclusive_group()
    net.add_argument("--airgap", action="store_true", help="no network for bundle code (the default; kept for old scripts)")
    net.add_argument("--network", action="store_true", help="let the rebuild and rerun reach the network")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run bundle code without the sandbox, with your rights (only for a bundle you trust; the report says so)")
    p.add_argument("--nix-without-sandbox", action="store_true", help="let nix build run where Nix will not sandbox builds")
    p.add_argument("--run-timeout", type=duration, metavar="TIME",
                   help="time each entry point may run (default: what the bundle was made with, else 30m); one recorded as too "
                        "long to rerun is run only when given more time than it had")
    p.add_argument("--max-memory", type=size, metavar="SIZE",
                   help="memory bundle code may touch, all processes together (default: 3/4 of this machine's)")
    p.add_argument("--max-extract-size", type=size, metavar="SIZE", help="total size a tarball may unpack to (default: 32G)")
    p.add_argument("--max-ratio", type=positive, metavar="N", help="unpacked size per byte of tarball (default: 200)")
    p.add_argument("--max-files", type=positive, metavar="N", help="members of a tarball (default: 200000)")
    p.add_argument("--max-depth", type=positive, metavar="N", help="folders in one tarball member's path (default: 64)")
    p.add_argument("--allow-skip", action="append", default=[], metavar="CHECK",
                   choices=("integrity", "completeness", "rebuild-pip", "rebuild-nix", "rerun", "rerun-clock-ahead"),
                   help="let CHECK be not run without failing (repeatable); by default a check that could not run fails")
    p.add_argument("--clock-ahead", metavar="SPAN",
                   help="also rerun with the clock moved SPAN ahead (10y, 400d; libfaketime): what fails or differs only then is "
                        "reported as a time bomb (check rerun-clock-ahead; needs --rebuild pip --rerun)")
    p.add_argument("--report", metavar="FILE.html", help="also write a reviewer's report: one self-contained HTML page with badges and figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    defaults = tarball.Caps()
    caps = tarball.Caps(size=args.max_extract_size or defaults.size, ratio=args.max_ratio or defaults.ratio,
                        files=args.max_files or defaults.files, depth=args.max_depth or defaults.depth)
    limits = sandbox.Limits(memory=args.max_memory) if args.max_memory else sandbox.Limits()
    if args.no_sandbox:
        print("warning: --no-sandbox: the bundle's build backends and entry points run with your rights", file=sys.stderr)
    report = validate(ValidateSettings(bundle=Path(args.bundle), rebuild=args.rebuild, rerun=args.rerun, network=args.network,
                                       sandboxed=not args.no_sandbox, limits=limits, nix_without_sandbox=args.nix_without_sandbox, caps=caps,
                                       allow_skip=frozenset(args.allow_skip), report=args.report is not None, run_timeout=args.run_timeout,
                                       progress=None if args.json else lines(sys.stderr), clock_ahead=args.clock_ahead))
    if args.json:
        print_json(report.to_json())
    else:
        sys.stdout.write(render.report(report))
    if args.report is not None and report.review is not None:

        atomic_write_text(Path(args.report), html.render(report.review))
        print(f"wrote {args.report}", file=sys.stderr)
    return report.outcome.exit_status
