"""The ``reprokit`` command line: one module per command (its arguments and the call into
the library), :mod:`.options` for what they share. This is the one place that catches
:class:`ReprokitError`, prints ``error: …`` on one line and chooses the exit status.
Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

from reprokit import __version__
from reprokit.cli.options import logging_options
from reprokit.errors import ReprokitError
from reprokit.redact import RedactingFilter, redact

# In the order `reprokit --help` lists them. Each is the module reprokit.cli.<name>, loaded
# when its command runs (or for --help): `reprokit hash` starts without importing what
# `reprokit archive` needs.
COMMANDS = ("scan", "hash", "pin", "lock", "vendor", "archive", "validate", "recheck", "secrets", "publish")


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"reprokit.cli.{name}")


log = logging.getLogger("reprokit")


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
    args_given = list(sys.argv[1:] if argv is None else argv)
    named = next((a for a in args_given if not a.startswith("-")), None)
    parser = build_parser(named if named in COMMANDS and not {"-h", "--help"} & set(args_given[:args_given.index(named)]) else None)
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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``only`` a command's alone (the rest listed
    by name)."""
    parser = argparse.ArgumentParser(
        prog="reprokit", parents=[logging_options(False)],
        description="Archive a research paper's code so it can be rebuilt and rerun years later, and verify such archives.",
        epilog="Run 'reprokit COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"reprokit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for name in COMMANDS:
        if only is None or name == only:
            command_module(name).add(sub)
        else:
            sub.add_parser(name)
    return parser
