"""``reprokit recheck``: many bundles checked again, on Dask, into a history; the history
as a table or a dashboard page."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from reprokit import __version__
from reprokit.bundle import tarball
from reprokit.cli.options import CACHE_DIR, JSON, LOGGING, Subparsers, duration, positive, print_json, size
from reprokit.errors import UsageError
from reprokit.fsutil import atomic_write_text
from reprokit.recheck import RecheckSettings, read_history, recheck
from reprokit.recheck import history as store
from reprokit.recheck.zenodo import DEFAULT_URL
from reprokit.report import dashboard
from reprokit.report import rechecks as render
from reprokit.report.progress import lines


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "recheck", parents=[LOGGING, JSON, CACHE_DIR],
        help="check many bundles again (folders, tarballs, lists, Zenodo records), on Dask, into a history",
        description="The ten-year check: every bundle SOURCES name gets the checks validate runs (integrity, completeness, "
        "rebuild pip and rerun by default, sandboxed), each as a Dask task on a LocalCluster sized to this machine or on a "
        "running Dask cluster (--scheduler). Each result goes into a SQLite history as it comes; an interrupted run resumes "
        "where it stopped. --history prints the history, --report DIR writes it as a dashboard page. Exit 0 when every "
        "bundle passed, 1 when one did not, 2 for usage errors.",
    )
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="a bundle folder or tarball, a folder of them, a text file listing them, a Zenodo DOI (10.5281/zenodo.N) or record URL")
    p.add_argument("--zenodo-community", action="append", default=[], metavar="NAME", help="every bundle of a Zenodo community (repeatable)")
    p.add_argument("--zenodo-url", default=DEFAULT_URL, metavar="URL", help=f"the Zenodo that DOIs and communities name (default: {DEFAULT_URL})")
    p.add_argument("--allow-http", action="store_true", help="let a Zenodo other than this machine be read over plain http")
    checks = p.add_argument_group("checks (as validate's)")
    checks.add_argument("--rebuild", choices=("pip", "nix", "none"), default="pip", help="rebuild each environment (default: pip)")
    checks.add_argument("--no-rerun", dest="rerun", action="store_false", help="do not rerun the entry points")
    checks.add_argument("--network", action="store_true", help="let the rebuilds and reruns reach the network")
    checks.add_argument("--no-sandbox", action="store_true", help="run bundle code without the sandbox, with your rights")
    checks.add_argument("--nix-without-sandbox", action="store_true", help="let nix build run where Nix will not sandbox builds")
    checks.add_argument("--run-timeout", type=duration, metavar="TIME", help="time each entry point may run")
    checks.add_argument("--max-memory", type=size, metavar="SIZE",
                        help="memory each check may use (default: on a LocalCluster, its worker's share of three quarters of this machine's)")
    checks.add_argument("--max-extract-size", type=size, metavar="SIZE", help="total size a tarball may unpack to (default: 32G)")
    checks.add_argument("--max-ratio", type=positive, metavar="N", help="unpacked size per byte of tarball (default: 200)")
    checks.add_argument("--max-files", type=positive, metavar="N", help="members of a tarball (default: 200000)")
    checks.add_argument("--max-depth", type=positive, metavar="N", help="folders in one tarball member's path (default: 64)")
    checks.add_argument("--allow-skip", action="append", default=[], metavar="CHECK",
                        choices=("integrity", "completeness", "rebuild-pip", "rebuild-nix", "rerun", "rerun-clock-ahead"),
                        help="let CHECK be not run without failing (repeatable)")
    checks.add_argument("--clock-ahead", metavar="SPAN",
                        help="also rerun with the clock moved SPAN ahead (10y, 400d): what fails only then is reported as a time bomb")
    where = p.add_argument_group("where the checks run")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (tcp://HOST:8786); default: a LocalCluster here")
    where.add_argument("--workers", type=positive, metavar="N", help="LocalCluster workers (default: as many as cores and memory allow)")
    kept = p.add_argument_group("history")
    kept.add_argument("--db", type=Path, metavar="PATH", help=f"the history (default: {store.default_path()})")
    kept.add_argument("--new-run", action="store_true", help="start a new run even where an interrupted one of the same bundles could resume")
    kept.add_argument("--history", nargs="?", const="", metavar="BUNDLE",
                      help="print the history (of one bundle: its path, DOI or name) and check nothing")
    kept.add_argument("--report", type=Path, metavar="DIR", help="write the history as a dashboard page, DIR/index.html")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.history is not None:
        if args.sources or args.zenodo_community:
            raise UsageError("--history prints the history and checks nothing: give no SOURCES with it")
        runs, results = read_history(args.db, args.history or None)
        if args.json:
            print_json({"reprokit_recheck": 1, "history": {"runs": [r.to_json() for r in runs], "results": [r.to_json() for r in results]}})
        else:
            sys.stdout.write(render.history(runs, results))
        if args.report is None:
            return 0
    status = 0
    if args.sources or args.zenodo_community:
        defaults = tarball.Caps()
        caps = tarball.Caps(size=args.max_extract_size or defaults.size, ratio=args.max_ratio or defaults.ratio,
                            files=args.max_files or defaults.files, depth=args.max_depth or defaults.depth)
        if args.no_sandbox and not args.json:
            print("warning: --no-sandbox: the bundles' build backends and entry points run with your rights", file=sys.stderr)
        bar = None if args.json else render.RunBar(sys.stderr)
        try:
            outcome = recheck(RecheckSettings(
                sources=tuple(args.sources), communities=tuple(args.zenodo_community), zenodo_url=args.zenodo_url, allow_http=args.allow_http,
                cache_dir=Path(args.cache_dir) if args.cache_dir else None, db=args.db, rebuild=args.rebuild, rerun=args.rerun,
                network=args.network, sandboxed=not args.no_sandbox, allow_skip=frozenset(args.allow_skip), run_timeout=args.run_timeout,
                memory=args.max_memory, caps=caps, clock_ahead=args.clock_ahead, nix_without_sandbox=args.nix_without_sandbox,
                scheduler=args.scheduler, workers=args.workers, resume=not args.new_run, progress=bar,
                say=None if args.json else lines(sys.stderr)))
        finally:
            if bar is not None:
                bar.close()
        if args.json:
            print_json(outcome.to_json())
        else:
            sys.stdout.write(render.outcome(outcome))
        status = outcome.exit_status
    elif args.report is None and args.history is None:
        raise UsageError("name what to recheck (SOURCES or --zenodo-community), or ask for --history or --report DIR")
    if args.report is not None:
        runs, results = read_history(args.db)
        page = dashboard.render(runs, results, generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), tool_version=__version__,
                                source=str(args.db or store.default_path()))
        atomic_write_text(args.report / "index.html", page)
        if not args.json:
            print(f"wrote {args.report / 'index.html'}", file=sys.stderr)
    return status
