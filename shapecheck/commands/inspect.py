"""``shapecheck inspect MODEL``: every node's attributes and shapes, as a table, JSON, a drawing or a summary.

The visual formats (``html``, ``dot``, ``markdown``) also run the default rules, because what a reader
wants to see on a drawing is where it breaks: the nodes of each finding are highlighted there.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shapecheck.commands._options import (
    add_max_file_size,
    add_model_options,
    parse_dims,
    parse_input_shapes,
    parse_size,
)

#: Output formats; the last three also check the model and show its findings.
FORMATS: tuple[str, ...] = ("text", "json", "html", "dot", "markdown")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show every node's attributes and tensor shapes",
        description="Load a model (ONNX or YAML), propagate shapes, and print one row per node in "
        "topological order: attributes, input and output shapes, and the floor remainder of strided ops.",
    )
    parser.add_argument("model", help="an .onnx, .yaml or .yml file")
    add_model_options(parser)
    add_max_file_size(parser)
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="output format: text (a table), json (docs/json-formats.md), html (a self-contained "
                        "report with the graph drawn and the findings highlighted), dot (Graphviz), markdown "
                        "(a summary for $GITHUB_STEP_SUMMARY or a pull-request comment)")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from shapecheck.errors import LoadError
    from shapecheck.facts import FactKind
    from shapecheck.load import load_model
    from shapecheck.propagate import propagate
    from shapecheck.report.inspect import inspect_document, write_inspect_text

    dims = parse_dims(args.dim)
    shapes = parse_input_shapes(args.input_shape)
    limit = parse_size("--max-file-size", args.max_file_size) if args.max_file_size else None
    graph = load_model(args.model, max_bytes=limit)
    bindings = {k: v for k, v in graph.dim_defaults.items() if k not in dims} | dims
    result = propagate(graph, dims=bindings, input_shapes=shapes)
    for fact in result.facts_of(FactKind.RANK_MISMATCH):
        if "attribute" in fact.data:  # the model file itself is malformed, not merely mismatched
            raise LoadError(fact.message, path=graph.path, where=f"node {fact.node!r}")
    view = None
    if args.format in ("html", "dot", "markdown"):
        from shapecheck.check import check_graph
        from shapecheck.report.graphview import build_view

        findings = check_graph(graph, dims=bindings, input_shapes=shapes).findings
        view = build_view(result, findings, notes=inspect_document(result)["notes"])
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump(inspect_document(result), out, indent=2)
            out.write("\n")
        elif args.format == "html":
            from shapecheck.report.html import write_html

            write_html([view], out, title=f"shapecheck inspect: {graph.path}", summary_line=_summary(view))
        elif args.format == "dot":
            from shapecheck.report.dot import write_dot

            write_dot(view, out)
        elif args.format == "markdown":
            from shapecheck.report.markdown import write_inspect_markdown

            write_inspect_markdown(view, out)
        else:
            write_inspect_text(result, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _summary(view: Any) -> str:
    from shapecheck.report._common import plural

    counts = [sum(1 for f in view.findings if f.severity.value == s) for s in ("error", "warning", "info")]
    found = ", ".join(plural(c, s) for c, s in zip(counts, ("error", "warning", "info")))
    nodes = sum(1 for n in view.nodes if n.kind == "node")
    return f"{plural(nodes, 'node')}; {found if any(counts) else 'no findings'} (default rules)."
