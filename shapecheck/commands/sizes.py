"""``shapecheck sizes MODEL``: every input size the model accepts, proven where the periodic argument holds.

Exit codes: 0 whenever the analysis completes — whatever its verdict, including a model at which no size
runs and a fixed-size model that fails at its size (the report says so; ``shapecheck check`` is the
linter whose exit code gates CI) — and 2 for a usage error (a malformed, empty or inverted ``--range``,
an unknown ``--dim``/``--symbol``/``--near`` name) or a model that cannot be read. Symbols bound with
``--dim`` are held at their value; the others are analysed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from shapecheck.commands._options import MAX_CLI_DIM, add_model_options, parse_dims, parse_input_shapes
from shapecheck.errors import SpecError

__all__ = ["parse_near", "parse_range", "register", "run"]

#: The default search range, as the command line writes it (kept in step with ``sizes.DEFAULT_RANGE``).
_DEFAULT_RANGE = "1:4096"
_RANGE = re.compile(r"\s*(-?\d+)\s*(?::|\.\.)\s*(-?\d+)\s*")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sizes",
        help="list the input sizes at which a model runs (proven for every size where possible)",
        description="Analyse every symbolic input dim (H, W, L, …) of an ONNX or YAML model and print the "
        "sizes at which no runtime fails: residue classes such as 'H ≡ 0 (mod 8), from 8' plus single "
        "exceptions, proven for every size when the sizes repeat with a period, searched over --range "
        "otherwise (coupled symbols, unknown ops). Per symbol: the smallest valid sizes, the nearest to "
        "--near, for each invalid class the first node that fails and why, and what would widen the set "
        "(a constant output_padding fix, or padding the input to the next valid size, output_size= or a "
        "crop/pad at the join). A model without symbolic dims gets the verdict at its fixed size. "
        "Exit 0 when the analysis completes (whatever the verdict), 2 on bad input.",
        epilog="examples:\n  shapecheck sizes unet.onnx\n  shapecheck sizes unet.onnx --near 300\n"
        "  shapecheck sizes unet.onnx --dim W=256 --format json\n  shapecheck sizes encdec.yaml --range 1:1024",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="an .onnx, .yaml or .yml file")
    add_model_options(parser)
    parser.add_argument("--symbol", action="append", default=None, metavar="NAME",
                        help="analyse only this symbol (repeatable); the others are held at a valid size")
    parser.add_argument("--range", default=_DEFAULT_RANGE, metavar="LO:HI",
                        help="sizes searched where no period applies, both ends included (default "
                        f"{_DEFAULT_RANGE}; LO..HI also accepted)")
    parser.add_argument("--near", action="append", default=[], metavar="SIZE",
                        help="also report the valid sizes nearest to SIZE, below and above, for every symbol "
                        "(or NAME=SIZE for one symbol; repeatable)")
    parser.add_argument("--verify", action="store_true",
                        help="also propagate a second period as a self-check of the periodic argument")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                        help="output format (markdown: a summary for $GITHUB_STEP_SUMMARY or a pull request)")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    parser.set_defaults(run=run)


def parse_range(text: str) -> tuple[int, int]:
    """``"1:4096"`` (or ``"1..4096"``) → ``(1, 4096)``, both ends included; a malformed, empty or inverted
    range, or one outside ``1..MAX_CLI_DIM``, is a :class:`SpecError` (exit 2)."""
    match = _RANGE.fullmatch(text)
    if match is None:
        raise SpecError(f"--range: expected LO:HI, e.g. 1:4096, got {text!r}")
    low, high = int(match.group(1)), int(match.group(2))
    if low > high:
        raise SpecError(f"--range {text}: the range is empty (LO {low} > HI {high}); write LO:HI with LO <= HI")
    if low < 1 or high > MAX_CLI_DIM:
        raise SpecError(f"--range {text}: sizes must lie within 1:{MAX_CLI_DIM}")
    return low, high


def parse_near(values: list[str]) -> int | dict[str, int] | None:
    """``["300"]`` → ``300`` (every symbol); ``["H=300", "W=200"]`` → a size per symbol; ``[]`` → ``None``."""
    if not values:
        return None
    every: int | None = None
    named: dict[str, int] = {}
    for text in values:
        name, sep, value = text.rpartition("=")
        size = _near_size(text, value)
        if sep:
            if not name.strip():
                raise SpecError(f"--near: expected SIZE or NAME=SIZE, got {text!r}")
            named[name.strip()] = size
        else:
            every = size
    if every is not None and not named:
        return every
    return named if every is None else {"*": every, **named}


def _near_size(text: str, value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise SpecError(f"--near: expected SIZE or NAME=SIZE with an integer size, got {text!r}") from None
    if not 1 <= size <= MAX_CLI_DIM:
        raise SpecError(f"--near: size {size} is outside 1..{MAX_CLI_DIM}")
    return size


def _near_for(near: int | dict[str, int] | None, symbols: list[str]) -> int | dict[str, int] | None:
    """Check the names against the analysed symbols and spread a bare size over the others."""
    if not isinstance(near, dict):
        return near
    unknown = [name for name in near if name != "*" and name not in symbols]
    if unknown:
        raise SpecError(f"--near {unknown[0]}: no analysed symbolic dim {unknown[0]!r} (analysed: "
                        f"{', '.join(symbols) or 'none'})")
    every = near.get("*")
    targets: dict[str, int] = {}
    for name in symbols:
        size = near.get(name, every)
        if size is not None:
            targets[name] = size
    return targets


def run(args: argparse.Namespace) -> int:
    from shapecheck.load import load_model
    from shapecheck.report.sizes import sizes_document, write_sizes_text
    from shapecheck.sizes import analyse_sizes, widen_suggestions

    dims = parse_dims(args.dim)
    shapes = parse_input_shapes(args.input_shape)
    search_range = parse_range(args.range)
    near = parse_near(args.near)
    graph = load_model(args.model)
    analysis = analyse_sizes(graph, dims=dims, input_shapes=shapes, symbols=args.symbol,
                             search_range=search_range, verify=args.verify)
    near = _near_for(near, list(analysis.symbols)) if analysis.static is None else None
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            widen = widen_suggestions(analysis, input_shapes=shapes or None)
            json.dump(sizes_document(analysis, near=near, widen=widen), out, indent=2, ensure_ascii=False)
            out.write("\n")
        elif args.format == "markdown":
            from shapecheck.report.markdown import write_sizes_markdown

            write_sizes_markdown(analysis, out)
        else:
            widen = widen_suggestions(analysis, input_shapes=shapes or None)
            write_sizes_text(analysis, out, near=near, widen=widen)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
