"""The command line: options shared by subcommands are one definition, and -v/--debug
work before or after the subcommand."""

from __future__ import annotations

import argparse

import pytest

from reprokit.cli import build_parser, main
from reprokit.errors import UsageError


def _options(parser: argparse.ArgumentParser, command: str) -> dict[str, argparse.Action]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {o: a for a in sub.choices[command]._actions for o in a.option_strings}


@pytest.mark.parametrize(("option", "commands"), [
    ("--json", ["scan", "hash", "pin", "lock", "vendor", "archive", "validate", "secrets", "publish"]),
    ("--python", ["scan", "lock", "archive"]),
    ("--index-url", ["lock", "vendor", "archive"]),
    ("--cache-dir", ["pin", "vendor", "archive"]),
    ("--quiet", ["vendor", "archive"]),
    ("--debug", ["scan", "hash", "pin", "lock", "vendor", "archive", "validate", "secrets", "publish"]),
    ("--verbose", ["scan", "hash", "pin", "lock", "vendor", "archive", "validate", "secrets", "publish"]),
])
def test_a_shared_option_is_one_definition_on_every_command(option: str, commands: list[str]) -> None:
    parser = build_parser()
    actions = [_options(parser, c).get(option) for c in commands]
    assert all(a is not None for a in actions), commands
    assert len({id(a) for a in actions}) == 1  # the same Action: the same name, help and default everywhere


@pytest.mark.parametrize("argv", [["-v", "--debug", "hash", "MISSING"], ["hash", "MISSING", "-v", "--debug"], ["--debug", "hash", "MISSING", "--verbose"]])
def test_verbose_and_debug_work_before_and_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.debug is True
    with pytest.raises(UsageError, match="MISSING: no such file"):  # --debug: the error is raised, traceback and all
        main(argv)


def test_flags_not_given_are_off_wherever_they_could_be() -> None:
    args = build_parser().parse_args(["hash", "MISSING"])
    assert args.verbose is False and args.debug is False


def test_without_debug_an_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash", "MISSING"]) == 2
    assert capsys.readouterr().err == "error: MISSING: no such file or directory\n"
