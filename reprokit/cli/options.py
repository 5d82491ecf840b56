"""What the commands share: argument types (sizes, times, dates, counts), the options
several take (--json, --python, --index-url, --cache-dir, --quiet, -v/--debug), and the
JSON envelope printer."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from reprokit import lazy
from reprokit.errors import InputError
from reprokit.wording import parse_duration

if TYPE_CHECKING:
    import datetime as dt
    import json
else:  # most commands print no JSON and take no date: they start without these
    dt = lazy.module("datetime")
    json = lazy.module("json")

# The object add_subparsers returns: where each command module adds its parser.
Subparsers = Any


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of at least 1, not {text!r}")
    return n


def duration(text: str) -> int:
    """An argparse type: seconds, or a time such as 90m, 2h, 1h30m."""
    try:
        return parse_duration(text, "")
    except InputError:
        raise argparse.ArgumentTypeError(f"takes a time such as 1800, 90m, 2h or 1h30m, not {text!r}") from None


def size(text: str) -> int:
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


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def option(*flags: str, **kw: object) -> argparse.ArgumentParser:
    """A parent parser holding one option, for every subcommand that takes it: defined
    once, it reads and helps the same everywhere (pip-tools' ``options.py``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(*flags, **kw)  # type: ignore[arg-type]
    return parent


def logging_options(default: object) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=default, help="log the commands reprokit runs and the requests it makes")
    parent.add_argument("--debug", action="store_true", default=default, help="show tracebacks on errors")
    return parent


JSON = option("--json", action="store_true", help="print the versioned JSON envelope instead of text")


PYTHON = option("--python", metavar="X.Y", help="the Python version to target, X.Y (default: see above)")


INDEX_URL = option("--index-url", metavar="URL", help="package index for look-ups (default: $PIP_INDEX_URL, else PyPI)")


CACHE_DIR = option("--cache-dir", metavar="DIR", help="reprokit's cache: artifacts, nixpkgs tarballs, and (archive) the two "
                    "environments last used to record outputs (default: $XDG_CACHE_HOME/reprokit, else ~/.cache/reprokit)")


QUIET = option("-q", "--quiet", action="store_true", help="print nothing but errors")


# After the subcommand the flags only set what is given (SUPPRESS), so that
# 'reprokit -v scan' is not undone by the subcommand's own default.
LOGGING = logging_options(argparse.SUPPRESS)
