"""Resize, Upsample, Pad, DepthToSpace, SpaceToDepth (``shapecheck.ops.resize``) against onnxruntime.

The Resize floor is pinned here: onnxruntime multiplies in float32 and truncates, ONNX shape inference
multiplies in double, and the two differ for scales such as 0.7 (10 × 0.7: onnxruntime 7, ONNX 6).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx_case import build, check, compare, direct, feeds_for, node, run_all

from shapecheck.facts import FactKind
from shapecheck.ops.base import Tensor
from shapecheck.ops.resize import scaled_size
from shapecheck.ops.shape import make_value
from shapecheck.symbolic import Expr, symbol

I64 = np.int64
F32 = np.float32
BIG = np.iinfo(np.int64).max
EMPTY = np.zeros(0, F32)


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=I64)


def floats(*values: float) -> np.ndarray:
    return np.array(values, dtype=F32)


# -- Resize with scales ----------------------------------------------------------------------------------
def _scale_cases(count: int, seed: int) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    scales = [0.25, 0.3, 0.33, 0.5, 0.6, 0.7, 0.75, 1.1, 1.3, 1.5, 1.7, 2.0, 2.5, 3.0, 1 / 3]
    return [(int(rng.integers(1, 120)), float(rng.choice(scales))) for _ in range(count)]


@pytest.mark.parametrize(("n", "scale"), _scale_cases(40, 3))
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_scales_match_onnxruntime(n, scale, mode) -> None:
    model = build(
        [node("Resize", ["x", "", "s"], "y", mode=mode)], {"x": [1, 2, n, 5]}, {"s": floats(1, 1, scale, 1)}
    )
    check(model, modes=(False,))


@pytest.mark.parametrize(("n", "scale", "runtime", "inference"), [(10, 0.7, 7, 6), (100, 0.29, 29, 28)])
def test_resize_floor_is_onnxruntime_float32_truncation(n, scale, runtime, inference) -> None:
    """Pinned: onnxruntime gives ``int(float32(s) * float32(n))``; ONNX shape inference the double product."""
    model = build(
        [node("Resize", ["x", "", "s"], "y")], {"x": [1, 1, n, n]}, {"s": floats(1, 1, scale, scale)}
    )
    (comparison,) = check(model, modes=(False,))
    assert comparison.propagation.shape("y") == (1, 1, runtime, runtime)
    assert comparison.propagation.details["Resize_0"]["onnx_inference_sizes"] == (1, 1, inference, inference)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output[0]
    assert tuple(d.dim_value for d in inferred.type.tensor_type.shape.dim) == (1, 1, inference, inference)


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        (2.0, lambda h: 2 * h),
        (0.5, lambda h: h // 2),
        (1.5, lambda h: (3 * h) // 2),
        (0.25, lambda h: h // 4),
    ],
)
def test_resize_symbolic_size_with_a_fraction_scale(scale, expected) -> None:
    model = build(
        [node("Resize", ["x", "", "s"], "y")], {"x": [1, 2, "H", "W"]}, {"s": floats(1, 1, scale, scale)}
    )
    for size in (7, 8, 37):
        (_, symbolic) = check(model, {"H": size, "W": size + 3})
        assert isinstance(symbolic.propagation.shape("y")[2], Expr)
    assert symbolic.propagation.shape("y")[2] == expected(symbol("H"))


def test_resize_symbolic_size_with_an_inexact_scale_is_unknown() -> None:
    assert scaled_size(symbol("H"), float(F32(0.7))) == (None, None)
    (out,), facts = direct(
        "Resize",
        [Tensor((1, 1, symbol("H"))), None, Tensor((3,), make_value([1.0, 1.0, float(F32(0.7))], (3,)))],
    )
    assert out.shape == (1, 1, None)
    assert [f.kind for f in facts] == [FactKind.UNRESOLVED]


def test_resize_to_zero_is_a_non_positive_fact() -> None:
    model = build([node("Resize", ["x", "", "s"], "y")], {"x": [1, 1, 4, 4]}, {"s": floats(1, 1, 0.1, 1)})
    (comparison,) = check(model, modes=(False,), allow_facts=True)
    assert [f.kind for f in comparison.facts()] == [FactKind.NON_POSITIVE]


# -- Resize with sizes, axes, keep_aspect_ratio_policy, opsets ----------------------------------------------
def test_resize_sizes() -> None:
    model = build(
        [node("Resize", ["x", "", "", "z"], "y")], {"x": [1, 2, "H", "W"]}, {"z": ints(1, 2, 17, 9)}
    )
    check(model, {"H": 5, "W": 30})


@pytest.mark.parametrize("opset", [11, 12])
def test_resize_sizes_with_an_empty_scales_input(opset) -> None:
    model = build(
        [node("Resize", ["x", "roi", "s", "z"], "y")],
        {"x": [1, 2, 6, 6]},
        {"roi": EMPTY, "s": EMPTY, "z": ints(1, 2, 12, 3)},
        opset=opset,
    )
    check(model)


def test_resize_opset_10_takes_scales_second() -> None:
    model = build(
        [node("Resize", ["x", "s"], "y")], {"x": [1, 2, 6, 7]}, {"s": floats(1, 1, 2, 0.5)}, opset=10
    )
    check(model)


@pytest.mark.parametrize("kind", ["scales", "sizes"])
def test_resize_axes_attribute_opset_18(kind) -> None:
    inputs = ["x", "", "p"] if kind == "scales" else ["x", "", "", "p"]
    param = floats(2.0, 0.5) if kind == "scales" else ints(11, 4)
    model = build([node("Resize", inputs, "y", axes=[3, -2])], {"x": [1, 2, 6, 9]}, {"p": param}, opset=18)
    check(model)


def _policy_cases(count: int, seed: int) -> list[tuple[int, int, int, int, str]]:
    rng = np.random.default_rng(seed)
    return [
        (
            *(int(v) for v in rng.integers(1, 60, 2)),
            *(int(v) for v in rng.integers(1, 90, 2)),
            str(rng.choice(["not_larger", "not_smaller"])),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize(("h", "w", "sh", "sw", "policy"), _policy_cases(30, 5))
def test_resize_keep_aspect_ratio_policy(h, w, sh, sw, policy) -> None:
    model = build(
        [node("Resize", ["x", "", "", "z"], "y", axes=[2, 3], keep_aspect_ratio_policy=policy)],
        {"x": [1, 1, h, w]},
        {"z": ints(sh, sw)},
        opset=18,
    )
    check(model)


@pytest.mark.parametrize("opset", [7, 9])
def test_upsample_scales_attribute_and_input(opset) -> None:
    if opset == 7:
        model = build(
            [node("Upsample", ["x"], "y", scales=[1.0, 1.0, 2.0, 1.5])], {"x": [1, 2, 5, 7]}, opset=7
        )
    else:
        model = build(
            [node("Upsample", ["x", "s"], "y")], {"x": [1, 2, 5, 7]}, {"s": floats(1, 1, 2, 1.5)}, opset=9
        )
    check(model)


def test_resize_with_unresolved_sizes_names_the_input() -> None:
    (out,), facts = direct("Resize", [Tensor((1, 2, 8, 8)), None, None, Tensor((4,))])
    assert out.shape is None
    assert [(f.kind, f.data["input"]) for f in facts] == [(FactKind.UNRESOLVED, "in3")]


def _interpolate_to_skip(opset: int = 13) -> onnx.ModelProto:
    """``F.interpolate(x, size=skip.shape[2:])``: Shape → Slice → Concat with N, C → Resize(sizes)."""
    return build(
        [
            node("Shape", ["skip"], "ss"),
            node("Slice", ["ss", "b2", "e"], "hw"),
            node("Shape", ["x"], "sx"),
            node("Slice", ["sx", "b0", "b2"], "nc"),
            node("Concat", ["nc", "hw"], "sizes", axis=0),
            node("Resize", ["x", "", "", "sizes"], "up", mode="nearest"),
            node("Concat", ["up", "skip"], "y", axis=1),
        ],
        {"x": ["N", 4, "h", "w"], "skip": ["N", 2, "H", "W"]},
        {"b0": ints(0), "b2": ints(2), "e": ints(BIG)},
        opset=opset,
    )


@pytest.mark.parametrize(("H", "W", "h", "w"), [(64, 64, 32, 32), (37, 41, 18, 20), (5, 3, 9, 9)])
def test_interpolate_to_the_skip_size_chain(H, W, h, w) -> None:
    _, symbolic = check(_interpolate_to_skip(), {"N": 2, "H": H, "W": W, "h": h, "w": w})
    assert symbolic.propagation.shape("up") == (symbol("N"), 4, symbol("H"), symbol("W"))


# -- Pad ------------------------------------------------------------------------------------------------
def _pad_cases(count: int, seed: int) -> list[tuple[list[int], str]]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        pads = [int(v) for v in rng.integers(-2, 4, 8)]
        pads[0] = pads[4] = 0
        cases.append((pads, str(rng.choice(["constant", "edge", "reflect", "wrap"]))))
    return cases


@pytest.mark.parametrize(("pads", "mode"), _pad_cases(80, 11))
def test_pad_input_form_with_negative_pads(pads, mode) -> None:
    """Where onnxruntime runs the Pad the sizes agree; where it refuses, shapecheck has a fact."""
    model = build(
        [node("Pad", ["x", "p", "c"], "y", mode=mode)],
        {"x": [1, 2, 3, 5]},
        {"p": ints(*pads), "c": F32(0.5)},
        opset=19,
    )
    try:
        actual = run_all(model, feeds_for(model, {}))
    except Exception as error:  # onnxruntime's refusal is the oracle here
        facts = compare(model, actual={}).facts()
        assert {f.kind for f in facts} & {FactKind.BAD_ATTRIBUTE, FactKind.NON_POSITIVE}, str(error)[:200]
        return
    check(model, modes=(False,))
    assert actual


def test_pad_attribute_form_before_opset_11() -> None:
    model = build([node("Pad", ["x"], "y", pads=[0, 1, 2, 0, 0, 3], value=1.0)], {"x": [2, 3, 4]}, opset=2)
    check(model)


def test_pad_axes_input_opset_18() -> None:
    model = build(
        [node("Pad", ["x", "p", "", "a"], "y")],
        {"x": [1, 2, 6, 5]},
        {"p": ints(1, -1, 2, 3), "a": ints(-1, 2)},
    )
    check(model)


def test_pad_symbolic_size() -> None:
    model = build(
        [node("Pad", ["x", "p"], "y")], {"x": [1, 2, "H", "W"]}, {"p": ints(0, 0, 1, 2, 0, 0, 0, -1)}
    )
    _, symbolic = check(model, {"H": 6, "W": 5})
    assert symbolic.propagation.shape("y")[2:] == (symbol("H") + 1, symbol("W") + 1)


def test_pad_reflect_wider_than_the_input_is_a_fact() -> None:
    (out,), facts = direct(
        "Pad",
        [Tensor((1, 1, 4, 4)), Tensor((8,), make_value([0, 0, 4, 0, 0, 0, 0, 0], (8,)))],
        {"mode": "reflect"},
    )
    assert out.shape == (1, 1, 8, 4)
    assert [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]


def test_pad_cropping_below_zero_is_a_non_positive_fact() -> None:
    (out,), facts = direct(
        "Pad", [Tensor((1, 1, 4, 4)), Tensor((8,), make_value([0, 0, -3, 0, 0, 0, -2, 0], (8,)))]
    )
    assert out.shape == (1, 1, 0, 4)
    assert [f.kind for f in facts] == [FactKind.NON_POSITIVE]


def test_pad_computed_from_shapes_symbolic() -> None:
    """The F.pad size fix with symbolic sizes: the padded size is an expression equal to the skip's."""
    model = build(
        [
            node("Shape", ["skip"], "s1"),
            node("Slice", ["s1", "b2", "e3"], "h1"),
            node("Shape", ["x"], "s2"),
            node("Slice", ["s2", "b2", "e3"], "h2"),
            node("Sub", ["h1", "h2"], "d"),
            node("Concat", ["z2", "z1", "z3", "d", "z1"], "pads", axis=0),
            node("Pad", ["x", "pads"], "y"),
        ],
        {"skip": [1, 2, "H", 8], "x": [1, 3, "h", 8]},
        {"b2": ints(2), "e3": ints(3), "z1": ints(0), "z2": ints(0, 0), "z3": ints(0, 0, 0)},
    )
    _, symbolic = check(model, {"H": 37, "h": 30})
    assert symbolic.propagation.shape("y")[2] == symbol("H")


# -- DepthToSpace / SpaceToDepth ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("block", [2, 3])
def test_depth_to_space(mode, block) -> None:
    model = build(
        [node("DepthToSpace", ["x"], "y", blocksize=block, mode=mode)],
        {"x": ["N", 2 * block * block, "H", 5]},
    )
    check(model, {"N": 2, "H": 3})


@pytest.mark.parametrize("block", [2, 3])
def test_space_to_depth(block) -> None:
    model = build([node("SpaceToDepth", ["x"], "y", blocksize=block)], {"x": ["N", 3, 6, 12]})
    check(model, {"N": 2})


def test_space_to_depth_not_divisible_is_a_fact() -> None:
    (_out,), facts = direct("SpaceToDepth", [Tensor((1, 3, 65, 64))], {"blocksize": 2})
    assert [f.kind for f in facts] == [FactKind.BAD_ATTRIBUTE]
    assert facts[0].message == "SpaceToDepth: H=65 not divisible by blocksize 2"


def test_depth_to_space_channels_not_divisible_is_a_fact() -> None:
    (_out,), facts = direct("DepthToSpace", [Tensor((1, 6, 4, 4))], {"blocksize": 2})
    assert [f.kind for f in facts] == [FactKind.CHANNEL_MISMATCH]
