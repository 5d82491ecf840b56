"""The ``reprokit`` command line: parses arguments, calls the library, prints the result.

This is the one place that catches :class:`ReprokitError`, prints ``error: …`` on one line
and chooses the exit status. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from reprokit import __version__
from reprokit.errors import ReprokitError, UnresolvedImports
from reprokit.redact import RedactingFilter, redact

log = logging.getLogger("reprokit")

Handler = Callable[[argparse.Namespace], int]


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of at least 1, not {text!r}")
    return n


def _duration(text: str) -> int:
    """An argparse type: seconds, or a time such as 90m, 2h, 1h30m."""
    from reprokit.errors import InputError
    from reprokit.paperconfig import duration

    try:
        return duration(text, "")
    except InputError:
        raise argparse.ArgumentTypeError(f"takes a time such as 1800, 90m, 2h or 1h30m, not {text!r}") from None


def _size(text: str) -> int:
    """An argparse type: bytes, with an optional K, M, G or T suffix (powers of 1024)."""
    units = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in units else ""
    try:
        n = float(t[: len(t) - len(unit)])
    except ValueError:
        n = -1
    if n <= 0:
        raise argparse.ArgumentTypeError(f"takes a size such as 512M or 8G, not {text!r}")
    return int(n * (1 << units[unit]))


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def cmd_scan(args: argparse.Namespace) -> int:
    from reprokit.scan import ScanSettings, render_table, scan

    result = scan(ScanSettings(path=Path(args.path), python=args.python, from_env=args.from_env, jobs=args.jobs))
    if args.json:
        _print_json(result.to_json())
    else:
        sys.stdout.write(render_table(result))
    if args.strict and result.unresolved:
        raise UnresolvedImports(f"{len(result.unresolved)} import(s) with no known distribution: {', '.join(result.unresolved)}")
    return 0


def cmd_hash(args: argparse.Namespace) -> int:
    from reprokit import hashes
    from reprokit.errors import UsageError

    path = Path(args.path)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path}: no such file or directory")
    if args.flat and args.unpack:
        raise UsageError("--flat and --unpack exclude each other")
    last_modified = None
    if args.unpack:
        if not path.is_file():
            raise UsageError(f"{path}: --unpack takes an archive file")
        unpacked = hashes.unpacked_nar_sha256(path)
        digest, mode, last_modified = unpacked.nar, "nar-unpacked", unpacked.last_modified
    elif args.flat:
        if not path.is_file():
            raise UsageError(f"{path}: --flat takes a file")
        digest, mode = hashes.file_sha256(path), "flat"
    else:
        digest, mode = hashes.nar_sha256(path), "nar"
    if args.json:
        d = hashes.Digest.of(digest)
        out: dict[str, object] = {"reprokit_hash": 1, "path": str(path), "mode": mode, "sri": d.sri, "nix32": d.nix32, "hex": d.hex}
        if path.is_file() and not path.is_symlink():
            out["swhid"] = hashes.swhid(path)
        if last_modified is not None:
            out["lastModified"] = last_modified
        _print_json(out)
    else:
        print(hashes.render(digest, args.format))
    return 0


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_pin(args: argparse.Namespace) -> int:
    from reprokit import nixpkgs, render

    settings = nixpkgs.PinSettings(
        date=args.date or dt.date.today(), channel=args.channel, offline=args.offline,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )
    result = nixpkgs.pin(settings)
    if args.json:
        _print_json({"reprokit_pin": 1, **result.to_json()})
    else:
        sys.stdout.write(render.pin(result))
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    from reprokit import lock as lock_mod
    from reprokit import tree
    from reprokit.resolve import LockSettings, choose_python, lazy_left_out
    from reprokit.render import counted

    path = Path(args.path)
    root = path if path.is_dir() else path.parent
    date = args.date or dt.date.today()
    files = tree.walk(root, suffixes=None).files if path.is_dir() else (path.name,)
    choice, result, locked = choose_python(root, files, date, args.python, args.index_url)
    settings = LockSettings(date=date, python=choice.version, platform=args.platform, index_url=args.index_url,
                            with_optional=args.with_optional, from_env=args.from_env)
    if (args.platform, args.with_optional, args.from_env) != ("x86_64-linux", False, None):
        from reprokit.resolve import lock

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
        _print_json(locked.to_json())
    else:
        for p in locked.packages:
            kinds = "+".join(a.kind for a in p.artifacts) or "no artifact"
            print(f"{p.name + '==' + p.version:<40} {kinds:<12} {p.why}")
        print(f"\n{counted(len(locked.packages), 'package')} for Python {locked.python} on {locked.platform} as of {locked.date} "
              f"(versions from {locked.versions_from}); wrote {out}" + (f" and {req}" if req else ""))
    return 0


def cmd_vendor(args: argparse.Namespace) -> int:
    from reprokit import lock as lock_mod
    from reprokit import pypi, render
    from reprokit.vendor import VendorSettings, vendor

    locked = lock_mod.read_yaml(Path(args.lock))
    settings = VendorSettings(
        output=Path(args.output), sdists=args.sdists, wheels=args.wheels, jobs=args.jobs,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )
    report = vendor(locked, settings, pypi.Client(args.index_url), None if args.quiet else render.Progress(sys.stderr))
    if args.json:
        _print_json({"reprokit_vendor": 1, "output": str(settings.output), "requests": report.requests,
                     "bytes_downloaded": report.bytes_downloaded, "seconds": round(report.seconds, 3),
                     "files": [{"path": str(v.path), "sha256": v.artifact.sha256, "sri": v.artifact.sri,
                                "nix32": v.artifact.nix32, "downloaded": v.downloaded} for v in report.files]})
    elif not args.quiet:
        sys.stdout.write(render.vendored(report, settings.output))
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    from reprokit import render
    from reprokit.bundle import ArchiveSettings, archive

    paper = Path(args.paper)
    out = Path(args.output) if args.output else Path(f"{paper.resolve().name}-bundle")
    result = archive(ArchiveSettings(
        paper=paper, output=out, date=args.date, python=args.python, channel=args.channel, offline=args.offline,
        wheels=not args.no_wheels, nix=not args.no_nix, tar=args.tar, force=args.force, record_outputs=args.record_outputs, vendor_nixpkgs=args.vendor_nixpkgs,
        index_url=args.index_url, cache_dir=Path(args.cache_dir) if args.cache_dir else None, quiet=args.quiet,
        sandboxed=not args.no_sandbox, run_timeout=args.run_timeout,
    ))
    if args.json:
        _print_json({"reprokit_archive": 1, "bundle": str(result.bundle), "tarball": str(result.tarball) if result.tarball else None,
                     "packages": result.packages, "paper_files": result.files, "recorded_outputs": result.outputs, "notes": list(result.notes)})
    else:
        sys.stdout.write(render.archived(result))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from reprokit import render, sandbox, tarball
    from reprokit.validate import ValidateSettings, validate

    defaults = tarball.Caps()
    caps = tarball.Caps(size=args.max_extract_size or defaults.size, ratio=args.max_ratio or defaults.ratio,
                        files=args.max_files or defaults.files, depth=args.max_depth or defaults.depth)
    limits = sandbox.Limits(memory=args.max_memory) if args.max_memory else sandbox.Limits()
    if args.no_sandbox:
        print("warning: --no-sandbox: the bundle's build backends and entry points run with your rights", file=sys.stderr)
    report = validate(ValidateSettings(bundle=Path(args.bundle), rebuild=args.rebuild, rerun=args.rerun, network=args.network,
                                       sandboxed=not args.no_sandbox, limits=limits, nix_without_sandbox=args.nix_without_sandbox, caps=caps,
                                       allow_skip=frozenset(args.allow_skip), report=args.report is not None, run_timeout=args.run_timeout,
                                       progress=None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))))
    if args.json:
        _print_json(report.to_json())
    else:
        sys.stdout.write(render.report(report))
    if args.report is not None and report.review is not None:
        from reprokit import report as review
        from reprokit.fsutil import atomic_write_text

        atomic_write_text(Path(args.report), review.render(report.review))
        print(f"wrote {args.report}", file=sys.stderr)
    return report.outcome.exit_status


def cmd_secrets(args: argparse.Namespace) -> int:
    from reprokit import render, secrets
    from reprokit.errors import UsageError

    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    findings = secrets.scan_path(path, args.allow_secret)
    if args.json:
        _print_json({"reprokit_secrets": 1, "path": str(path), "findings": [
            {"path": f.path, "line": f.line, "kind": f.kind, "value": f.masked} for f in findings]})
    else:
        sys.stdout.write(render.findings(findings))
    return 1 if findings else 0


def cmd_publish(args: argparse.Namespace) -> int:
    from reprokit import render
    from reprokit.publish import PublishSettings, publish

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
        _print_json(result.to_json())
    else:
        sys.stdout.write(render.published(result))
    return 0


def _option(*flags: str, **kw: object) -> argparse.ArgumentParser:
    """A parent parser holding one option, for every subcommand that takes it: defined
    once, it reads and helps the same everywhere (pip-tools' ``options.py``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(*flags, **kw)  # type: ignore[arg-type]
    return parent


def _logging(default: object) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=default, help="log the commands reprokit runs and the requests it makes")
    parent.add_argument("--debug", action="store_true", default=default, help="show tracebacks on errors")
    return parent


