"""``shapecheck inspect MODEL``: every node's attributes and shapes, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shapecheck.commands._options import add_model_options, parse_dims, parse_input_shapes


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show every node's attributes and tensor shapes",
        description="Load a model (ONNX or YAML), propagate shapes, and print one row per node in "
        "topological order: attributes, input and output shapes, and the floor remainder of strided ops.",
    )
    parser.add_argument("model", help="an .onnx, .yaml or .yml file")
    add_model_options(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
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
    graph = load_model(args.model)
    bindings = {k: v for k, v in graph.dim_defaults.items() if k not in dims} | dims
    result = propagate(graph, dims=bindings, input_shapes=shapes)
    for fact in result.facts_of(FactKind.RANK_MISMATCH):
        if "attribute" in fact.data:  # the model file itself is malformed, not merely mismatched
            raise LoadError(fact.message, path=graph.path, where=f"node {fact.node!r}")
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump(inspect_document(result), out, indent=2)
            out.write("\n")
        else:
            write_inspect_text(result, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
