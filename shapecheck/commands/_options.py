"""Options shared by the commands that read a model: ``--dim`` and ``--input-shape``.

Parsing happens here, once; a malformed value is a :class:`SpecError` naming the option (exit 2).
"""

from __future__ import annotations

import argparse

from shapecheck.errors import SpecError

#: Largest size accepted on the command line (a larger one is a typo, and would exhaust memory).
MAX_CLI_DIM = 1 << 24


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--dim NAME=VALUE`` (repeatable) and ``--input-shape NAME=1x3x256x256`` (repeatable)."""
    parser.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                        help="bind a symbolic dim, e.g. --dim H=256 (repeatable)")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x3x256x256",
                        help="replace the shape of a model input (repeatable)")


def _size(option: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SpecError(f"{option}: {text!r} is not an integer size") from None
    if not 1 <= value <= MAX_CLI_DIM:
        raise SpecError(f"{option}: size {value} is outside 1..{MAX_CLI_DIM}")
    return value


def _pair(option: str, text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise SpecError(f"{option}: expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def parse_dims(values: list[str]) -> dict[str, int]:
    """``["H=256", "W=128"]`` → ``{"H": 256, "W": 128}``."""
    dims: dict[str, int] = {}
    for text in values:
        name, value = _pair("--dim", text)
        dims[name] = _size(f"--dim {name}", value)
    return dims


def parse_input_shapes(values: list[str]) -> dict[str, tuple[int, ...]]:
    """``["x=1x3x256x256"]`` → ``{"x": (1, 3, 256, 256)}``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for text in values:
        name, value = _pair("--input-shape", text)
        shapes[name] = tuple(_size(f"--input-shape {name}", part) for part in value.lower().split("x"))
    return shapes
