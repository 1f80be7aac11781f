"""Helpers for putting a model check into a test suite: one line per model.

::

    from shapecheck.testing import assert_no_findings

    def test_unet_shapes():
        assert_no_findings("models/unet.onnx", dims={"H": 256, "W": 256})

A failing assertion shows the findings as ``shapecheck check`` prints them — the node, the root cause
and the verified fix — so the test output says what to change, not only that something is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from shapecheck.api import Model, Report, check
from shapecheck.findings import Severity

__all__ = ["assert_no_findings"]


def assert_no_findings(
    model: Model,
    *,
    dims: Mapping[str, int] | None = None,
    select: Iterable[str] | str | None = None,
    ignore: Iterable[str] | str | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    severity: Severity | str = "info",
) -> Report:
    """Check ``model`` and raise ``AssertionError`` if any finding of ``severity`` or worse is reported.

    By default every finding counts, coverage notes (SC1xx, infos) included: a test that says "no
    findings" should not pass over an op shapecheck could not check. Pass ``severity="warning"`` to allow
    infos, or ``ignore=["SC101"]`` to allow one kind. Returns the report when the assertion holds.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    report = check(model, dims=dims, select=select, ignore=ignore, input_shapes=input_shapes)
    found = report.at_least(severity)
    if found:
        from shapecheck.report.text import finding_lines

        lines = [line for finding in found for line in finding_lines(report.path, finding)]
        count = f"{len(found)} finding{'s' if len(found) != 1 else ''}"
        raise AssertionError(f"shapecheck: {count} in {report.path}:\n" + "\n".join(lines))
    return report
