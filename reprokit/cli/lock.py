"""``reprokit lock``: the exact closure of a paper's dependencies."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from reprokit.cli.options import INDEX_URL, JSON, LOGGING, PYTHON, Subparsers, parse_date, print_json
from reprokit.resolve import LockSettings, choose_python, lazy_left_out, lock
from reprokit.resolve import lockfile as lock_mod
from reprokit.scan import tree
from reprokit.wording import counted


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "lock", parents=[LOGGING, JSON, PYTHON, INDEX_URL],
        help="resolve a paper's imports to an exact, hashed closure as of a date",
        description="Scan PATH, then resolve its distributions (and their dependencies) with uv to exact versions "
        "with sha256 hashes. Versions come from a lock file in the paper, else its declared pins and ranges, else "
        "(--from-env) this environment, else the newest releases uploaded on or before --date. Writes the lock as "
        "YAML and, next to it, requirements.lock in pip's --require-hashes form. The target Python is --python, else what "
        "the paper says, else the newest CPython of the date with wheels for the locked packages (as archive chooses).",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--date", type=parse_date, metavar="YYYY-MM-DD", help="resolve as of this date (default: today, so "
                   "the lock changes from day to day; it records the date it used, and archive uses the paper's date)")
    p.add_argument("--platform", default="x86_64-linux", help="target platform (x86_64-linux or aarch64-linux)")
    p.add_argument("--with-optional", action="store_true", help="also lock distributions imported only optionally (guarded imports, and lazy imports inside functions of a package that are neither declared nor installed)")
    p.add_argument("--from-env", metavar="PYTHON", help="pin to the versions installed in the environment of this Python "
                   "(e.g. .venv/bin/python), and map imports through it")
    p.add_argument("-o", "--output", default="reprokit.lock.yaml", metavar="FILE", help="lock file (default: reprokit.lock.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    path = Path(args.path)
    root = path if path.is_dir() else path.parent
    date = args.date or dt.date.today()
    files = tree.walk(root, suffixes=None).files if path.is_dir() else (path.name,)
    choice, result, locked = choose_python(root, files, date, args.python, args.index_url)
    settings = LockSettings(date=date, python=choice.version, platform=args.platform, index_url=args.index_url,
                            with_optional=args.with_optional, from_env=args.from_env)
    if (args.platform, args.with_optional, args.from_env) != ("x86_64-linux", False, None):

        locked = lock(result, settings, root=root)
    print(f"note: Python {choice.version} (from {choice.source})", file=sys.stderr)
    for note in locked.notes:
        print(f"note: {note}", file=sys.stderr)
    if not result.files:
        print(f"note: no .py or .ipynb files under {path}: the lock holds only what the paper declares", file=sys.stderr)
    for note in dict.fromkeys(lazy_left_out(result, settings).values()):
        print(f"note: {note}", file=sys.stderr)
    out = Path(args.output)
    req = out.with_name("requirements.lock") if out.suffix in (".yaml", ".yml") else None
    lock_mod.write(locked, out, req)
    if args.json:
        print_json(locked.to_json())
    else:
        for p in locked.packages:
            kinds = "+".join(a.kind for a in p.artifacts) or "no artifact"
            print(f"{p.name + '==' + p.version:<40} {kinds:<12} {p.why}")
        print(f"\n{counted(len(locked.packages), 'package')} for Python {locked.python} on {locked.platform} as of {locked.date} "
              f"(versions from {locked.versions_from}); wrote {out}" + (f" and {req}" if req else ""))
    return 0
