"""The arithmetic behind the size analysis: slopes, periods, bounds and settling points of size expressions.

The claims of :mod:`shapecheck.sizes._periods` are checked against the expressions' own values: a
period is a shift period at every integer, bounds contain the periodic part, a settling point is the
exact first point past which a size keeps clear of the margin.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shapecheck import arith
from shapecheck.graph import ModelGraph, Node, TensorSpec
from shapecheck.propagate import propagate
from shapecheck.sizes._periods import (
    NotQuasiAffine,
    comparison_margin,
    quasi_affine,
    settles_from,
    settling_point,
    stride_period,
)
from shapecheck.symbolic import Expr, symbol

H = symbol("H")


def test_a_pool_chain_has_the_product_of_its_strides_as_period() -> None:
    size = H
    for _ in range(3):
        size = arith.conv_out(size, 2, stride=2)
    form = quasi_affine(size, "H")
    assert (form.slope, form.period) == (Fraction(1, 8), 8)


def test_an_up_after_a_down_keeps_slope_one_and_the_period() -> None:
    down = arith.conv_out(H, 3, stride=2, pads=(1, 1))
    up = arith.conv_transpose_out(down, 3, stride=2, pads=(1, 1), output_padding=1)
    form = quasi_affine(up, "H")
    assert (form.slope, form.period) == (1, 2)
    difference = quasi_affine(up - H, "H")  # 2⌈H/2⌉ − H: 0 or 1, period 2
    assert (difference.slope, difference.period) == (0, 2)
    assert difference.low <= 0 and difference.high >= 1


def test_a_product_or_another_symbol_is_not_quasi_affine() -> None:
    with pytest.raises(NotQuasiAffine, match="product"):
        quasi_affine(H * symbol("W"), "H")
    with pytest.raises(NotQuasiAffine, match="depends on W"):
        quasi_affine(H + symbol("W"), "H")
    assert quasi_affine(7, "H").period == 1


def test_a_slope_with_a_denominator_needs_a_longer_period_under_a_second_floor() -> None:
    # ⌊3·⌊H/2⌋/4⌋: the inner slope 1/2 times 3 must be a multiple of 4 per period → period 8.
    inner = (3 * (H // 2)) // 4
    form = quasi_affine(inner, "H")
    assert form.slope == Fraction(3, 8)
    for x in range(-20, 40):
        assert inner.value({"H": x + form.period}) == inner.value({"H": x}) + form.slope * form.period


@st.composite
def size_expressions(draw: st.DrawFn) -> Expr:
    """Random compositions of the size maps: ⌊(a·x + b)/c⌋, scaling, and sums of two of them."""
    expr: Expr | int = H
    for _ in range(draw(st.integers(1, 4))):
        step = draw(st.sampled_from(["floor", "scale", "shift"]))
        if step == "floor":
            expr = (expr + draw(st.integers(-5, 5))) // draw(st.integers(1, 5))
        elif step == "scale":
            expr = expr * draw(st.integers(-3, 4))
        else:
            expr = expr + draw(st.integers(-9, 9))
        if not isinstance(expr, Expr):
            expr = H + expr
    if draw(st.booleans()):
        expr = expr - (H // draw(st.integers(1, 4))) * draw(st.integers(0, 3))
    return expr if isinstance(expr, Expr) else H


@settings(max_examples=200, deadline=None)
@given(size_expressions(), st.integers(-60, 60))
def test_period_slope_and_bounds_hold_at_every_integer(expr, x) -> None:
    form = quasi_affine(expr, "H")
    value = expr.value({"H": x})
    assert expr.value({"H": x + form.period}) == value + form.slope * form.period
    assert form.low <= value - form.slope * x <= form.high


@settings(max_examples=200, deadline=None)
@given(size_expressions(), st.integers(1, 6))
def test_the_settling_point_is_exact(expr, margin) -> None:
    form = quasi_affine(expr, "H")
    point = settles_from(expr, form, "H", margin)
    assert point <= settling_point(form, margin) or form.slope == 0
    if form.slope == 0:
        assert point == 1
        return
    sign = 1 if form.slope > 0 else -1
    assert all(sign * expr.value({"H": x}) >= margin for x in range(point, point + 3 * form.period))
    if point > 1:
        assert sign * expr.value({"H": point - 1}) < margin


def _graph(nodes: list[Node], shape: tuple) -> ModelGraph:
    return ModelGraph(path="mem.yaml", format="yaml", nodes=nodes, inputs={"x": TensorSpec(shape)},
                      outputs=[nodes[-1].outputs[0]])


def test_stride_period_multiplies_along_a_path_and_takes_the_lcm_where_paths_meet() -> None:
    pool = {"kernel_shape": (2,), "strides": (2,), "ceil_mode": 1}
    nodes = [
        Node("p1", "MaxPool", ("x",), ("a",), pool, index=0),
        Node("p2", "MaxPool", ("a",), ("b",), pool, index=1),
        Node("p3", "MaxPool", ("x",), ("c",), {"kernel_shape": (3,), "strides": (3,)}, index=2),
        Node("u", "YamlUpsample", ("b",), ("d",), {"scales": (1.5,)}, index=3),
    ]
    graph = _graph(nodes, (1, 1, symbol("L")))
    free = propagate(graph)
    dependent = {t: True for t in ("x", "a", "b", "c", "d")}
    assert stride_period(graph, free, dependent).period == 24  # lcm(2·2·2 [1.5 = 3/2], 3)


def test_stride_period_refuses_an_op_it_does_not_know_and_a_float_scale() -> None:
    nodes = [Node("u", "YamlUpsample", ("x",), ("y",), {"scales": (0.7,)}, index=0)]
    graph = _graph(nodes, (1, 1, symbol("L")))
    bound = stride_period(graph, propagate(graph), {"x": True, "y": True})
    assert bound.period is None and "'u'" in (bound.blocker or "")
    nodes = [Node("r", "YamlReshape", ("x",), ("y",), {"shape": (1, -1)}, index=0)]
    graph = _graph(nodes, (1, 1, symbol("L")))
    assert stride_period(graph, propagate(graph), {"x": True, "y": True}).period is None


def test_the_margin_counts_padding_amounts_and_broadcasting_but_not_kernels() -> None:
    conv = Node("c", "Conv", ("x",), ("a",), {"kernel_shape": (7,), "pads": (3, 3), "out_channels": 512}, index=0)
    assert comparison_margin(_graph([conv], (1, 1, H))) == 1
    pad = Node("p", "YamlPad", ("a",), ("b",), {"pads": (5, 5), "mode": "reflect"}, index=1)
    assert comparison_margin(_graph([conv, pad], (1, 1, H))) == 6
    add = Node("s", "Add", ("a", "x"), ("b",), {}, index=1)
    assert comparison_margin(_graph([conv, add], (1, 1, H))) == 2
