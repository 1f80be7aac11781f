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

#: At most this many fixes are applied to one model (a U-Net has one per level).
MAX_FIXES = 64


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


def _pick(report: Any, fmt: str, done: set[tuple[str, str]]) -> Any:
    from shapecheck.findings import Severity

    allowed = {"output_padding", "ceil_mode", "pads"} | ({"output_shape"} if fmt == "onnx" else set())
    for finding in report.findings:
        if finding.severity is not Severity.ERROR:
            continue
        for fix in finding.fixes:
            if fix.kind == "attribute" and fix.safe and fix.attribute in allowed and \
                    (fix.node, fix.attribute) not in done:
                return fix
    return None


def run(args: argparse.Namespace) -> int:
    from shapecheck.apply import apply_to_onnx, apply_to_yaml, yaml_edits
    from shapecheck.check import check_file, check_graph
    from shapecheck.errors import SpecError
    from shapecheck.findings import Severity
    from shapecheck.load import load_model
    from shapecheck.verify import Patch, apply_patches

    if not args.output and not args.diff:
        raise SpecError("fix needs -o OUT (where to write the fixed model) or --diff")
    dims = parse_dims(args.dim)
    shapes = parse_input_shapes(args.input_shape)
    graph = load_model(args.model)
    original = graph
    applied = []
    done: set[tuple[str, str]] = set()
    for _ in range(MAX_FIXES):
        report = check_graph(graph, dims=dims, input_shapes=shapes)
        fix = _pick(report, graph.format, done)
        if fix is None:
            break
        done.add((fix.node, fix.attribute))
        applied.append(fix)
        graph = apply_patches(graph, [Patch(fix.node, {fix.attribute: tuple(fix.value) if isinstance(
            fix.value, list) else fix.value})])
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
    if original.format == "onnx":
        apply_to_onnx(args.model, applied, args.output)
    else:
        locations = {n.name: (n.location.line, n.location.column) for n in original.nodes.values() if n.location}
        with open(args.model, encoding="utf-8") as source:
            text = source.read()
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(apply_to_yaml(text, yaml_edits(applied, locations), args.model))
        if args.diff:
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
