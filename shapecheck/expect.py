"""Check the output shapes a model *declares* (a YAML layer's ``expect:``) against the propagated ones.

A declared shape is the author's statement of intent, so a difference is reported at that layer even
where every op ran without complaint — e.g. a pool that quietly floors 65 to 32 where the author
wrote ``H//2`` thinking of 64. The comparison never guesses: a dim is a mismatch only when
:func:`~shapecheck.symbolic.dims_equal` decides ``False`` under the propagation's bindings; an
undecidable pair (``floor(H/2)`` vs ``H//2 + 1`` with ``H`` unbound) or an unknown shape is no finding.

This runs after :func:`~shapecheck.propagate.propagate` because it needs its shapes; the command line
calls it, so propagation itself stays unaware of any file format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shapecheck.facts import Fact, FactKind
from shapecheck.graph import ModelGraph
from shapecheck.propagate import Propagation
from shapecheck.symbolic import Dim, dims_equal, evaluate, format_dim, symbol

__all__ = ["check_expectations"]


def _as_dim(value: Any) -> Dim:
    """An ``expect`` entry as a dim: an int, an expression, ``None`` (any size), or a symbol name."""
    return symbol(value) if isinstance(value, str) else value


def _render(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join("?" if d is None else str(format_dim(d)) for d in shape) + "]"


def check_expectations(graph: ModelGraph, propagation: Propagation) -> list[Fact]:
    """One EXPECT_MISMATCH fact per node whose ``expect`` attribute disagrees with its output shape.

    ``data`` carries ``expected`` / ``actual`` (JSON-ready dims), the differing ``axes`` and the
    ``bindings`` the comparison used, so a report can say "H=65" without recomputing anything.
    """
    facts: list[Fact] = []
    bindings: Mapping[str, int] = propagation.bindings
    for node in graph.topological_order():
        declared = node.attr("expect")
        if declared is None or not node.outputs:
            continue
        actual = propagation.shape(node.outputs[0])
        if actual is None:
            continue  # an unknown shape is already reported where it became unknown
        expected = tuple(evaluate(_as_dim(d), bindings) for d in declared)
        actual = tuple(evaluate(d, bindings) for d in actual)
        if len(expected) != len(actual):
            axes: list[int] = []
            message = (f"expected rank {len(expected)} {_render(expected)}, got rank {len(actual)} "
                       f"{_render(actual)}")
        else:
            axes = [axis for axis, (e, a) in enumerate(zip(expected, actual)) if dims_equal(e, a) is False]
            if not axes:
                continue
            differences = ", ".join(f"axis {axis}: {format_dim(actual[axis])} instead of "
                                    f"{format_dim(expected[axis])}" for axis in axes)
            message = f"expected {_render(expected)}, got {_render(actual)} ({differences})"
        bound = {name: bindings[name] for name in graph.symbols() if name in bindings}
        if bound:
            message += " with " + ", ".join(f"{name}={value}" for name, value in bound.items())
        facts.append(Fact(FactKind.EXPECT_MISMATCH, node.name, message, {
            "expected": [format_dim(d) for d in expected],
            "actual": [format_dim(d) for d in actual],
            "axes": axes,
            "bindings": bound,
        }))
    return facts
