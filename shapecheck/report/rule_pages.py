"""The rule catalogue: one Markdown page per rule, generated from the rule's declaration and docstring.

``python -m shapecheck.report.rule_pages [DIR]`` writes ``DIR/SCxxx.md`` and the index ``DIR/README.md``
(DIR defaults to ``rules``); ``--check`` writes nothing and exits 1 when a page is missing, stale or
left over from a removed rule. ``shapecheck rule SC201`` prints the same text as ``rules/SC201.md``, so
the docs, the terminal and SARIF's ``help.markdown`` can never disagree: each rule is documented once, in
its docstring, as ruff does.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

from shapecheck.rules import HEADINGS, Rule, all_rules

__all__ = ["INDEX", "render_index", "render_rule_page", "stale_pages", "write_pages"]

#: File name of the index page inside the rules directory.
INDEX = "README.md"

_GENERATED = ("<!-- Generated from the rule's declaration by `python -m shapecheck.report.rule_pages`; "
              "do not edit. -->")


def _intro(rule: Rule) -> str:
    """The docstring's opening paragraph(s), before the first heading."""
    return rule.doc.split("\n## ", 1)[0].strip()


def _default(rule: Rule) -> str:
    return "on" if rule.default else f"off (enable it with `--select {rule.code}`)"


def render_rule_page(rule: Rule) -> str:
    """``# SC201 join-size-mismatch``, severity and default, summary, intro, then the four sections."""
    parts = [
        f"# {rule.code} {rule.name}",
        f"**Severity:** {rule.severity.value} · **Default:** {_default(rule)}",
        rule.summary,
    ]
    intro = _intro(rule)
    if intro:
        parts.append(intro)
    for heading in HEADINGS:
        parts.append(f"## {heading}\n\n{rule.section(heading)}")
    parts.append(_GENERATED)
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_index(rules: Sequence[Rule]) -> str:
    """``rules/README.md``: every rule in one table, linking to its page."""
    lines = [
        "# Rules",
        "",
        "Every rule shapecheck checks, by code. Codes are grouped by hundreds: SC1xx what could not be "
        "checked, SC2xx joins and sizes, SC3xx floor loss, SC4xx transposed convolutions, SC5xx runtime "
        "divergence, SC9xx shapecheck contradicting itself.",
        "",
        "Choose rules with `--select` / `--ignore` or in `[tool.shapecheck]` of `pyproject.toml`: code "
        "prefixes, comma-separated, the longest matching prefix wins (`--select SC2 --ignore SC204`). "
        "`shapecheck rule SC201` prints a page in the terminal.",
        "",
        "| Code | Name | Severity | Default | Summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in rules:
        lines.append(f"| [{rule.code}]({rule.code}.md) | {rule.name} | {rule.severity.value} | "
                     f"{'on' if rule.default else 'off'} | {_cell(rule.summary)} |")
    lines += ["", _GENERATED]
    return "\n".join(lines) + "\n"


def _expected(rules: Sequence[Rule]) -> dict[str, str]:
    pages = {f"{rule.code}.md": render_rule_page(rule) for rule in rules}
    pages[INDEX] = render_index(rules)
    return pages


def _existing_rule_pages(directory: str) -> set[str]:
    if not os.path.isdir(directory):
        return set()
    return {name for name in os.listdir(directory) if re.fullmatch(r"SC\d{3}\.md", name)}


def stale_pages(directory: str, rules: Sequence[Rule] | None = None) -> list[str]:
    """Pages under ``directory`` that are missing, differ from their declaration, or have no rule."""
    expected = _expected(all_rules() if rules is None else rules)
    stale = []
    for name, text in expected.items():
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if current != text:
            stale.append(name)
    stale += [name for name in _existing_rule_pages(directory) if name not in expected]
    return sorted(stale)


def write_pages(directory: str, rules: Sequence[Rule] | None = None) -> list[str]:
    """Write every page and the index (LF line ends) and delete pages of removed rules; returns the
    names that changed."""
    rules = all_rules() if rules is None else rules
    changed = stale_pages(directory, rules)
    expected = _expected(rules)
    os.makedirs(directory, exist_ok=True)
    for name in changed:
        path = os.path.join(directory, name)
        if name in expected:
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(expected[name])
        else:
            os.remove(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shapecheck.report.rule_pages",
                                     description="Generate the rule pages from the rule declarations.")
    parser.add_argument("directory", nargs="?", default="rules", help="where the pages go (default: rules)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.directory)
        for name in stale:
            print(f"{os.path.join(args.directory, name)}: stale; run python -m shapecheck.report.rule_pages",
                  file=sys.stderr)
        return 1 if stale else 0
    for name in write_pages(args.directory):
        print(f"wrote {os.path.join(args.directory, name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
