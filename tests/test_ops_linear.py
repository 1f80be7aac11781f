"""Gemm, MatMul, reductions, ArgMax/ArgMin, TopK (``shapecheck.ops.linear``) against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_case import build, check, direct, node

from shapecheck.facts import FactKind
from shapecheck.ops.base import Tensor
from shapecheck.ops.linear import REDUCTIONS
from shapecheck.ops.shape import make_value
from shapecheck.symbolic import symbol

I64 = np.int64
F32 = np.float32


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=I64)


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("bias", [None, (7,), (1, 7), (5, 1), (5, 7), ()])
def test_gemm(trans_a, trans_b, bias) -> None:
    a = [3, 5] if trans_a else [5, 3]
    b = [7, 3] if trans_b else [3, 7]
    inits = {"b": np.ones(b, F32)}
    inputs = ["a", "b"]
    if bias is not None:
        inits["c"] = np.ones(bias, F32)
        inputs.append("c")
    model = build([node("Gemm", inputs, "y", transA=trans_a, transB=trans_b)], {"a": a}, inits)
    check(model)


def test_gemm_symbolic_batch() -> None:
    model = build(
        [node("Flatten", ["x"], "f"), node("Gemm", ["f", "w", "c"], "y", transB=1)],
        {"x": ["N", 4, 3, 3]},
        {"w": np.ones((10, 36), F32), "c": np.ones(10, F32)},
    )
    check(model, {"N": 3})


def test_flatten_into_gemm_with_the_wrong_width_is_a_channel_mismatch() -> None:
    """A head sized for 64×7×7 fed a 64×8×8 map (PyTorch: "mat1 and mat2 shapes cannot be multiplied")."""
    (out,), facts = direct("Gemm", [Tensor((1, 4096)), Tensor((10, 3136))], {"transB": 1})
    assert out.shape == (1, 10)
    assert [f.kind for f in facts] == [FactKind.CHANNEL_MISMATCH]
    assert facts[0].data["expected"] == 3136 and facts[0].data["actual"] == 4096


MATMULS = [
    ([3], [3]),
    ([3], [3, 4]),
    ([2, 3], [3]),
    ([2, 3], [3, 4]),
    ([5, 2, 3], [3, 4]),
    ([2, 3], [5, 3, 4]),
    ([1, 2, 3], [5, 3, 4]),
    ([6, 1, 2, 3], [5, 3, 4]),
    ([4], [2, 4, 3]),
    ([2, 2, 3], [3]),
]


@pytest.mark.parametrize(("a", "b"), MATMULS)
def test_matmul_numpy_semantics(a, b) -> None:
    model = build([node("MatMul", ["a", "b"], "y")], {"a": a}, {"b": np.ones(b, F32)})
    check(model)


def test_matmul_symbolic_sequence() -> None:
    model = build([node("MatMul", ["a", "b"], "y")], {"a": ["N", "L", 8]}, {"b": np.ones((8, 4), F32)})
    check(model, {"N": 2, "L": 5})


def test_matmul_inner_mismatch_is_a_channel_mismatch() -> None:
    (out,), facts = direct("MatMul", [Tensor((2, 3, 5)), Tensor((4, 6))])
    assert out.shape == (2, 3, 6)
    assert [f.kind for f in facts] == [FactKind.CHANNEL_MISMATCH]


def test_matmul_batch_mismatch_is_a_join_mismatch() -> None:
    _, facts = direct("MatMul", [Tensor((2, 3, 4)), Tensor((5, 4, 6))])
    assert [f.kind for f in facts] == [FactKind.JOIN_MISMATCH]


def _reduce_model(op: str, axes: list[int] | None, keepdims: int, opset: int, shape: list) -> object:
    uses_input = opset >= REDUCTIONS[op]
    if axes is not None and uses_input:
        return build(
            [node(op, ["x", "a"], "y", keepdims=keepdims)], {"x": shape}, {"a": ints(*axes)}, opset=opset
        )
    return build([node(op, ["x"], "y", keepdims=keepdims, axes=axes)], {"x": shape}, opset=opset)


@pytest.mark.parametrize(
    "op",
    [
        "ReduceMean",
        "ReduceSum",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceL2",
        "ReduceLogSumExp",
        "ReduceSumSquare",
    ],
)
@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize(("axes", "keepdims"), [([2, 3], 1), ([-1], 0), (None, 1), (None, 0), ([0, -2], 0)])
def test_reductions_by_opset(op, opset, axes, keepdims) -> None:
    check(_reduce_model(op, axes, keepdims, opset, ["N", 3, "H", 5]), {"N": 2, "H": 4})


def test_reduce_noop_with_empty_axes() -> None:
    model = build(
        [node("ReduceSum", ["x", "a"], "y", noop_with_empty_axes=1)],
        {"x": [2, 3]},
        {"a": np.zeros(0, I64)},
        opset=13,
    )
    check(model)


def test_reduce_prod_of_a_shape_value_is_the_element_count() -> None:
    model = build(
        [
            node("Shape", ["x"], "s"),
            node("Slice", ["s", "b", "e"], "chw"),
            node("ReduceProd", ["chw"], "count", keepdims=0),
        ],
        {"x": ["N", 3, "H", "W"]},
        {"b": ints(1), "e": ints(4)},
        opset=13,
    )
    _, symbolic = check(model, {"N": 2, "H": 4, "W": 5})
    assert symbolic.propagation.tensors["count"].value.reshape(-1)[0] == 3 * (symbol("H") * symbol("W"))


def test_reduce_with_unresolved_axes_names_the_input() -> None:
    (out,), facts = direct("ReduceSum", [Tensor((2, 3)), Tensor((1,))], opset=13)
    assert out.shape is None
    assert [(f.kind, f.data["input"]) for f in facts] == [(FactKind.UNRESOLVED, "in1")]


def test_reduce_axes_attribute_is_used_before_opset_18() -> None:
    (out,), facts = direct("ReduceMean", [Tensor((2, 3, 4))], {"axes": (1,), "keepdims": 0}, opset=17)
    assert out.shape == (2, 4) and not facts
    (out,), facts = direct("ReduceMean", [Tensor((2, 3, 4)), Tensor((1,), make_value([-1], (1,)))], opset=18)
    assert out.shape == (2, 3, 1) and not facts


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize(("axis", "keepdims"), [(0, 1), (1, 0), (-1, 1), (-2, 0)])
def test_arg_reductions(op, axis, keepdims) -> None:
    model = build([node(op, ["x"], "y", axis=axis, keepdims=keepdims)], {"x": ["N", 3, 5]})
    check(model, {"N": 2})


@pytest.mark.parametrize(("opset", "axis"), [(1, -1), (11, 1), (11, -1)])
def test_topk(opset, axis) -> None:
    if opset < 10:
        model = build([node("TopK", ["x"], ["v", "i"], k=2, axis=axis)], {"x": [3, 5]}, opset=opset)
    else:
        model = build(
            [node("TopK", ["x", "k"], ["v", "i"], axis=axis)], {"x": [3, 5]}, {"k": ints(2)}, opset=opset
        )
    check(model)
