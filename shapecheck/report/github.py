"""The GitHub Actions format: one workflow command per finding, shown as an annotation on the file.

``::error file=PATH,line=N,col=C,title=SC201::message`` (``::warning``, ``::notice`` for infos). An ONNX
file has no lines, so its annotations sit on line 1 and the message starts with the node. Related nodes
and fixes follow on further lines of the same message. Escaping follows GitHub's runner
(``toolkit/packages/core/src/command.ts``): ``%``, CR and LF in the message; additionally ``:`` and ``,``
in property values, which would otherwise end the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from shapecheck.findings import Finding, Severity
from shapecheck.report._common import error_line_column, error_parts, fix_text, related_text
from shapecheck.report.formats import renderer

if TYPE_CHECKING:
    from shapecheck.check import FileReport

__all__ = ["escape_data", "escape_property", "render_github"]

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, path: str, line: int, column: int | None, title: str, message: str) -> str:
    properties = [f"file={escape_property(path)}", f"line={line}"]
    if column is not None:
        properties.append(f"col={column}")
    properties.append(f"title={escape_property(title)}")
    return f"::{kind} {','.join(properties)}::{escape_data(message)}"


def _message(finding: Finding) -> str:
    head = finding.message
    if finding.node:
        where = f"{finding.node} ({finding.op})" if finding.op else finding.node
        head = f"{where}: {head}"
    lines = [head]
    lines += [f"related: {related_text(r)}" for r in finding.related]
    lines += [f"fix: {fix_text(fix)}" for fix in finding.fixes]
    return "\n".join(lines)


@renderer("github")
def render_github(reports: Sequence[FileReport], out: TextIO, *, color: bool = False) -> None:
    """One command per finding and per unreadable file; nothing else (``color`` is ignored)."""
    for report in reports:
        path = report.path.replace("\\", "/")
        if report.error is not None:
            place, message = error_parts(report)
            line, column = error_line_column(place)
            if place and line is None:
                message = f"{place}: {message}"
            out.write(_command("error", path, line or 1, column, "shapecheck: cannot read the model",
                               message) + "\n")
        for finding in report.findings:
            line = finding.line if finding.line is not None else 1
            column = finding.column if finding.line is not None else None
            out.write(_command(COMMANDS[finding.severity], path, line, column, finding.code,
                               _message(finding)) + "\n")
