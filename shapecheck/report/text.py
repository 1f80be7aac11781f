"""The text format: one line per finding that editors and terminals can jump to, then its details.

::

    model.onnx:/ups.0/Concat (Concat) SC201 Concat joins tensors of different sizes on axis 2: ...
      related: /downs.2/pool/MaxPool (MaxPool) floor-loss: its floor maps 9 to 4 on axis 2: ...
      fix: set output_padding of '/ups.0/up/ConvTranspose' to [1, 1] — holds for H=W ≡ 4, 5, 6, 7 (mod 8), ...

A YAML finding starts with ``path:line:col:`` instead, the form compilers use, so that an editor opens the
layer; the node name stays in the line because a ``line:col`` alone does not say which layer a reader is
looking at. ONNX files have no lines, so there the node name *is* the location. A finding with related
nodes or fixes is set off by blank lines; one-line findings stay together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from shapecheck.findings import Finding, Severity
from shapecheck.report._common import error_parts, fix_text, related_text, summary
from shapecheck.report.formats import renderer

if TYPE_CHECKING:
    from shapecheck.check import FileReport

__all__ = ["finding_lines", "render_text"]

# Plain ANSI escapes: a handful of styles do not justify importing rich on every CI run.
_RESET = "\x1b[0m"
_STYLES = {
    "path": "\x1b[1m",
    "dim": "\x1b[2m",
    "summary": "\x1b[1m",
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.INFO: "\x1b[1;36m",
}


class _Painter:
    """Wraps text in an ANSI style when colour is on, and returns it unchanged otherwise."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: object) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if self.color and text else text


def _where(finding: Finding) -> str:
    return f"{finding.node} ({finding.op})" if finding.op else str(finding.node)


def finding_lines(path: str, finding: Finding, paint: _Painter | None = None) -> list[str]:
    """The head line of a finding and its ``related:`` and ``fix:`` lines."""
    paint = paint or _Painter(False)
    if finding.line is not None:
        location = f"{path}:{finding.line}:{finding.column or 1}:"
        node = f" {_where(finding)}" if finding.node else ""
    else:
        location = f"{path}:{_where(finding)}" if finding.node else f"{path}:"
        node = ""
    head = f"{paint(location, 'path')}{node} {paint(finding.code, finding.severity)} {finding.message}"
    lines = [head]
    for related in finding.related:
        lines.append(paint(f"  related: {related_text(related)}", "dim"))
    lines.extend(paint(f"  fix: {fix_text(fix)}", "dim") for fix in finding.fixes)
    return lines


def _error_line(report: FileReport, paint: _Painter) -> str:
    place, message = error_parts(report)
    location = f"{report.path}:{place}:" if place else f"{report.path}:"
    return f"{paint(location, 'path')} {paint('error', Severity.ERROR)}: {message}"


@renderer("text")
def render_text(reports: Sequence[FileReport], out: TextIO, *, color: bool = False) -> None:
    """Findings file by file in the order checked, load errors where the file would be, then a summary."""
    paint = _Painter(color)
    blocks: list[list[str]] = []
    for report in reports:
        if report.error is not None:
            blocks.append([_error_line(report, paint)])
        blocks.extend(finding_lines(report.path, finding, paint) for finding in report.findings)
    previous: list[str] | None = None
    for block in blocks:
        if previous is not None and (len(previous) > 1 or len(block) > 1):
            out.write("\n")
        out.write("\n".join(block) + "\n")
        previous = block
    if blocks:
        out.write("\n")
    out.write(paint(summary(reports), "summary") + "\n")
