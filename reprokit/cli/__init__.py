"""The ``reprokit`` command line: one module per command (its arguments and the call into
the library), :mod:`.options` for what they share. This is the one place that catches
:class:`ReprokitError`, prints ``error: …`` on one line and chooses the exit status.
Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from reprokit import __version__
from reprokit.cli import archive, hash, lock, pin, publish, recheck, scan, secrets, validate, vendor
from reprokit.cli.options import logging_options
from reprokit.errors import ReprokitError
from reprokit.redact import RedactingFilter, redact

# In the order `reprokit --help` lists them.
COMMANDS = (scan, hash, pin, lock, vendor, archive, validate, recheck, secrets, publish)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprokit", parents=[logging_options(False)],
        description="Archive a research paper's code so it can be rebuilt and rerun years later, and verify such archives.",
        epilog="Run 'reprokit COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"reprokit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for command in COMMANDS:
        command.add(sub)
    return parser
