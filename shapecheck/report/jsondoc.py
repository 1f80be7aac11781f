"""The JSON format of ``shapecheck check`` (version 1), documented in ``docs/json-formats.md``::

    {"version": 1, "tool": {"name": "shapecheck", "version": …},
     "files": [{"path": …, "format": "onnx"|"yaml"|null, "dims": {…}, "error": null | {"message": …},
                "findings": [{"code", "name", "severity", "message", "node", "op", "line", "column",
                              "related": [{"node", "op", "role", "message"}],
                              "fixes": [{"title", "node", "attribute", "value", "holds_for", "safe",
                                         "confirmed"}]}]}],
     "summary": {"files": …, "errors": …, "warnings": …, "infos": …}}

The output is byte-deterministic: findings arrive sorted, every key order is fixed here (never
``sort_keys``, which would put ``code`` after ``column``), and no value depends on hashing or time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from shapecheck import __version__
from shapecheck.report._common import counts, error_parts, finding_record
from shapecheck.report.formats import renderer
from shapecheck.report.values import to_json

if TYPE_CHECKING:
    from shapecheck.check import FileReport

__all__ = ["JSON_VERSION", "check_document", "render_json"]

JSON_VERSION = 1


def _error(report: FileReport) -> dict[str, str] | None:
    if report.error is None:
        return None
    place, message = error_parts(report)
    return {"message": f"{place}: {message}" if place else message}


def check_document(reports: Sequence[FileReport]) -> dict[str, Any]:
    """The versioned document, as plain JSON-ready values."""
    tally = counts(reports)
    return {
        "version": JSON_VERSION,
        "tool": {"name": "shapecheck", "version": __version__},
        "files": [
            {
                "path": report.path,
                "format": report.format,
                "dims": to_json(dict(report.dims)),
                "error": _error(report),
                "findings": [finding_record(finding) for finding in report.findings],
            }
            for report in reports
        ],
        "summary": {key: tally[key] for key in ("files", "errors", "warnings", "infos")},
    }


@renderer("json")
def render_json(reports: Sequence[FileReport], out: TextIO, *, color: bool = False) -> None:
    """Two-space indents, ASCII escapes (safe on any console encoding), a final newline; no colour."""
    out.write(json.dumps(check_document(reports), indent=2) + "\n")
