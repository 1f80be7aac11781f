"""The SARIF 2.1.0 format, for GitHub code scanning and other SARIF viewers; valid against the OASIS schema.

One run. ``tool.driver.rules`` lists every declared rule (so a viewer can show the help of any code) with
its generated Markdown page as ``help.markdown``; each result points at its rule by ``ruleId`` and
``ruleIndex``.

Locations: an ONNX file has no lines, so a result there gets the artifact alone plus a *logical*
location naming the node (kind ``member``: a node is a member of the graph); a YAML finding adds a
``region`` with the layer's line and column. Related nodes become ``relatedLocations``. Fixes go into the
result's ``properties``: SARIF's own ``fixes`` must be byte replacements in the artifact, which an
attribute change in a protobuf is not. A file that could not be read is a tool execution notification
(it is not a finding about the model) and makes ``executionSuccessful`` false.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from shapecheck import __version__
from shapecheck.findings import Finding, Related, Severity
from shapecheck.report._common import error_line_column, error_parts, fix_record, related_text
from shapecheck.report.formats import renderer

if TYPE_CHECKING:
    from shapecheck.check import FileReport
    from shapecheck.rules import Rule

__all__ = ["INFORMATION_URI", "SARIF_SCHEMA", "render_sarif", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/shapecheck/"

#: SARIF has no "info" level; "note" is its equivalent.
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_uri(path: str) -> str:
    """A relative URI reference with forward slashes (relative to the working directory when possible)."""
    if os.path.isabs(path):
        try:
            path = os.path.relpath(path)
        except ValueError:  # another drive on Windows: keep it absolute, as a file URI
            return "file:///" + quote(path.replace(os.sep, "/").lstrip("/"), safe="/:")
    return quote(path.replace(os.sep, "/"), safe="/")


def _logical(node: str, op: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {"name": node, "kind": "member"}
    if op:
        location["properties"] = {"op": op}
    return location


def _location(uri: str, finding: Finding) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if finding.line is not None:
        physical["region"] = {"startLine": finding.line, "startColumn": finding.column or 1}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.node:
        location["logicalLocations"] = [_logical(finding.node, finding.op)]
    return location


def _related(uri: str, index: int, related: Related) -> dict[str, Any]:
    return {
        "id": index,
        "message": {"text": related_text(related)},
        "physicalLocation": {"artifactLocation": {"uri": uri}},
        "logicalLocations": [_logical(related.node, related.op)],
    }


def _fingerprint(uri: str, finding: Finding) -> str:
    """Stable across runs and sizes (no message text), so code scanning tracks one alert per node."""
    return hashlib.sha256(f"{uri}\0{finding.code}\0{finding.node or ''}".encode()).hexdigest()[:32]


def _result(report: FileReport, finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    uri = artifact_uri(report.path)
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index[finding.code],
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(uri, finding)],
    }
    if finding.related:
        result["relatedLocations"] = [_related(uri, i, r) for i, r in enumerate(finding.related, 1)]
    result["partialFingerprints"] = {"shapecheckNode/v1": _fingerprint(uri, finding)}
    result["properties"] = {"name": finding.name, "fixes": [fix_record(fix) for fix in finding.fixes]}
    return result


def _rule(declared: Rule) -> dict[str, Any]:
    from shapecheck.report.rule_pages import render_rule_page

    page = render_rule_page(declared)
    return {
        "id": declared.code,
        "name": declared.name,
        "shortDescription": {"text": declared.summary},
        "fullDescription": {"text": declared.section("What it does") or declared.summary},
        "help": {"text": page, "markdown": page},
        "defaultConfiguration": {"enabled": declared.default, "level": LEVELS[declared.severity]},
    }


def _notification(report: FileReport) -> dict[str, Any]:
    place, message = error_parts(report)
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(report.path)}}
    line, column = error_line_column(place)
    if line is not None:
        physical["region"] = {"startLine": line, "startColumn": column or 1}
    return {
        "level": "error",
        "message": {"text": report.error or message},
        "locations": [{"physicalLocation": physical}],
        "descriptor": {"id": "load-error"},
    }


def sarif_log(reports: Sequence[FileReport]) -> dict[str, Any]:
    """The SARIF log as plain JSON-ready values."""
    from shapecheck.rules import all_rules

    rules = all_rules()
    rule_index = {declared.code: i for i, declared in enumerate(rules)}
    results = [_result(report, finding, rule_index) for report in reports for finding in report.findings]
    notifications = [_notification(report) for report in reports if report.error is not None]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "shapecheck",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(declared) for declared in rules],
                    }
                },
                "invocations": [
                    {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


@renderer("sarif")
def render_sarif(reports: Sequence[FileReport], out: TextIO, *, color: bool = False) -> None:
    """Write the SARIF log (deterministic, like the JSON format; ``color`` is ignored)."""
    out.write(json.dumps(sarif_log(reports), indent=2) + "\n")
