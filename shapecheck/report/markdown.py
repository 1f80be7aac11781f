"""Markdown summaries: compact enough for ``$GITHUB_STEP_SUMMARY`` and a pull-request comment.

``check --format markdown`` writes one heading with the counts and one table row per finding (where,
what, the top verified fix); ``inspect --format markdown`` adds the model's node table, folded in a
``<details>`` block so that a 200-node model does not bury the findings. GitHub renders the HTML that
Markdown allows, so text from the model (node names, messages) is escaped: a ``|`` would split a table
cell, a ``<`` could open a tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from shapecheck.findings import Finding
from shapecheck.report._common import counts, error_parts, plural
from shapecheck.report.formats import renderer

if TYPE_CHECKING:
    from shapecheck.check import FileReport
    from shapecheck.report.graphview import ModelView

__all__ = ["cell", "findings_table", "render_markdown", "write_inspect_markdown"]

_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


def cell(text: object) -> str:
    """Text made safe for one table cell: no line breaks, ``|`` escaped, HTML's ``<``, ``>``, ``&`` escaped."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{cell(text)}{pad}{fence}"


def _fix(finding: Finding) -> str:
    if not finding.fixes:
        return ""
    fix = finding.fixes[0]
    mark = "✓ " if fix.confirmed else ""
    more = f" (+{len(finding.fixes) - 1} more)" if len(finding.fixes) > 1 else ""
    return f"{mark}{cell(fix.title)} — holds for {cell(fix.holds_for)}{more}"


def _where(path: str | None, finding: Finding) -> str:
    parts = []
    if path is not None:
        place = f"{path}:{finding.line}:{finding.column or 1}" if finding.line is not None else path
        parts.append(_code(place))
    if finding.node:
        parts.append(_code(finding.node))
    return " ".join(parts)


def findings_table(rows: Sequence[tuple[str | None, Finding]]) -> list[str]:
    """A table of findings, each given with its file's path (or None when the heading already says it)."""
    lines = ["| | Code | Where | Message | Fix |", "| --- | --- | --- | --- | --- |"]
    for path, finding in rows:
        severity = finding.severity.value
        lines.append(f"| {_ICON[severity]} {severity} | {finding.code} {cell(finding.name)} | "
                     f"{_where(path, finding)} | {cell(finding.message)} | {_fix(finding)} |")
    return lines


def _headline(reports: Sequence[FileReport]) -> str:
    tally = counts(reports)
    if not any(tally[key] for key in ("errors", "warnings", "infos", "unreadable")):
        return f"### shapecheck: ✅ all checks passed ({plural(tally['files'], 'file')})"
    icon = "❌" if tally["errors"] or tally["unreadable"] else "⚠️" if tally["warnings"] else "ℹ️"
    text = (f"{plural(tally['errors'], 'error')}, {plural(tally['warnings'], 'warning')}, "
            f"{plural(tally['infos'], 'info')} in {plural(tally['files'], 'file')}")
    if tally["unreadable"]:
        text += f"; {tally['unreadable']} could not be read"
    return f"### shapecheck: {icon} {text}"


@renderer("markdown")
def render_markdown(reports: Sequence[FileReport], out: TextIO, *, color: bool = False) -> None:
    """A heading with the counts, a table of every finding, and the files that could not be read."""
    lines = [_headline(reports), ""]
    rows = [(report.path, finding) for report in reports for finding in report.findings]
    if rows:
        lines += [*findings_table(rows), ""]
    unreadable = [report for report in reports if report.error is not None]
    if unreadable:
        lines.append("Could not be read:")
        lines += [f"- {_code(report.path)}: {cell(error_parts(report)[1])}" for report in unreadable]
        lines.append("")
    out.write("\n".join(lines))


def write_inspect_markdown(view: ModelView, out: TextIO) -> None:
    """``inspect --format markdown``: the model's findings, then its nodes in a folded table, then notes."""
    nodes = [n for n in view.nodes if n.kind == "node"]
    meta = [view.format or "?"]
    if view.dims:
        meta.append(", ".join(f"{k}={v}" for k, v in view.dims.items()))
    if view.symbols:
        meta.append("symbolic " + ", ".join(view.symbols))
    meta.append(plural(len(nodes), "node"))
    tally = {s: sum(1 for f in view.findings if f.severity.value == s) for s in ("error", "warning", "info")}
    meta.append(", ".join(plural(c, s) for s, c in tally.items() if c) or "no findings")
    lines = [f"### shapecheck inspect: {_code(view.path)}", "", cell(" · ".join(meta)), ""]
    if view.findings:
        lines += [*findings_table([(None, f) for f in view.findings]), ""]
    data_inputs: dict[str, list[str]] = {}
    for edge in view.edges:
        data_inputs.setdefault(edge.target, []).append(edge.label)
    lines += [f"<details><summary>{plural(len(nodes), 'node')}</summary>", "",
              "| node | op | attributes | input | output | floor rem. |", "| --- | --- | --- | --- | --- | --- |"]
    for node in nodes:
        outputs = "  ".join(shape for _, shape in node.outputs)
        lines.append(f"| {_code(node.name)} | {cell(node.op)} | {cell(node.attrs)} | "
                     f"{cell('  '.join(data_inputs.get(node.id, ())))} | {cell(outputs)} | {cell(node.remainder)} |")
    lines += ["", "</details>", ""]
    if view.notes:
        lines += [f"- note: {cell(n.get('node') or '')}: {cell(n.get('message'))}" for n in view.notes]
        lines.append("")
    out.write("\n".join(lines))
