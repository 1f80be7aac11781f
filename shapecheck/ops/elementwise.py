"""Elementwise ops: shape-preserving unary ops, broadcasting n-ary ops (joins), normalisation layers.

Broadcasting is NumPy's multidirectional rule. Two inputs whose sizes differ on an axis where neither is
1 are a JOIN_MISMATCH fact — the "Sizes of tensors must match" error this tool exists to find — and
propagation continues with the first input's size. Small integer values (shape arithmetic) are computed
too, so ``Shape → Gather → Sub → Div`` chains resolve.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.ops import op
from shapecheck.ops.base import UNKNOWN, Context, Tensor
from shapecheck.symbolic import Dim, Expr, dims_equal

UNARY = (
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish",
    "Tanh", "Softplus", "Softsign", "Mish", "ThresholdedRelu", "Abs", "Neg", "Exp", "Log", "Sqrt",
    "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
    "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Not", "IsNaN", "IsInf", "Clip", "Identity", "Cast",
    "CastLike", "Softmax", "LogSoftmax", "Hardmax", "LRN", "Dropout", "Shrink", "BitwiseNot",
)


#: ONNX TensorProto integer element types (INT8…UINT64, BOOL).
_INTEGER_TYPES = frozenset({2, 3, 4, 5, 6, 7, 9, 12, 13})


def _trunc_div(a: Any, b: Any) -> Any:
    """ONNX integer Div truncates toward zero; symbolic sizes are non-negative, so floor is the same."""
    if isinstance(a, int) and isinstance(b, int):
        if b == 0:
            raise ZeroDivisionError("integer division by zero in a shape computation")
        quotient = abs(a) // abs(b)
        return quotient if (a >= 0) == (b >= 0) else -quotient
    if isinstance(b, int) and b > 0:
        return a // b
    raise TypeError("division by a symbolic size")


def _int_only(fn: Callable[[int, int], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if isinstance(a, Expr) or isinstance(b, Expr):
            equal = dims_equal(a, b)
            if fn in (max, min) and equal is not None:
                return a
            raise TypeError("comparison of symbolic sizes")
        return fn(a, b)

    return apply


VALUE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "Add": operator.add, "Sub": operator.sub, "Mul": operator.mul, "Div": _trunc_div,
    "Mod": _int_only(operator.mod), "Max": _int_only(max), "Min": _int_only(min),
    "Equal": _int_only(lambda a, b: int(a == b)), "Less": _int_only(lambda a, b: int(a < b)),
    "Greater": _int_only(lambda a, b: int(a > b)), "LessOrEqual": _int_only(lambda a, b: int(a <= b)),
    "GreaterOrEqual": _int_only(lambda a, b: int(a >= b)),
}
BROADCASTING = (*VALUE_OPS, "Pow", "Sum", "Mean", "And", "Or", "Xor", "BitwiseAnd", "BitwiseOr",
                "BitwiseXor", "BitShift", "Where")


@op(*UNARY)
def unary(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Same shape as the input; Identity/Cast/Neg/Abs keep small integer values too."""
    x = inputs[0] if inputs else None
    if x is None:
        return [UNKNOWN] * len(node.outputs)
    value = x.value
    if value is not None and node.op not in ("Identity", "Cast", "CastLike", "Neg", "Abs", "Clip"):
        value = None
    if value is not None and node.op == "Neg":
        value = -value
    if value is not None and node.op == "Cast" and node.attr("to") in _INTEGER_TYPES:
        import numpy as np

        # float → int casts truncate toward zero (onnxruntime and NumPy); symbolic sizes are already ints
        value = np.asarray(np.frompyfunc(lambda v: int(v) if isinstance(v, float) else v, 1, 1)(value),
                           dtype=object)
    return [Tensor(x.shape, value, x.dtype)] + [Tensor(x.shape)] * (len(node.outputs) - 1)


