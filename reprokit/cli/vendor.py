"""``reprokit vendor``: every artifact of a lock, downloaded and verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reprokit.cli.options import CACHE_DIR, INDEX_URL, JSON, LOGGING, QUIET, Subparsers, positive, print_json
from reprokit.report import text as render
from reprokit.report.progress import Progress
from reprokit.resolve import lockfile as lock_mod
from reprokit.resolve import pypi
from reprokit.vendor import VendorSettings, vendor


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "vendor", parents=[LOGGING, JSON, INDEX_URL, CACHE_DIR, QUIET],
        help="download and verify every artifact of a lock into a folder",
        description="Download the sdist (always) and the target wheel (by default) of every locked package into "
        "DIR/sdist and DIR/wheels, through a content-addressed cache. Every file is checked against the lock's "
        "sha256 before use; interrupted downloads resume; a second run makes no network request. Downloads use the "
        "lock's URLs; --index-url is for look-ups.",
    )
    p.add_argument("lock", metavar="LOCK", help="a lock written by 'reprokit lock'")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--sdists", action=argparse.BooleanOptionalAction, default=True, help="keep source archives (default: yes)")
    p.add_argument("--wheels", action=argparse.BooleanOptionalAction, default=True, help="keep wheels for the target (default: yes)")
    p.add_argument("--jobs", type=positive, default=4, metavar="N", help="concurrent downloads (default: 4)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    locked = lock_mod.read_yaml(Path(args.lock))
    settings = VendorSettings(
        output=Path(args.output), sdists=args.sdists, wheels=args.wheels, jobs=args.jobs,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )
    report = vendor(locked, settings, pypi.Client(args.index_url), None if args.quiet else Progress(sys.stderr))
    if args.json:
        print_json({"reprokit_vendor": 1, "output": str(settings.output), "requests": report.requests,
                     "bytes_downloaded": report.bytes_downloaded, "seconds": round(report.seconds, 3),
                     "files": [{"path": str(v.path), "sha256": v.artifact.sha256, "sri": v.artifact.sri,
                                "nix32": v.artifact.nix32, "downloaded": v.downloaded} for v in report.files]})
    elif not args.quiet:
        sys.stdout.write(render.vendored(report, settings.output))
    return 0
