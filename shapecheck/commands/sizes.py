"""``shapecheck sizes MODEL``: every input size the model accepts, proven where the periodic argument holds.

Exit codes: 0 when some size (combination) runs, 1 when none does, 2 for a usage error or a model that
cannot be read. Symbols bound with ``--dim`` are held at their value; the others are analysed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shapecheck.commands._options import MAX_CLI_DIM, add_model_options, parse_dims, parse_input_shapes
from shapecheck.errors import SpecError

__all__ = ["parse_range", "register", "run"]

#: The default search range, as the command line writes it (kept in step with ``sizes.DEFAULT_RANGE``).
_DEFAULT_RANGE = "1..4096"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sizes",
        help="list the input sizes at which a model runs (proven for every size where possible)",
        description="Analyse every symbolic input dim (H, W, L, …) of an ONNX or YAML model and print the "
        "sizes at which no runtime fails: residue classes such as 'H ≡ 0 (mod 8), from 8' plus single "
        "exceptions, proven for every size when the sizes repeat with a period, searched over --range "
        "otherwise (coupled symbols, unknown ops). Failing sizes are grouped by the node where they fail. "
        "Exit 0 when some size runs, 1 when none does, 2 on bad input.",
        epilog="examples:\n  shapecheck sizes unet.onnx\n  shapecheck sizes unet.onnx --dim W=256 --format json\n"
        "  shapecheck sizes encdec.yaml --range 1..1024",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="an .onnx, .yaml or .yml file")
    add_model_options(parser)
    parser.add_argument("--symbol", action="append", default=None, metavar="NAME",
                        help="analyse only this symbol (repeatable); the others are held at a valid size")
    parser.add_argument("--range", default=_DEFAULT_RANGE, metavar="LO..HI",
                        help=f"sizes searched where no period applies, and examples (default {_DEFAULT_RANGE})")
    parser.add_argument("--verify", action="store_true",
                        help="also propagate a second period as a self-check of the periodic argument")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                        help="output format (markdown: a summary for $GITHUB_STEP_SUMMARY or a pull request)")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    parser.set_defaults(run=run)


def parse_range(text: str) -> tuple[int, int]:
    """``"1..4096"`` → ``(1, 4096)``; a malformed or empty range is a :class:`SpecError`."""
    low, sep, high = text.partition("..")
    try:
        bounds = (int(low), int(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None:
        raise SpecError(f"--range: expected LO..HI, e.g. 1..4096, got {text!r}")
    if not 1 <= bounds[0] <= bounds[1] <= MAX_CLI_DIM:
        raise SpecError(f"--range: {text} must satisfy 1 <= LO <= HI <= {MAX_CLI_DIM}")
    return bounds


def run(args: argparse.Namespace) -> int:
    from shapecheck.load import load_model
    from shapecheck.report.sizes import sizes_document, write_sizes_text
    from shapecheck.sizes import analyse_sizes

    dims = parse_dims(args.dim)
    shapes = parse_input_shapes(args.input_shape)
    search_range = parse_range(args.range)
    graph = load_model(args.model)
    analysis = analyse_sizes(graph, dims=dims, input_shapes=shapes, symbols=args.symbol,
                             search_range=search_range, verify=args.verify)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump(sizes_document(analysis), out, indent=2, ensure_ascii=False)
            out.write("\n")
        elif args.format == "markdown":
            from shapecheck.report.markdown import write_sizes_markdown

            write_sizes_markdown(analysis, out)
        else:
            write_sizes_text(analysis, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 1 if analysis.empty else 0
