"""Shape-computation ops (``shapecheck.ops.shape``) against onnxruntime.

Every case is a small ONNX model; onnxruntime runs it with every intermediate tensor exposed and the
engine must give the same shape for each — and, for the small integer tensors that carry sizes, the same
value. Models with symbolic dims are checked both with the dims bound and with them left symbolic (the
expression evaluated at the run's sizes). Cases onnxruntime rejects are checked on the facts recorded.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx_case import build, check, compare, direct, node, scalar_arithmetic_works

from shapecheck.facts import FactKind
from shapecheck.ops.base import Tensor
from shapecheck.ops.shape import make_value, slice_length
from shapecheck.symbolic import symbol

I64 = np.int64
BIG = np.iinfo(np.int64).max


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=I64)


def scalar(value: int) -> np.ndarray:
    return np.array(value, dtype=I64)


needs_scalar_arithmetic = pytest.mark.xfail(
    not scalar_arithmetic_works(),
    strict=True,
    reason="elementwise._values returns a bare scalar for 0-d inputs (no .astype), so Sub/Div of "
    "Gather'd dims lose their value; fix belongs in shapecheck/ops/elementwise.py",
)


# -- Shape, Size, Gather ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "end"), [(None, None), (2, None), (0, 2), (-2, None), (1, -1), (-9, 9), (3, 1)]
)
def test_shape_start_end(start, end) -> None:
    model = build([node("Shape", ["x"], "s", start=start, end=end)], {"x": ["N", 3, "H", 8]}, opset=15)
    check(model, {"N": 2, "H": 5})


def test_size_is_a_symbolic_product() -> None:
    model = build([node("Size", ["x"], "s")], {"x": ["N", 3, "H", "W"]})
    check(model, {"N": 2, "H": 5, "W": 7})


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
@pytest.mark.parametrize("indices", [scalar(0), scalar(-1), ints(1, 0), np.array([[0, 1], [-1, 1]], I64)])
def test_gather_data_tensor(axis, indices) -> None:
    model = build([node("Gather", ["x", "i"], "y", axis=axis)], {"x": [2, 3, 4]}, {"i": indices})
    check(model)


@pytest.mark.parametrize("indices", [scalar(2), scalar(-1), ints(2, 3), ints(-2, 0, 1)])
def test_gather_of_a_shape_keeps_the_value(indices) -> None:
    model = build(
        [node("Shape", ["x"], "s"), node("Gather", ["s", "i"], "g", axis=0)],
        {"x": ["N", 3, "H", "W"]},
        {"i": indices},
    )
    (_concrete, symbolic) = check(model, {"N": 2, "H": 5, "W": 7})
    assert symbolic.propagation.tensors["g"].value is not None


def test_gather_index_out_of_range_is_a_fact() -> None:
    data = Tensor((4,), make_value([1, 2, 3, 4], (4,)))
    (out,), facts = direct("Gather", [data, Tensor((), make_value([4], ()))])
    assert out.shape == () and out.value is None
    assert [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]


# -- Constant, ConstantOfShape, Range ----------------------------------------------------------------
@pytest.mark.parametrize(
    "attrs",
    [
        {"value_int": 3},
        {"value_ints": [1, 2, 3]},
        {"value_float": 0.5},
        {"value_floats": [1.0, 2.5]},
        {"value": np.arange(6, dtype=np.int64).reshape(2, 3)},
        {"value": np.zeros((3, 70), np.float32)},
    ],
)
def test_constant_rule(attrs) -> None:
    expected = np.asarray(next(iter(attrs.values())))
    (out,), facts = direct("Constant", [], attrs)
    assert not facts
    assert out.shape == expected.shape
    if expected.size <= 64:
        assert np.array_equal(np.asarray(out.value, dtype=float), expected.astype(float))
    else:
        assert out.value is None


def test_constant_node_through_the_loader() -> None:
    model = build(
        [node("Constant", [], "c", value_ints=[2, -1]), node("Reshape", ["x", "c"], "y")], {"x": [4, 3]}
    )
    check(model)


@pytest.mark.parametrize("fill", [None, np.array([1], I64), np.array([2.5], np.float32)])
def test_constant_of_shape_from_a_shape_value(fill) -> None:
    model = build(
        [node("Shape", ["x"], "s"), node("ConstantOfShape", ["s"], "c", value=fill)],
        {"x": [2, "H"]},
        opset=18,
    )
    check(model, {"H": 3})


def test_constant_of_shape_keeps_the_shape_of_a_large_tensor() -> None:
    model = build([node("ConstantOfShape", ["s"], "w")], {}, {"s": ints(64, 32, 3, 3)})
    (comparison,) = check(model, modes=(False,))
    tensor = comparison.propagation.tensors["w"]
    assert tensor.shape == (64, 32, 3, 3) and tensor.value is None


def test_constant_of_shape_with_an_unknown_shape_is_unresolved() -> None:
    (out,), facts = direct("ConstantOfShape", [Tensor((4,))])
    assert out.shape is None
    assert [(f.kind, f.data["input"]) for f in facts] == [(FactKind.UNRESOLVED, "in0")]


@pytest.mark.parametrize(
    ("start", "limit", "delta"), [(0, 5, 1), (2, 11, 3), (10, 1, -2), (5, 5, 1), (5, 1, 1)]
)
def test_range_integers(start, limit, delta) -> None:
    model = build(
        [node("Range", ["a", "b", "c"], "r")],
        {},
        {"a": scalar(start), "b": scalar(limit), "c": scalar(delta)},
    )
    check(model, modes=(False,))


def _float_ranges(count: int, seed: int) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    values = [0.0, 0.1, 0.3, 0.5, 0.7, 1.0, 1.1, 2.2, 3.2, 3.3, -0.9, -2.5]
    return [
        (
            float(rng.choice(values)),
            float(rng.choice(values)),
            float(rng.choice([0.1, 0.3, 0.7, 1.1, -0.3, -0.1])),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize(("start", "limit", "delta"), _float_ranges(20, 4))
def test_range_floats(start, limit, delta) -> None:
    model = build(
        [node("Range", ["a", "b", "c"], "r")],
        {},
        {
            "a": np.array(start, np.float32),
            "b": np.array(limit, np.float32),
            "c": np.array(delta, np.float32),
        },
    )
    check(model, modes=(False,))


def test_range_to_a_symbolic_size() -> None:
    model = build(
        [
            node("Shape", ["x"], "s"),
            node("Gather", ["s", "i"], "h", axis=0),
            node("Range", ["zero", "h", "two"], "r"),
        ],
        {"x": [1, "H"]},
        {"i": scalar(1), "zero": scalar(0), "two": scalar(2)},
    )
    for size in (7, 8):
        check(model, {"H": size})


# -- Unsqueeze, Squeeze, Reshape, Flatten -----------------------------------------------------------
@pytest.mark.parametrize("axes", [[0], [-1], [1, 3], [0, -1], [4, 0]])
@pytest.mark.parametrize("opset", [11, 13])
def test_unsqueeze_attribute_and_input_forms(axes, opset) -> None:
    if opset < 13:
        model = build([node("Unsqueeze", ["x"], "y", axes=axes)], {"x": [2, "H", 4]}, opset=opset)
    else:
        model = build(
            [node("Unsqueeze", ["x", "a"], "y")], {"x": [2, "H", 4]}, {"a": ints(*axes)}, opset=opset
        )
    check(model, {"H": 3})


@pytest.mark.parametrize("axes", [None, [0], [-1], [0, 2]])
@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_attribute_and_input_forms(axes, opset) -> None:
    if opset < 13 or axes is None:
        model = build([node("Squeeze", ["x"], "y", axes=axes)], {"x": [1, 3, 1, 1]}, opset=opset)
    else:
        model = build(
            [node("Squeeze", ["x", "a"], "y")], {"x": [1, 3, 1, 1]}, {"a": ints(*axes)}, opset=opset
        )
    check(model)


def test_squeeze_of_a_dim_that_is_not_one_is_a_fact() -> None:
    (out,), facts = direct("Squeeze", [Tensor((2, 3)), Tensor((1,), make_value([0], (1,)))])
    assert out.shape == (3,)
    assert [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]


def test_squeeze_without_axes_of_a_symbolic_dim_is_unresolved() -> None:
    (out,), facts = direct("Squeeze", [Tensor((1, symbol("H")))])
    assert out.shape is None and [f.kind for f in facts] == [FactKind.UNRESOLVED]


RESHAPES = [
    ([2, 3, 4, 5], [0, 0, -1]),
    ([2, 3, 4, 5], [-1]),
    ([2, 3, 4, 5], [2, -1, 5]),
    ([2, 3, 4, 5], [0, -1]),
    ([2, 3, 4, 5], [6, 20]),
    ([2, 3, 4, 5], [-1, 1, 1]),
    ([6, 1], [0, 0, 1]),
    ([2, 3, 4, 5], [4, 0, -1]),
]


@pytest.mark.parametrize(("shape", "target"), RESHAPES)
def test_reshape_concrete(shape, target) -> None:
    model = build([node("Reshape", ["x", "t"], "y")], {"x": shape}, {"t": ints(*target)})
    check(model)


@pytest.mark.parametrize("target", [[0, -1], [0, 0, -1], [0, 3, -1], [0, -1, 1], [-1, 12], [0, 6, -1, 0]])
def test_reshape_symbolic(target) -> None:
    model = build([node("Reshape", ["x", "t"], "y")], {"x": ["N", 12, "H", "W"]}, {"t": ints(*target)})
    check(model, {"N": 2, "H": 5, "W": 4})


def test_reshape_allowzero_keeps_zero() -> None:
    model = build([node("Reshape", ["x", "t"], "y", allowzero=1)], {"x": [0, 3]}, {"t": ints(3, 0)}, opset=14)
    check(model)


def test_reshape_to_a_computed_shape() -> None:
    """``x.view(x.size(0), -1)``: Shape → Gather → Unsqueeze → Concat with a constant −1."""
    model = build(
        [
            node("Shape", ["x"], "s"),
            node("Gather", ["s", "i0"], "n", axis=0),
            node("Unsqueeze", ["n", "a0"], "nu"),
            node("Concat", ["nu", "m1"], "t", axis=0),
            node("Reshape", ["x", "t"], "y"),
        ],
        {"x": ["N", 8, "H", "H"]},
        {"i0": scalar(0), "a0": ints(0), "m1": ints(-1)},
    )
    check(model, {"N": 3, "H": 5})


def test_reshape_element_count_mismatch_is_a_fact() -> None:
    (_out,), facts = direct("Reshape", [Tensor((2, 3, 5)), Tensor((2,), make_value([4, -1], (2,)))])
    assert [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]
    (_out,), facts = direct("Reshape", [Tensor((2, 3, 5)), Tensor((2,), make_value([4, 7], (2,)))])
    assert [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]


def test_reshape_with_an_unresolved_shape_names_the_input() -> None:
    model = build([node("Reshape", ["x", "t"], "y")], {"x": [2, 3], "t": [2]}, input_types={"t": 7})
    comparison = compare(model, actual={})
    facts = comparison.facts(FactKind.UNRESOLVED)
    assert [(f.kind, f.data["input"]) for f in facts] == [(FactKind.UNRESOLVED, "t")]
    assert "could not resolve the shape input of Reshape" in facts[0].message
    # the rule gives up; the driver may fill in ONNX shape inference's rank-only answer
    assert comparison.propagation.shape("y") in (None, (None, None))


@pytest.mark.parametrize("axis", [0, 1, 2, 4, -1, -4])
def test_flatten(axis) -> None:
    model = build([node("Flatten", ["x"], "y", axis=axis)], {"x": ["N", 3, "H", 5]}, opset=13)
    check(model, {"N": 2, "H": 4})


# -- Expand, Tile, Transpose -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "target"),
    [
        ([3, 1], [2, 3, 4]),
        ([1], [5]),
        ([2, 1, 4], [1, 3, 1]),
        ([3, 4], [4]),
        ([1, 1], [1]),
    ],
)
def test_expand(shape, target) -> None:
    model = build([node("Expand", ["x", "t"], "y")], {"x": shape}, {"t": ints(*target)})
    check(model)


def test_expand_to_a_shape_value_keeps_the_value() -> None:
    model = build(
        [node("Shape", ["x"], "s"), node("Expand", ["one", "s"], "y")], {"x": [2, "H"]}, {"one": ints(7)}
    )
    check(model, {"H": 3})


def test_expand_mismatch_is_a_join_fact() -> None:
    (_out,), facts = direct("Expand", [Tensor((3, 4)), Tensor((2,), make_value([3, 5], (2,)))])
    assert [f.kind for f in facts] == [FactKind.JOIN_MISMATCH]


@pytest.mark.parametrize(("shape", "repeats"), [([2, 3], [1, 2]), ([2, 3, 1], [3, 1, 4]), ([5], [0])])
def test_tile(shape, repeats) -> None:
    model = build([node("Tile", ["x", "r"], "y")], {"x": shape}, {"r": ints(*repeats)})
    check(model)


def test_tile_of_a_shape_value() -> None:
    model = build([node("Shape", ["x"], "s"), node("Tile", ["s", "r"], "y")], {"x": [2, "H"]}, {"r": ints(3)})
    check(model, {"H": 4})


@pytest.mark.parametrize("perm", [None, [0, 2, 3, 1], [3, 2, 1, 0], [1, 0, 2, 3]])
def test_transpose(perm) -> None:
    model = build([node("Transpose", ["x"], "y", perm=perm)], {"x": ["N", 3, "H", 5]})
    check(model, {"N": 2, "H": 4})


def test_transpose_bad_perm_is_a_fact() -> None:
    (out,), facts = direct("Transpose", [Tensor((2, 3))], {"perm": (0, 0)})
    assert out.shape is None and [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]


# -- Slice ---------------------------------------------------------------------------------------------
def _random_slices(count: int, seed: int) -> list[tuple[int, int, int, int]]:
    rng = np.random.default_rng(seed)
    bounds = [-BIG, -12, -7, -3, -1, 0, 1, 2, 5, 6, 7, 12, BIG, 2**31 - 1]
    return [
        (
            int(rng.integers(0, 9)),
            int(rng.choice(bounds)),
            int(rng.choice(bounds)),
            int(rng.choice([1, 2, 3, -1, -2])),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize(("n", "start", "end", "step"), _random_slices(60, 1))
def test_slice_random_bounds_concrete(n, start, end, step) -> None:
    model = build(
        [node("Slice", ["x", "s", "e", "a", "p"], "y")],
        {"x": [2, n]},
        {"s": ints(start), "e": ints(end), "a": ints(1), "p": ints(step)},
        opset=13,
    )
    check(model)


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [
        (1, -1, 1),
        (0, BIG, 2),
        (2, BIG, 1),
        (-3, BIG, 1),
        (-1, -BIG, -1),
        (BIG, -BIG, -2),
        (1, -2, 3),
        (-4, -1, 1),
    ],
)
def test_slice_symbolic_size(start, end, step) -> None:
    model = build(
        [node("Slice", ["x", "s", "e", "a", "p"], "y")],
        {"x": [1, "H"]},
        {"s": ints(start), "e": ints(end), "a": ints(-1), "p": ints(step)},
        opset=13,
    )
    for size in (9, 10, 16):
        check(model, {"H": size})


def test_slice_negative_step_to_int64_max_follows_onnxruntime() -> None:
    """onnxruntime reverses the whole axis for ``end = INT64_MAX, step = −1`` (NumPy's ``x[2::-1]``);
    ONNX shape inference clamps the end to n − 1 and infers an empty slice. shapecheck follows the
    runtime and records the other answer."""
    model = build(
        [node("Slice", ["x", "s", "e", "a", "p"], "y")],
        {"x": [6]},
        {"s": ints(2), "e": ints(BIG), "a": ints(0), "p": ints(-1)},
        opset=13,
    )
    (comparison,) = check(model, modes=(False,))
    assert comparison.propagation.shape("y") == (3,)
    assert comparison.propagation.details["Slice_0"]["onnx_inference_sizes"] == (0,)


def test_slice_start_before_the_axis_with_a_negative_step_is_clamped_to_zero() -> None:
    """ONNX clamps start into [0, n − 1] for a negative step (NumPy would give an empty slice)."""
    model = build(
        [node("Slice", ["x", "s", "e", "a", "p"], "y")],
        {"x": [5]},
        {"s": ints(-7), "e": ints(-BIG), "a": ints(0), "p": ints(-1)},
        opset=13,
    )
    (comparison,) = check(model, modes=(False,))
    assert comparison.propagation.shape("y") == (1,)


def test_slice_attribute_form_before_opset_10() -> None:
    model = build(
        [node("Slice", ["x"], "y", starts=[1, -3], ends=[BIG, -1], axes=[1, 2])], {"x": [2, 6, 7]}, opset=9
    )
    check(model)


def test_slice_without_axes_and_steps() -> None:
    model = build(
        [node("Slice", ["x", "s", "e"], "y")], {"x": [5, 6]}, {"s": ints(1, -4), "e": ints(4, BIG)}, opset=13
    )
    check(model)


def test_slice_crop_with_computed_offsets() -> None:
    """The UNet crop ``enc[:, :, d:d + h]`` with ``d = (H − h)//2`` computed from both shapes."""
    model = build(
        [
            node("Shape", ["enc"], "se"),
            node("Gather", ["se", "i2"], "H", axis=0),
            node("Shape", ["dec"], "sd"),
            node("Gather", ["sd", "i2"], "h", axis=0),
            node("Sub", ["H", "h"], "diff"),
            node("Div", ["diff", "two"], "d"),
            node("Add", ["d", "h"], "stop"),
            node("Unsqueeze", ["d", "a0"], "start1"),
            node("Unsqueeze", ["stop", "a0"], "end1"),
            node("Slice", ["enc", "start1", "end1", "ax"], "crop"),
            node("Concat", ["crop", "dec"], "cat", axis=1),
        ],
        {"enc": [1, 4, "H", 8], "dec": [1, 4, "h", 8]},
        {"i2": scalar(2), "two": scalar(2), "a0": ints(0), "ax": ints(2)},
    )
    if not scalar_arithmetic_works():
        pytest.xfail("elementwise._values loses 0-d values (see needs_scalar_arithmetic)")
    check(model, {"H": 37, "h": 30})


def test_slice_of_a_shape_value() -> None:
    model = build(
        [node("Shape", ["x"], "s"), node("Slice", ["s", "b", "e"], "hw")],
        {"x": ["N", 3, "H", "W"]},
        {"b": ints(2), "e": ints(BIG)},
    )
    check(model, {"N": 1, "H": 5, "W": 6})


def test_slice_length_is_symbolic_where_affine() -> None:
    h = symbol("H")
    assert slice_length(h, 1, -1, 1) == h - 2
    assert slice_length(h, 0, BIG, 2) == (h + 1) // 2
    assert slice_length(10, 1, -1, 1) == 8


def test_slice_zero_step_is_a_fact() -> None:
    ones = Tensor((1,), make_value([1], (1,)))
    (out,), facts = direct(
        "Slice",
        [Tensor((4,)), ones, ones, Tensor((1,), make_value([0], (1,))), Tensor((1,), make_value([0], (1,)))],
    )
    assert out.shape is None and [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]


# -- Split, Concat ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "parts"), [(10, 3), (11, 4), (12, 3), (4, 3), (7, 1)])
def test_split_num_outputs_opset_18(n, parts) -> None:
    outs = [f"y{i}" for i in range(parts)]
    model = build([node("Split", ["x"], outs, axis=1, num_outputs=parts)], {"x": [2, n]}, opset=18)
    check(model)


@pytest.mark.parametrize("opset", [11, 13])
def test_split_sizes_attribute_and_input(opset) -> None:
    if opset < 13:
        model = build(
            [node("Split", ["x"], ["a", "b", "c"], axis=-1, split=[2, 3, 1])], {"x": [2, 6]}, opset=opset
        )
    else:
        model = build(
            [node("Split", ["x", "s"], ["a", "b", "c"], axis=-1)],
            {"x": [2, 6]},
            {"s": ints(2, 3, 1)},
            opset=opset,
        )
    check(model)


def test_split_equal_parts_symbolic() -> None:
    model = build([node("Split", ["x"], ["a", "b"], axis=1)], {"x": [1, "C", 4]}, opset=13)
    check(model, {"C": 6})


def test_split_of_a_shape_value() -> None:
    model = build(
        [node("Shape", ["x"], "s"), node("Split", ["s", "p"], ["nc", "hw"], axis=0)],
        {"x": ["N", 3, "H", "W"]},
        {"p": ints(2, 2)},
        opset=13,
    )
    check(model, {"N": 1, "H": 5, "W": 6})


def test_split_uneven_equal_split_is_a_fact() -> None:
    _outputs, facts = direct("Split", [Tensor((10,))], n_outputs=3, opset=13)
    assert [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_concrete_and_symbolic(axis) -> None:
    shapes = {"a": ["N", 3, "H"], "b": ["N", 3, "H"], "c": ["N", 3, "H"]}
    model = build([node("Concat", ["a", "b", "c"], "y", axis=axis)], shapes)
    check(model, {"N": 2, "H": 5})


def test_concat_of_shape_values() -> None:
    model = build(
        [node("Shape", ["x"], "s"), node("Concat", ["s", "k", "s"], "y", axis=0)],
        {"x": ["N", "H"]},
        {"k": ints(-1, 4)},
    )
    check(model, {"N": 2, "H": 5})


def test_concat_skip_mismatch_is_one_join_fact_per_axis() -> None:
    up, enc = Tensor((1, 64, 64, 64)), Tensor((1, 64, 65, 63))
    (out,), facts = direct("Concat", [up, enc], {"axis": 1})
    assert out.shape == (1, 128, 64, 64)
    assert [f.kind for f in facts] == [FactKind.JOIN_MISMATCH] * 2
    assert [f.data["axis"] for f in facts] == [2, 3]
    assert facts[0].data["sizes"] == (64, 65)
    assert facts[0].data["tensors"] == ("in0", "in1")
    assert facts[0].message == "Concat inputs differ on axis 2: in0 has 64 vs in1 has 65"


def test_concat_symbolic_mismatch_is_reported_only_when_decided() -> None:
    h = symbol("H")
    (out,), facts = direct("Concat", [Tensor((1, 8, h)), Tensor((1, 8, h + 1))], {"axis": 1})
    assert [f.data["axis"] for f in facts] == [2]
    (out,), facts = direct("Concat", [Tensor((1, 8, h)), Tensor((1, 8, symbol("W")))], {"axis": 1})
    assert facts == [] and out.shape == (1, 16, h)


def test_concat_rank_mismatch_is_a_fact() -> None:
    (out,), facts = direct("Concat", [Tensor((1, 8, 4)), Tensor((1, 8))], {"axis": 1})
    assert out.shape is None and [f.kind for f in facts] == [FactKind.RANK_MISMATCH]


# -- ops shaped like an input, data-dependent ops -----------------------------------------------------------
def test_gather_elements_gather_nd_cumsum_trilu_nonzero() -> None:
    model = build(
        [
            node("GatherElements", ["x", "gi"], "ge", axis=1),
            node("GatherND", ["x", "ni"], "gn"),
            node("CumSum", ["x", "ax"], "cs"),
            node("Trilu", ["x"], "tr"),
            node("NonZero", ["x"], "nz"),
        ],
        {"x": [3, 4]},
        {"gi": np.zeros((3, 2), I64), "ni": np.zeros((2, 1), I64), "ax": scalar(1)},
    )
    comparison = compare(model)
    assert comparison.propagation.shape("nz") == (2, None)  # the count depends on the data
    assert [m for m in comparison.mismatches if not m.startswith("nz:")] == []
    assert not comparison.unknown and not comparison.facts()


# -- the chains exported models really contain ----------------------------------------------------------
def _pad_chain() -> object:
    """PyTorch's ``F.pad(x, [0, 0, d // 2, d - d // 2])`` with ``d = skip.size(2) − x.size(2)``."""
    return build(
        [
            node("Shape", ["skip"], "s1"),
            node("Gather", ["s1", "i2"], "h1", axis=0),
            node("Shape", ["x"], "s2"),
            node("Gather", ["s2", "i2"], "h2", axis=0),
            node("Sub", ["h1", "h2"], "d"),
            node("Div", ["d", "two"], "half"),
            node("Sub", ["d", "half"], "rest"),
            node("Unsqueeze", ["half", "a0"], "hu"),
            node("Unsqueeze", ["rest", "a0"], "ru"),
            node("Concat", ["z2", "hu", "z3", "ru", "z1"], "pads", axis=0),
            node("Pad", ["x", "pads"], "padded"),
            node("Concat", ["padded", "skip"], "y", axis=1),
        ],
        {"skip": [1, 2, "H", 8], "x": [1, 3, "h", 8]},
        {
            "i2": scalar(2),
            "two": scalar(2),
            "a0": ints(0),
            "z1": ints(0),
            "z2": ints(0, 0),
            "z3": ints(0, 0, 0),
        },
    )


@needs_scalar_arithmetic
@pytest.mark.parametrize(("big", "small"), [(37, 30), (64, 64), (65, 32)])
def test_pad_size_fix_chain(big, small) -> None:
    concrete, symbolic = check(_pad_chain(), {"H": big, "h": small})
    assert concrete.propagation.tensors["pads"].value is not None
    assert symbolic.propagation.shape("padded")[2] == symbol("H")


def test_shape_value_chain_without_arithmetic() -> None:
    """``x.view(x.shape[0], x.shape[1], -1)`` through Shape → Slice → Concat → Reshape."""
    model = build(
        [
            node("Shape", ["x"], "s"),
            node("Slice", ["s", "b", "e"], "nc"),
            node("Concat", ["nc", "m1"], "t", axis=0),
            node("Reshape", ["x", "t"], "y"),
        ],
        {"x": ["N", 6, "H", "W"]},
        {"b": ints(0), "e": ints(2), "m1": ints(-1)},
    )
    _, symbolic = check(model, {"N": 2, "H": 3, "W": 5})
    assert symbolic.propagation.shape("y")[2] == symbol("H") * symbol("W")


# -- robustness: a rule never raises, whatever the model gives it --------------------------------------
def test_no_rule_of_the_three_families_raises_on_odd_inputs() -> None:
    """Random ranks, symbolic and unknown dims, huge and negative values, stray attributes, all opsets:
    a rule may record facts and give up, but an exception would be a bug (the driver's last resort)."""
    import random

    from shapecheck.ops import lookup, supported_ops

    ops = [
        o for o in supported_ops() if lookup(o).__module__.rsplit(".", 1)[-1] in ("shape", "resize", "linear")
    ]
    rnd = random.Random(0)
    h = symbol("H")
    dims = [0, 1, 2, 3, 5, h, h + 1, None]
    entries = [0, 1, -1, 2, 3, h, 2 * h, 0.5, 1.5, 2**63 - 1, -(2**63)]
    attrs = {
        "axis": [0, 1, -1, 5],
        "axes": [(0,), (-1,), (0, 0), (9,)],
        "keepdims": [0, 1],
        "perm": [(0,), (1, 0)],
        "blocksize": [0, 2],
        "mode": ["constant", "reflect", "edge"],
        "num_outputs": [1, 2, 3],
        "split": [(1, 1), (2,)],
        "start": [0, -1, 2],
        "end": [1, -2],
        "allowzero": [0, 1],
        "transA": [0, 1],
        "scales": [(1.0, 2.0)],
        "keep_aspect_ratio_policy": ["not_larger"],
        "value": [np.array([1])],
        "k": [1, 3],
        "starts": [(0,), (1, -1)],
        "ends": [(2,), (-1, 9)],
        "shape": [(2, -1), (0,)],
        "value_ints": [(1, 2)],
    }

    def tensor() -> Tensor | None:
        roll = rnd.random()
        if roll < 0.1:
            return None
        if roll < 0.5:
            n = rnd.randint(0, 4)
            shape = (n,) if rnd.random() < 0.8 or n != 1 else ()
            return Tensor(shape, make_value([rnd.choice(entries) for _ in range(n)], shape))
        return (
            Tensor(None) if roll < 0.6 else Tensor(tuple(rnd.choice(dims) for _ in range(rnd.randint(0, 4))))
        )

    for _ in range(4000):
        op = rnd.choice(ops)
        given = {k: rnd.choice(v) for k, v in attrs.items() if rnd.random() < 0.3}
        inputs = [tensor() for _ in range(rnd.randint(0, 5))]
        direct(op, inputs, given, opset=rnd.choice([7, 9, 10, 11, 13, 18]), n_outputs=rnd.randint(1, 3))
