"""``shapecheck fix MODEL -o OUT``: apply the top-ranked safe fix of each error, then re-check.

Fixes are applied one at a time, in topological order, re-checking after each: a fix at one level of a
U-Net can change the sizes another level sees, so fixes computed on the unpatched model are not simply
added up. Only attribute changes are written (output_padding, output_shape, ceil_mode, pads); changing
the input size is advice for the caller, not an edit of the model.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shapecheck.commands._options import add_model_options, parse_dims, parse_input_shapes


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fix",
        help="apply verified fixes (output_padding, …) and write the fixed model",
        description="Check a model, apply the top-ranked safe fix of each error one at a time "
        "(re-checking after each), write the result, and report what is left.",
    )
    parser.add_argument("model", help="an .onnx, .yaml or .yml file")
    add_model_options(parser)
    parser.add_argument("-o", "--output", help="where to write the fixed model")
    parser.add_argument("--diff", action="store_true", help="show the changes without writing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from shapecheck.api import apply_fixes, write_fixed
    from shapecheck.check import check_file, check_graph
    from shapecheck.errors import SpecError
    from shapecheck.findings import Severity
    from shapecheck.load import load_model

    if not args.output and not args.diff:
        raise SpecError("fix needs -o OUT (where to write the fixed model) or --diff")
    dims = parse_dims(args.dim)
    shapes = parse_input_shapes(args.input_shape)
    original = load_model(args.model)
    _, applied = apply_fixes(original, dims=dims, input_shapes=shapes)
    if not applied:
        print(f"{args.model}: nothing to fix automatically")
        left = check_graph(original, dims=dims, input_shapes=shapes)
        return _report_left(left, Severity)
    for fix in applied:
        before = original.nodes[fix.node].attr(fix.attribute)
        shown = "(unset)" if before is None else list(before) if isinstance(before, tuple) else before
        print(f"{args.model}: {fix.node}: {fix.attribute} {shown} -> {fix.value}  ({fix.title}; holds for "
              f"{fix.holds_for}; {'confirmed by execution' if fix.confirmed else 'not confirmed by execution'})")
    if args.diff and not args.output:
        if original.format == "yaml":
            _print_yaml_diff(args.model, applied, original)
        return 0
    write_fixed(args.model, applied, args.output, original)
    if original.format == "yaml" and args.diff:
        _print_yaml_diff(args.model, applied, original)
    print(f"wrote {args.output}")
    left = check_file(args.output, dims=dims, input_shapes=shapes)
    if left.error:
        raise SpecError(f"the fixed model could not be re-read: {left.error}")
    return _report_left(left, Severity)


def _report_left(report: Any, severity: Any) -> int:
    errors = [f for f in report.findings if f.severity is severity.ERROR]
    warnings = [f for f in report.findings if f.severity is severity.WARNING]
    for finding in errors + warnings:
        print(f"left: {finding.severity.value} {finding.code} at {finding.node}: {finding.message}")
    print(f"re-checked: {len(errors)} error(s), {len(warnings)} warning(s) left")
    return 1 if errors else 0


def _print_yaml_diff(path: str, applied: list[Any], original: Any) -> None:
    import difflib

    from shapecheck.apply import apply_to_yaml, yaml_edits

    locations = {n.name: (n.location.line, n.location.column) for n in original.nodes.values() if n.location}
    with open(path, encoding="utf-8") as source:
        text = source.read()
    fixed = apply_to_yaml(text, yaml_edits(applied, locations), path)
    sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), fixed.splitlines(True), path, path + " (fixed)"))
