"""The check pipeline for one model: load → propagate → expectations → rules → sorted findings.

Configuration arrives resolved (dims, selected codes); nothing here reads files other than the model.
A file that cannot be loaded yields a :class:`FileReport` with ``error`` set, so that checking a folder
reports every other file all the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shapecheck.errors import ShapecheckError
from shapecheck.findings import Finding
from shapecheck.graph import ModelGraph

__all__ = ["FileReport", "check_file", "check_graph"]


@dataclass(frozen=True)
class FileReport:
    """The outcome of checking one file: its findings, or the error that stopped it from loading."""

    path: str
    format: str | None
    dims: Mapping[str, int] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    symbols: tuple[str, ...] = ()
    #: ``--input-shape`` replacements the file was checked with (the HTML report re-propagates with them).
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


def _format_of(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(".onnx"):
        return "onnx"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    return None


def check_graph(
    graph: ModelGraph,
    *,
    dims: Mapping[str, int] | None = None,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    codes: Iterable[str] | None = None,
    confirm: bool = True,
    memory_budget: int = 256 << 20,
) -> FileReport:
    """Check a loaded graph. ``codes`` restricts the rules run (default: the rules on by default)."""
    from shapecheck.expect import check_expectations
    from shapecheck.propagate import propagate
    from shapecheck.rules import all_rules, selected_codes
    from shapecheck.rules.analysis import Analysis

    known = set(graph.symbols())
    given = {k: v for k, v in (dims or {}).items() if k in known}  # a folder's models differ in symbols
    bindings = {k: v for k, v in graph.dim_defaults.items() if k not in given} | given
    result = propagate(graph, dims=bindings, input_shapes=input_shapes)
    result.facts.extend(check_expectations(graph, result))
    analysis = Analysis(result, confirm=confirm, memory_budget=memory_budget)
    chosen = set(codes) if codes is not None else selected_codes()
    findings: list[Finding] = []
    for declared in all_rules():
        if declared.code in chosen:
            findings.extend(declared.check(analysis))
    unbound = tuple(s for s in graph.symbols() if s not in bindings)
    return FileReport(graph.path, graph.format, bindings, tuple(sorted(findings)), None, unbound,
                      dict(input_shapes or {}))


def check_file(path: str, *, max_file_size: int | None = None, **options: Any) -> FileReport:
    """Load and check one file; a load error becomes ``FileReport.error`` instead of an exception.

    ``max_file_size`` caps the bytes read (default: the loader's, per format); ``options`` go to
    :func:`check_graph`.
    """
    from shapecheck.load import load_model

    try:
        graph = load_model(path, max_bytes=max_file_size)
        return check_graph(graph, **options)
    except ShapecheckError as error:
        return FileReport(path, _format_of(path), error=str(error))
