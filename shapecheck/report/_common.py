"""What every output format of ``shapecheck check`` shares: counts, error places, finding records.

The JSON document and SARIF's ``properties`` describe a finding with the same records, and the text and
GitHub formats print the same summary, so these live once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shapecheck.findings import Finding, Fix, Related, Severity
from shapecheck.report.values import to_json

if TYPE_CHECKING:
    from shapecheck.check import FileReport

__all__ = ["counts", "error_line_column", "error_parts", "finding_record", "fix_record", "fix_text", "plural",
           "related_record", "related_text", "summary"]


def counts(reports: Sequence[FileReport]) -> dict[str, int]:
    """``files``, ``errors``, ``warnings``, ``infos`` (findings by their own severity), ``unreadable``."""
    tally = {severity: 0 for severity in Severity}
    for report in reports:
        for finding in report.findings:
            tally[finding.severity] += 1
    return {
        "files": len(reports),
        "errors": tally[Severity.ERROR],
        "warnings": tally[Severity.WARNING],
        "infos": tally[Severity.INFO],
        "unreadable": sum(1 for report in reports if report.error is not None),
    }


def plural(count: int, word: str) -> str:
    """``1 error``, ``2 errors``, ``0 infos``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(reports: Sequence[FileReport]) -> str:
    """The last line of the text format: ``Found 2 errors, 1 warning, 0 infos in 3 files.``"""
    tally = counts(reports)
    if not any(tally[key] for key in ("errors", "warnings", "infos", "unreadable")):
        return "All checks passed."
    line = (f"Found {plural(tally['errors'], 'error')}, {plural(tally['warnings'], 'warning')}, "
            f"{plural(tally['infos'], 'info')} in {plural(tally['files'], 'file')}")
    if tally["unreadable"]:
        line += f"; {tally['unreadable']} could not be read"
    return line + "."


def error_parts(report: FileReport) -> tuple[str | None, str]:
    """A load error split into its place inside the file (``2:1``, ``node 'conv0'``, or None) and message.

    :class:`FileReport` keeps the error as the one line the loader wrote, ``path[:place]: message``; the
    formats put the path (and a YAML ``line:col``) in their own location fields, so it is taken off here.
    """
    text = report.error or ""
    rest = text[len(report.path):] if text.startswith(report.path) else None
    if rest is None or not rest.startswith(":"):
        return None, text
    if rest.startswith(": "):
        return None, rest[2:]
    place, sep, message = rest[1:].partition(": ")
    return (place, message) if sep else (None, rest[1:].strip())


def error_line_column(place: str | None) -> tuple[int | None, int | None]:
    """``"2:1"`` → ``(2, 1)``; any other place (an ONNX node) has no line."""
    if place:
        parts = place.split(":")
        if len(parts) == 2 and all(part.isdigit() for part in parts):
            return int(parts[0]), int(parts[1])
    return None, None


def related_text(related: Related) -> str:
    """``node (Op) role: message`` — how the text and GitHub formats show a related node."""
    return f"{related.node} ({related.op}) {related.role}: {related.message}"


def fix_text(fix: Fix) -> str:
    """``title — holds for …; safe|unsafe; confirmed by execution|not confirmed``."""
    safety = "safe" if fix.safe else "unsafe"
    confirmation = "confirmed by execution" if fix.confirmed else "not confirmed"
    if not fix.confirmed and fix.note:
        confirmation += f" ({fix.note})"
    return f"{fix.title} — holds for {fix.holds_for}; {safety}; {confirmation}"


def related_record(related: Related) -> dict[str, Any]:
    return {"node": related.node, "op": related.op, "role": related.role, "message": related.message}


def fix_record(fix: Fix) -> dict[str, Any]:
    return {
        "title": fix.title,
        "node": fix.node,
        "attribute": fix.attribute,
        "value": to_json(fix.value),
        "holds_for": fix.holds_for,
        "safe": fix.safe,
        "confirmed": fix.confirmed,
    }


def finding_record(finding: Finding) -> dict[str, Any]:
    """One finding as documented in ``docs/json-formats.md`` (key order is part of the format)."""
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "message": finding.message,
        "node": finding.node,
        "op": finding.op,
        "line": finding.line,
        "column": finding.column,
        "related": [related_record(r) for r in finding.related],
        "fixes": [fix_record(f) for f in finding.fixes],
    }