def broadcast_shapes(
    node: Node, shapes: list[tuple[Dim, ...]], names: list[str], ctx: Context
) -> tuple[Dim, ...]:
    """NumPy broadcasting of ``shapes``; unequal non-1 sizes become one JOIN_MISMATCH fact per axis."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    result: list[Dim] = []
    for axis in range(rank):
        sizes = [s[axis] for s in padded]
        chosen: Dim = 1
        for size in sizes:
            if size == 1:
                continue
            if chosen == 1:
                chosen = size
            elif dims_equal(chosen, size) is False:
                ctx.fact(
                    FactKind.JOIN_MISMATCH,
                    f"{node.op} inputs differ on axis {axis}: "
                    + " vs ".join(f"{n} has {s[axis]}" for n, s in zip(names, padded)),
                    axis=axis,
                    sizes=tuple(s[axis] for s in padded),
                    tensors=tuple(names),
                )
                break
            elif chosen is None:
                chosen = size
        result.append(chosen)
    return tuple(result)


def _values(node: Node, inputs: list[Tensor], shape: tuple[Dim, ...]) -> Any:
    import numpy as np

    fn = VALUE_OPS.get(node.op)
    if fn is None or len(inputs) != 2 or any(t.value is None for t in inputs):
        return None
    try:
        result = np.frompyfunc(fn, 2, 1)(inputs[0].value, inputs[1].value)
    except (TypeError, ZeroDivisionError, ValueError):
        return None
    # Two 0-d inputs give a bare int or Expr, not an array: keep values uniformly object arrays.
    return np.asarray(result, dtype=object)


@op(*BROADCASTING)
def broadcasting(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """The broadcast shape of every input (Where's condition included)."""
    present = [(name, t) for name, t in zip(node.inputs, inputs) if t is not None]
    if any(t.shape is None for _, t in present) or not present:
        return [UNKNOWN]
    shape = broadcast_shapes(node, [t.shape for _, t in present], [n for n, _ in present], ctx)  # type: ignore[misc]
    dtype = present[-1][1].dtype if node.op == "Where" else present[0][1].dtype
    return [Tensor(shape, _values(node, [t for _, t in present], shape), dtype)]


#: Normalisation ops and the index of the input whose length must equal the channel count.
_CHANNEL_PARAMS = {"BatchNormalization": (1, 2, 3, 4), "InstanceNormalization": (1, 2)}


#: From this opset on, GroupNormalization's scale and bias have one entry per channel (before: per group).
GROUPNORM_PER_CHANNEL_OPSET = 21


def _check_width(node: Node, inputs: list[Tensor | None], ctx: Context, indices: tuple[int, ...],
                 channels: Dim) -> None:
    """Per-channel parameters (scale, bias, mean, var) must be as wide as the channel axis."""
    for index in indices:
        param = inputs[index] if index < len(inputs) else None
        if param is None or param.shape is None or len(param.shape) != 1:
            continue
        if dims_equal(param.shape[0], channels) is False:
            ctx.fact(FactKind.CHANNEL_MISMATCH,
                     f"{node.op} has {param.shape[0]} channels in {node.inputs[index]!r}, the input has "
                     f"{channels}", expected=param.shape[0], actual=channels)
            return


@op("BatchNormalization", "InstanceNormalization", "GroupNormalization", "LayerNormalization",
    "MeanVarianceNormalization", "LpNormalization")
def normalization(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Same shape as the input; per-channel parameters must be as wide as the channel axis."""
    x = inputs[0]
    if x is None or x.shape is None:
        return [UNKNOWN] * len(node.outputs)
    channels = x.shape[1] if len(x.shape) > 1 else None
    _check_width(node, inputs, ctx, _CHANNEL_PARAMS.get(node.op, ()), channels)
    if node.op == "GroupNormalization" and ctx.opset >= GROUPNORM_PER_CHANNEL_OPSET:
        _check_width(node, inputs, ctx, (1, 2), channels)
    if node.op == "LayerNormalization":
        axis = int(node.attr("axis", -1))
        normalized = x.shape[axis:]
        scale = inputs[1] if len(inputs) > 1 else None
        if scale is not None and scale.shape is not None and len(scale.shape) == len(normalized) and any(
            dims_equal(a, b) is False for a, b in zip(scale.shape, normalized)
        ):
            ctx.fact(FactKind.CHANNEL_MISMATCH,
                     f"LayerNormalization scale has shape {list(scale.shape)}, the normalised axes are "
                     f"{list(normalized)}", expected=tuple(scale.shape), actual=tuple(normalized))
    groups = node.attr("num_groups")
    if node.op == "GroupNormalization" and isinstance(channels, int) and groups and channels % groups:
        ctx.fact(FactKind.CHANNEL_MISMATCH, f"{channels} channels are not divisible by num_groups {groups}",
                 channels=channels, group=groups)
    return [Tensor(x.shape)] + [UNKNOWN] * (len(node.outputs) - 1)
