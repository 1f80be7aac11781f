"""The ``shapecheck`` command line: parses arguments, resolves configuration once, runs one command.

Exit codes follow ruff: 0 clean, 1 findings, 2 bad input or usage. Any :class:`ShapecheckError` becomes
one line on stderr and exit 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shapecheck import __version__
from shapecheck.errors import ShapecheckError

#: Subcommand modules under ``shapecheck.commands``, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("check", "calc", "inspect", "sizes", "fix", "rule")


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and a single line for usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser; each command module adds its own subparser."""
    parser = _Parser(prog="shapecheck", description="Static shape checker for convolutional networks.")
    parser.add_argument("--version", action="version", version=f"shapecheck {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"shapecheck.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except ShapecheckError as error:
        print(f"shapecheck: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
