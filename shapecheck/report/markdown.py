"""Markdown summaries: compact enough for ``$GITHUB_STEP_SUMMARY`` and a pull-request comment.

``check --format markdown`` writes one heading with the counts and one table row per finding (where,
what, the top verified fix); ``inspect --format markdown`` adds the model's node table, folded in a
``<details>`` block so that a 200-node model does not bury the findings; :func:`write_sizes_markdown`
summarises ``shapecheck sizes`` (from its documented JSON document, so it follows that format's
versioning rather than the analysis internals). GitHub renders the HTML that
Markdown allows, so text from the model (node names, messages) is escaped: a ``|`` would split a table
cell, a ``<`` could open a tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from shapecheck.findings import Finding
from shapecheck.report._common import counts, error_parts, plural
from shapecheck.report.formats import renderer

if TYPE_CHECKING:
    from shapecheck.check import FileReport
    from shapecheck.report.graphview import ModelView
    from shapecheck.sizes import SizeAnalysis

__all__ = ["cell", "findings_table", "render_markdown", "write_inspect_markdown", "write_sizes_markdown"]

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


def _size_runs(runs: Sequence[Sequence[int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _runs_of(values: Sequence[int]) -> list[list[int]]:
    """``[1, 2, 3, 7]`` → ``[[1, 3], [7, 7]]``: residue lists read as ranges."""
    runs: list[list[int]] = []
    for value in sorted(set(values)):
        if runs and runs[-1][1] == value - 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return runs


def _failing_sizes(name: str, failure: dict[str, Any], period: int | None) -> str:
    parts = []
    if failure.get("sizes"):
        parts.append(f"{name} = {_size_runs(failure['sizes'])}")
    if failure.get("residues") and period:
        residues = _size_runs(_runs_of(failure["residues"]))
        parts.append(f"{name} ≡ {residues} (mod {period}) from {failure.get('from')}")
    return "; ".join(parts)


def write_sizes_markdown(analysis: SizeAnalysis, out: TextIO) -> None:
    """``sizes --format markdown``: the verdict, a row per symbolic dim, and where the other sizes fail
    (folded)."""
    from shapecheck.report.sizes import sizes_document

    document = sizes_document(analysis)
    lines = [f"### shapecheck sizes: {_code(str(document['path']))}", ""]
    inputs = ", ".join(f"{_code(name)} " + ("?" if shape is None else "×".join(map(str, shape)))
                       for name, shape in document["inputs"].items())
    static = document.get("static")
    symbols: dict[str, dict[str, Any]] = document.get("symbols", {})
    if static is not None:
        verdict = "✅ runs" if static.get("runs") else f"❌ fails at {_code(str(static.get('node')))}: " \
            f"{cell(static.get('message'))}"
        lines += [f"{verdict} (no symbolic sizes; inputs {inputs})", ""]
    else:
        proven = "proven for every size" if document.get("proven") else "searched, not proven"
        head = "✅ runs at " + " and ".join(cell(s["valid"]) for s in symbols.values()) if document.get("runs") \
            else "❌ no input size runs"
        lines += [f"{head} ({proven}); inputs {inputs}", ""]
    if symbols:
        lines += ["| dim | valid sizes | how | smallest |", "| --- | --- | --- | --- |"]
        for name, entry in symbols.items():
            how = ("✓ proven, " if entry.get("proven") else "searched, ") + cell(entry.get("method", ""))
            if entry.get("searched"):
                how += f" over {entry['searched'][0]}–{entry['searched'][1]}"
            smallest = ", ".join(map(str, entry.get("smallest", [])))
            lines.append(f"| {cell(name)} | {cell(entry.get('valid', ''))} | {how} | {smallest} |")
        lines.append("")
        failures = [(name, failure, entry.get("period"))
                    for name, entry in symbols.items() for failure in entry.get("failures", [])]
        if failures:
            lines += [f"<details><summary>where the other sizes fail ({len(failures)})</summary>", "",
                      "| sizes | fails at | why |", "| --- | --- | --- |"]
            for name, failure, period in failures:
                lines.append(f"| {cell(_failing_sizes(name, failure, period))} | {_code(str(failure.get('node')))} | "
                             f"{cell(failure.get('kind', ''))}: {cell(failure.get('message', ''))} |")
            lines += ["", "</details>", ""]
    for note in document.get("notes", []):
        lines.append(f"- note: {cell(note)}")
    if document.get("notes"):
        lines.append("")
    out.write("\n".join(lines))
