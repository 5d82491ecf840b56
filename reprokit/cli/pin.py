"""``reprokit pin``: the nixpkgs commit current at a date."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from reprokit.cli.options import CACHE_DIR, JSON, LOGGING, Subparsers, parse_date, print_json
from reprokit.nix import nixpkgs
from reprokit.report import text as render


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "pin", parents=[LOGGING, JSON, CACHE_DIR],
        help="pin nixpkgs to the commit of a channel as of a date, with its narHash",
        description="Choose the nixpkgs commit of CHANNEL (default: the NixOS stable release current at DATE) "
        "as of DATE. Online, GitHub's API names the commit and reprokit hashes its tarball; offline, or when "
        "GitHub cannot be reached, a table of real published pins shipped with reprokit answers.",
    )
    p.add_argument("--date", type=parse_date, metavar="YYYY-MM-DD", help="the date to pin to (default: today, so the answer changes from day to day; "
                   "archive pins to the paper's date)")
    p.add_argument("--channel", metavar="CH", help="e.g. nixos-23.11, nixos-unstable, nixpkgs-unstable")
    p.add_argument("--offline", action="store_true", help="use only the embedded pins")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    settings = nixpkgs.PinSettings(
        date=args.date or dt.date.today(), channel=args.channel, offline=args.offline,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )
    result = nixpkgs.pin(settings)
    if args.json:
        print_json({"reprokit_pin": 1, **result.to_json()})
    else:
        sys.stdout.write(render.pin(result))
    return 0
