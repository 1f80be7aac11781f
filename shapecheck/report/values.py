"""Turning engine values (dims, tuples, enums, arrays) into JSON-ready and human-readable forms."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from shapecheck.symbolic import Dim, Expr, format_dim


def to_json(value: Any) -> Any:
    """A JSON-ready copy: tuples become lists, symbolic sizes their text, enums their value."""
    if isinstance(value, Expr):
        return format_dim(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return to_json(value.tolist())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def shape_json(shape: Sequence[Dim] | None) -> list[int | str | None] | None:
    """A shape as JSON: a list of ints, symbol/expression texts and nulls; ``None`` when unknown."""
    return None if shape is None else [format_dim(d) for d in shape]


def shape_text(shape: Sequence[Dim] | None) -> str:
    """``1x16x64x64``; a symbolic dim in parentheses when it is an expression; ``?`` when unknown."""
    if shape is None:
        return "?"
    parts = []
    for dim in shape:
        if dim is None:
            parts.append("?")
        elif isinstance(dim, Expr) and not dim.is_atom():
            parts.append(f"({dim.render()})")
        else:
            parts.append(str(dim))
    return "x".join(parts) if parts else "scalar"
