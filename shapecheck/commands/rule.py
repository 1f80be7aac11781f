"""``shapecheck rule SC201``: a rule's documentation page; ``shapecheck rule --all``: the catalogue.

The page is exactly ``rules/SC201.md`` — both come from :func:`shapecheck.report.rule_pages.render_rule_page`
— so what the terminal says and what the repository documents cannot drift apart.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shapecheck.errors import SpecError

HEADERS = ("code", "name", "severity", "default", "summary")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rule",
        help="show a rule's documentation, or list every rule",
        description="Print the Markdown page of one rule (the same text as rules/SCxxx.md), or with --all "
        "a table of every rule: code, name, severity, on by default, summary.",
        epilog="examples:\n  shapecheck rule SC201\n  shapecheck rule --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("code", nargs="?", help="a rule code, e.g. SC201")
    parser.add_argument("--all", action="store_true", help="list every rule instead")
    parser.set_defaults(run=run)


def rule_table() -> list[tuple[str, ...]]:
    """One row per rule, in code order."""
    from shapecheck.rules import all_rules

    return [(r.code, r.name, r.severity.value, "on" if r.default else "off", r.summary) for r in all_rules()]


def run(args: argparse.Namespace) -> int:
    from shapecheck.report.rule_pages import render_rule_page
    from shapecheck.rules import get_rule

    if args.all == bool(args.code):
        raise SpecError("give one rule code (shapecheck rule SC201) or --all, not both or neither")
    if args.code:
        sys.stdout.write(render_rule_page(get_rule(args.code)))
        return 0
    rows = [HEADERS, *rule_table()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        sys.stdout.write("  ".join([*cells, row[-1]]) + "\n")
    return 0
