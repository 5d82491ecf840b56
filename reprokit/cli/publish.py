"""``reprokit publish``: a bundle sent to Zenodo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reprokit.cli.options import JSON, LOGGING, Subparsers, print_json
from reprokit.publish import PublishSettings, publish
from reprokit.report import text as render


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "publish", parents=[LOGGING, JSON],
        help="upload a bundle to Zenodo with metadata from its CITATION.cff",
        description="Check the bundle (integrity, CITATION.cff, secrets), then upload its deterministic .tar.gz, README.md and "
        "CITATION.cff to a Zenodo deposition with metadata from CITATION.cff and the manifest, and publish it. The token "
        "comes from --token-env VAR, else ZENODO_API_TOKEN (ZENODO_SANDBOX_API_TOKEN with --sandbox) or ~/.config/zenodo.ini "
        "(where zenodo-client looks), and is never printed. "
        "What was published is remembered in BUNDLE.zenodo.json: a re-run of an unchanged bundle makes no duplicate, and "
        "a changed one becomes a new version.",
    )
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--sandbox", action="store_true", help="use sandbox.zenodo.org")
    p.add_argument("--zenodo-url", metavar="URL", help="another Zenodo instance: its base URL (https://zenodo.example.org) or its API URL (…/api)")
    p.add_argument("--allow-http", action="store_true", help="accept a plain-http --zenodo-url (the token travels unencrypted)")
    p.add_argument("--new-version-of", metavar="ID", help="publish as a new version of this deposition")
    p.add_argument("--draft", action="store_true", help="upload and describe, but stop before publishing")
    p.add_argument("--dry-run", action="store_true", help="print the metadata and files, send nothing")
    p.add_argument("--yes", action="store_true", help="publish without asking")
    p.add_argument("--token-env", metavar="VAR", help="read the token from this environment variable")
    p.add_argument("--allow-secret", action="append", default=[], metavar="PATH:LINE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    def confirm(question: str) -> bool:
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    settings = PublishSettings(
        bundle=Path(args.bundle), sandbox=args.sandbox, zenodo_url=args.zenodo_url, new_version_of=args.new_version_of,
        draft=args.draft, dry_run=args.dry_run, yes=args.yes, token_env=args.token_env, allow_secrets=tuple(args.allow_secret),
        allow_http=args.allow_http,
    )
    result = publish(settings, confirm if sys.stdin.isatty() and not args.yes else None)
    if args.json:
        print_json(result.to_json())
    else:
        sys.stdout.write(render.published(result))
    return 0
