"""``reprokit scan``: a paper's imports and the distributions that provide them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reprokit.cli.options import JSON, LOGGING, PYTHON, Subparsers, positive, print_json
from reprokit.errors import UnresolvedImports
from reprokit.report import text as render
from reprokit.scan import ScanSettings, scan


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "scan", parents=[LOGGING, JSON, PYTHON],
        help="list a paper's imports and the PyPI distributions that provide them",
        description="Find every import in the .py and .ipynb files under PATH, classify it as stdlib, local or "
        "third-party for the target Python, and map third-party imports to PyPI distributions "
        "(declared requirements first, then the installed environment, then reprokit's table). "
        "An import is optional when it is guarded (try/except ImportError, if TYPE_CHECKING, a dead "
        "version or platform branch), only in tests, docs or build scripts, or lazy: inside a function "
        "of a package, in a package module nothing imports (a plugin), or in vendored code. The target Python is "
        "--python, else the running one.",
    )
    p.add_argument("path", metavar="PATH", help="paper folder, or a single .py/.ipynb file")
    p.add_argument("--strict", action="store_true", help="exit 1 when an import has no known distribution")
    p.add_argument("--from-env", metavar="PYTHON", help="also map imports through the distributions installed in the environment "
                   "of this Python (e.g. .venv/bin/python); by default none is consulted, reprokit's own never")
    p.add_argument("--no-installed", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts
    p.add_argument("--jobs", type=positive, metavar="N", help="worker processes for large trees (default: all cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    result = scan(ScanSettings(path=Path(args.path), python=args.python, from_env=args.from_env, jobs=args.jobs))
    if args.json:
        print_json(result.to_json())
    else:
        sys.stdout.write(render.scan_table(result))
    if args.strict and result.unresolved:
        raise UnresolvedImports(f"{len(result.unresolved)} import(s) with no known distribution: {', '.join(result.unresolved)}")
    return 0
