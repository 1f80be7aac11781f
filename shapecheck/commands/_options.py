"""Options shared by the commands that read a model: ``--dim`` and ``--input-shape``.

Parsing happens here, once; a malformed value is a :class:`SpecError` naming the option (exit 2).
"""

from __future__ import annotations

import argparse
import re

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


_SIZE = re.compile(r"(\d+)\s*([kmgt]?)(i?b)?", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(option: str, text: str | int) -> int:
    """A byte count: ``1048576``, ``512K``, ``256MB``, ``2GiB`` (binary multiples, whatever the spelling:
    a budget is not a place for the 1000/1024 distinction). Zero or a malformed size is a SpecError."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise SpecError(f"{option}: expected a size such as 256MB, got {text!r}")
    match = _SIZE.fullmatch(str(text).strip())
    if not match or int(match.group(1)) < 1:
        raise SpecError(f"{option}: expected a size such as 256MB or 1048576 (bytes), got {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def add_max_file_size(parser: argparse.ArgumentParser) -> None:
    """``--max-file-size``: the largest model file read (``parse_size`` syntax)."""
    parser.add_argument("--max-file-size", metavar="SIZE",
                        help="refuse model files larger than SIZE, e.g. 64MB (default: 2GB for ONNX, 10MB for YAML)")