JSON = _option("--json", action="store_true", help="print the versioned JSON envelope instead of text")
PYTHON = _option("--python", metavar="X.Y", help="the Python version to target, X.Y (default: see above)")
INDEX_URL = _option("--index-url", metavar="URL", help="package index for look-ups (default: $PIP_INDEX_URL, else PyPI)")
CACHE_DIR = _option("--cache-dir", metavar="DIR", help="reprokit's download cache: artifacts and nixpkgs tarballs "
                    "(default: $XDG_CACHE_HOME/reprokit, else ~/.cache/reprokit)")
QUIET = _option("-q", "--quiet", action="store_true", help="print nothing but errors")
# After the subcommand the flags only set what is given (SUPPRESS), so that
# 'reprokit -v scan' is not undone by the subcommand's own default.
LOGGING = _logging(argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprokit", parents=[_logging(False)],
        description="Archive a research paper's code so it can be rebuilt and rerun years later, and verify such archives.",
        epilog="Run 'reprokit COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"reprokit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    p.add_argument("--jobs", type=_positive, metavar="N", help="worker processes for large trees (default: all cores)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser(
        "hash", parents=[LOGGING, JSON],
        help="hash a file, folder or archive the way Nix does (narHash, nix-prefetch-url)",
        description="Print the sha256 that Nix computes: by default the NAR hash of PATH (as 'nix hash path'); "
        "--flat hashes a file's bytes (as 'nix-prefetch-url URL'); --unpack hashes a tar or zip archive's contents "
        "after stripping a single top entry (as 'nix-prefetch-url --unpack URL'), read in memory: nothing is extracted. "
        "--json prints every form, a file's SWHID and, with --unpack, lastModified.",
    )
    p.add_argument("path", metavar="PATH")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--flat", action="store_true", help="hash the file's bytes, not its NAR")
    mode.add_argument("--unpack", action="store_true", help="hash the tree the archive holds, as Nix unpacks it")
    p.add_argument("--format", choices=("sri", "nix32", "hex"), default="sri", help="how to print the hash (default: sri)")
    p.set_defaults(func=cmd_hash)

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
    p.set_defaults(func=cmd_pin)

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
    p.set_defaults(func=cmd_lock)

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
    p.add_argument("--jobs", type=_positive, default=4, metavar="N", help="concurrent downloads (default: 4)")
    p.set_defaults(func=cmd_vendor)

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
    p.add_argument("--run-timeout", type=_duration, metavar="TIME",
                   help="time each entry point may run, such as 90m or 2h (default: reprokit.toml's run-timeout, else 30m); "
                        "one that takes longer is recorded as too long to rerun here")
    p.set_defaults(func=cmd_archive)

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
    p.add_argument("--run-timeout", type=_duration, metavar="TIME",
                   help="time each entry point may run (default: what the bundle was made with, else 30m); one recorded as too "
                        "long to rerun is run only when given more time than it had")
    p.add_argument("--max-memory", type=_size, metavar="SIZE",
                   help="memory bundle code may touch, all processes together (default: 3/4 of this machine's)")
    p.add_argument("--max-extract-size", type=_size, metavar="SIZE", help="total size a tarball may unpack to (default: 32G)")
    p.add_argument("--max-ratio", type=_positive, metavar="N", help="unpacked size per byte of tarball (default: 200)")
    p.add_argument("--max-files", type=_positive, metavar="N", help="members of a tarball (default: 200000)")
    p.add_argument("--max-depth", type=_positive, metavar="N", help="folders in one tarball member's path (default: 64)")
    p.add_argument("--allow-skip", action="append", default=[], metavar="CHECK",
                   choices=("integrity", "completeness", "rebuild-pip", "rebuild-nix", "rerun"),
                   help="let CHECK be not run without failing (repeatable); by default a check that could not run fails")
    p.add_argument("--report", metavar="FILE.html", help="also write a reviewer's report: one self-contained HTML page with badges and figures")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "secrets", parents=[LOGGING, JSON],
        help="find credentials that must not be archived or published",
        description="Look for private keys, cloud and forge tokens, Zenodo tokens, literal password/api_key "
        "assignments and credential files (.env, .netrc, …) under PATH, notebook outputs included. Values are "
        "masked. Exit 1 when anything is found.",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--allow-secret", action="append", default=[], metavar="PATH:LINE", help="accept one finding (repeatable)")
    p.set_defaults(func=cmd_secrets)

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
    p.set_defaults(func=cmd_publish)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that what is running is stopped and cleaned
    up on the way out (child processes killed, temporary folders removed)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def stop_on_sigterm() -> None:
    """Make SIGTERM stop reprokit the way Ctrl-C does (from the main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def main(argv: Sequence[str] | None = None) -> int:
    stop_on_sigterm()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(message)s", level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except ReprokitError as exc:
        if args.debug:
            raise
        # One line, whatever a tool underneath said: its details are behind -v/--debug.
        text = redact(" ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip()))
        sys.stderr.write(f"error: {text}\n")
        return exc.exit_code
    except Terminated:
        sys.stderr.write("terminated\n")
        return 143
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
