"""The CLI reference, ``docs/cli.md``, generated from the argparse parser that the command line runs.

``python -m shapecheck.report.cli_reference`` writes it; ``--check`` writes nothing and exits 1 when the
file differs from what the parser says (a test runs the same comparison, so an option added without
regenerating the page fails the suite). Every command, subcommand, argument, choice and default comes
from :func:`shapecheck.cli.build_parser`, so the page cannot describe an option that does not exist.

The page is built from the parser's actions, not from ``format_help()``: argparse's help layout depends
on the terminal width and changes between Python versions, and the reference must not.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Sequence

__all__ = ["DEFAULT_PATH", "render_cli_reference"]

#: Where the page lives, relative to the repository root.
DEFAULT_PATH = os.path.join("docs", "cli.md")

_GENERATED = ("<!-- Generated from shapecheck's argparse parser by `python -m shapecheck.report.cli_reference`; "
              "do not edit. -->")


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """``(name, parser, one-line help)`` of each subcommand, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias (calc convt) of a command already listed
                    continue
                seen.add(id(sub))
                yield name, sub, helps.get(name, "")


def _aliases(parser: argparse.ArgumentParser) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names.setdefault(id(sub), []).append(name)
    return names


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        return action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "{" + ",".join(map(str, action.choices)) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _usage_item(action: argparse.Action) -> str:
    metavar = _metavar(action)
    if action.option_strings:
        flag = action.option_strings[0]
        text = f"{flag} {metavar}" if _takes_value(action) else flag
        return text if action.required else f"[{text}]"
    if action.nargs == "+":
        return f"{metavar} [{metavar} ...]"
    if action.nargs == "*":
        return f"[{metavar} ...]"
    if action.nargs == "?":
        return f"[{metavar}]"
    if action.nargs == argparse.REMAINDER or isinstance(action, argparse._SubParsersAction):
        return f"{metavar} ..."
    return metavar


def _visible(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]


def _usage(prog: str, parser: argparse.ArgumentParser) -> str:
    return " ".join([prog, *(_usage_item(a) for a in _visible(parser))])


def _help(action: argparse.Action) -> str:
    text = " ".join((action.help or "").split())
    if "%(" in text:
        text = text % {**vars(action), "prog": "shapecheck"}
    return text


def _default(action: argparse.Action) -> str:
    value = action.default
    if value in (None, False, [], argparse.SUPPRESS) or not _takes_value(action):
        return ""
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _paragraph(text: str | None) -> list[str]:
    """A description: one paragraph, or a fenced block when it is laid out in columns by hand."""
    if not text:
        return []
    if re.search(r"\n\s{2,}\S", text):
        return ["```text", text.strip("\n"), "```", ""]
    return [" ".join(text.split()), ""]


def _parser_section(prog: str, parser: argparse.ArgumentParser, level: int, summary: str) -> list[str]:
    lines = [f"{'#' * level} `{prog}`", ""]
    if summary:
        lines += [f"*{_cell(' '.join(summary.split()))}*", ""]
    lines += _paragraph(parser.description)
    lines += ["```text", _usage(prog, parser), "```", ""]
    groups = [(g.title, g.description, [a for a in g._group_actions if a in _visible(parser)])
              for g in parser._action_groups]
    rows = ["| argument | value | default | meaning |", "| --- | --- | --- | --- |"]
    extra: list[str] = []
    for title, description, actions in groups:
        for action in actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            names = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{_metavar(action)}`"
            value = f"`{_metavar(action)}`" if action.option_strings and _takes_value(action) else ""
            repeat = " (repeatable)" if isinstance(action, argparse._AppendAction) and \
                "repeatable" not in _help(action) else ""
            rows.append(f"| {names} | {_cell(value)} | {_default(action)} | {_cell(_help(action))}{repeat} |")
        if description:
            extra += [f"{'#' * (level + 1)} {title}", "", "```text", description.strip("\n"), "```", ""]
    if len(rows) > 2:
        lines += [*rows, ""]
    lines += extra
    if parser.epilog:
        lines += ["```text", parser.epilog.strip("\n"), "```", ""]
    aliases = _aliases(parser)
    for name, sub, help_text in _subcommands(parser):
        others = [a for a in aliases.get(id(sub), []) if a != name]
        section = _parser_section(f"{prog} {name}", sub, min(level + 1, 4), help_text)
        if others:
            section[2:2] = [f"Also: {', '.join(f'`{prog} {a}`' for a in others)}.", ""]
        lines += section
    return lines


def render_cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """The Markdown page for ``parser`` (default: shapecheck's own)."""
    if parser is None:
        from shapecheck.cli import build_parser

        parser = build_parser()
    lines = [
        "# Command-line reference",
        "",
        "Every command and option of `shapecheck`, generated from the parser itself (`shapecheck COMMAND "
        "--help` prints the same, formatted for the terminal). Exit codes: 0 clean, 1 findings (`check`, "
        "`fix`), 2 bad input, bad usage or a model that could not be read.",
        "",
        "Commands: " + ", ".join(f"[`{name}`](#shapecheck-{name})" for name, _, _ in _subcommands(parser)) + ".",
        "",
    ]
    lines += _parser_section("shapecheck", parser, 2, "")
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join([*lines, "", _GENERATED]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shapecheck.report.cli_reference",
                                     description="Generate docs/cli.md from shapecheck's argparse parser.")
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH, help=f"the page (default: {DEFAULT_PATH})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the page is stale")
    args = parser.parse_args(argv)
    text = render_cli_reference()
    try:
        with open(args.path, encoding="utf-8", newline="") as handle:
            current = handle.read()
    except FileNotFoundError:
        current = None
    if args.check:
        if current != text:
            print(f"{args.path}: stale; run python -m shapecheck.report.cli_reference", file=sys.stderr)
            return 1
        return 0
    if current != text:
        os.makedirs(os.path.dirname(args.path) or ".", exist_ok=True)
        with open(args.path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
