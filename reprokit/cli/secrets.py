"""``reprokit secrets``: credentials found before they leak."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reprokit.cli.options import JSON, LOGGING, Subparsers, print_json
from reprokit.errors import UsageError
from reprokit.report import text as render
from reprokit.scan import secrets


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "secrets", parents=[LOGGING, JSON],
        help="find credentials that must not be archived or published",
        description="Look for private keys, cloud and forge tokens, Zenodo tokens, literal password/api_key "
        "assignments and credential files (.env, .netrc, …) under PATH, notebook outputs included. Values are "
        "masked. Exit 1 when anything is found.",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--allow-secret", action="append", default=[], metavar="PATH:LINE", help="accept one finding (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    findings = secrets.scan_path(path, args.allow_secret)
    if args.json:
        print_json({"reprokit_secrets": 1, "path": str(path), "findings": [
            {"path": f.path, "line": f.line, "kind": f.kind, "value": f.masked} for f in findings]})
    else:
        sys.stdout.write(render.findings(findings))
    return 1 if findings else 0
