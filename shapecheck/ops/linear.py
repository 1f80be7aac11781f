"""Matrix products and reductions: Gemm, MatMul, Reduce*, ArgMax/ArgMin, TopK.

The classifier head of a conv net is where a wrong spatial size finally breaks: ``Flatten → Gemm`` with
``K`` computed from the feature map. An inner dimension that does not match the weight is a
CHANNEL_MISMATCH (PyTorch's "mat1 and mat2 shapes cannot be multiplied"); batch dims of MatMul
broadcast like elementwise inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.ops import op
from shapecheck.ops.base import UNKNOWN, Context, Tensor
from shapecheck.ops.elementwise import broadcast_shapes
from shapecheck.ops.shape import INT64, make_value, normalize_axes, numbers, param_ints, present, product
from shapecheck.symbolic import Dim, dims_equal

#: Reductions, and the opset from which each takes ``axes`` as an input instead of an attribute.
REDUCTIONS = {
    "ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18, "ReduceProd": 18,
    "ReduceL1": 18, "ReduceL2": 18, "ReduceLogSum": 18, "ReduceLogSumExp": 18, "ReduceSumSquare": 18,
}

#: Reductions whose value is computed for small integer tensors (e.g. ``ReduceProd`` of a shape);
#: products multiply the ints first (``3*H*W``, not ``(3*H)*W``) so that equal sizes compare equal.
_VALUE_REDUCERS: dict[str, Callable[[list[Any]], Any]] = {
    "ReduceSum": lambda row: sum(row[1:], row[0]), "ReduceProd": product, "ReduceMax": max, "ReduceMin": min,
}


def _inner_mismatch(node: Node, ctx: Context, left: Dim, right: Dim, detail: str) -> None:
    if dims_equal(left, right) is False:
        ctx.fact(FactKind.CHANNEL_MISMATCH,
                 f"{node.op} inner dimensions differ: {node.inputs[0]} has {left} columns{detail}, "
                 f"{node.inputs[1]} has {right} rows", expected=right, actual=left,
                 tensors=tuple(node.inputs[:2]))


@op("Gemm")
def gemm(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``op(A) (M, K) × op(B) (K, N) → (M, N)`` with ``transA``/``transB``; ``C`` must broadcast to it."""
    a, b = (inputs[i] if i < len(inputs) else None for i in (0, 1))
    if a is None or b is None or a.shape is None or b.shape is None:
        return [UNKNOWN]
    for name, t in zip(node.inputs, (a, b)):
        if len(t.shape) != 2:  # type: ignore[arg-type]
            ctx.fact(FactKind.RANK_MISMATCH, f"Gemm needs rank-2 inputs, {name} has rank {len(t.shape)}",  # type: ignore[arg-type]
                     tensor=name, rank=len(t.shape))  # type: ignore[arg-type]
            return [UNKNOWN]
    m, k = a.shape[::-1] if node.attr("transA", 0) else a.shape
    k2, n = b.shape[::-1] if node.attr("transB", 0) else b.shape
    _inner_mismatch(node, ctx, k, k2, " (after transA)" if node.attr("transA", 0) else "")
    c = inputs[2] if len(inputs) > 2 else None
    if c is not None and c.shape is not None:
        padded = (1,) * (2 - len(c.shape)) + tuple(c.shape)
        for axis, (want, have) in enumerate(zip((m, n), padded[-2:])):
            if have != 1 and dims_equal(want, have) is False:
                ctx.fact(FactKind.CHANNEL_MISMATCH, f"Gemm bias {node.inputs[2]} has {have} on axis {axis}, "
                         f"the product has {want}", expected=want, actual=have, axis=axis)
    return [Tensor((m, n), dtype=a.dtype)]


@op("MatMul", "MatMulInteger", "QLinearMatMul")
def matmul(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """NumPy ``matmul``: 1-D operands are promoted and the added axis dropped; batch dims broadcast."""
    pair = (0, 3) if node.op == "QLinearMatMul" else (0, 1)
    a, b = (inputs[i] if i < len(inputs) else None for i in pair)
    if a is None or b is None or a.shape is None or b.shape is None:
        return [UNKNOWN]
    if not a.shape or not b.shape:
        ctx.fact(FactKind.RANK_MISMATCH, f"{node.op} inputs must have rank >= 1",
                 ranks=(len(a.shape), len(b.shape)))
        return [UNKNOWN]
    left = (1, *a.shape) if len(a.shape) == 1 else tuple(a.shape)
    right = (*b.shape, 1) if len(b.shape) == 1 else tuple(b.shape)
    if dims_equal(left[-1], right[-2]) is False:
        ctx.fact(FactKind.CHANNEL_MISMATCH,
                 f"{node.op} inner dimensions differ: {node.inputs[pair[0]]} has {left[-1]} columns, "
                 f"{node.inputs[pair[1]]} has {right[-2]} rows", expected=right[-2], actual=left[-1],
                 tensors=(node.inputs[pair[0]], node.inputs[pair[1]]))
    names = [node.inputs[pair[0]], node.inputs[pair[1]]]
    batched = max(len(left), len(right)) > 2
    batch = broadcast_shapes(node, [left[:-2], right[:-2]], names, ctx) if batched else ()
    shape = (*batch, *((left[-2],) if len(a.shape) > 1 else ()), *((right[-1],) if len(b.shape) > 1 else ()))
    return [Tensor(shape, dtype=INT64 if node.op == "MatMulInteger" else a.dtype)]


def _reduce_axes(
    node: Node, inputs: list[Tensor | None], ctx: Context, rank: int
) -> tuple[list[int] | None, bool]:
    """``(axes, ok)``: the reduced axes (``None`` = all) from the attribute or, from the op's opset
    (:data:`REDUCTIONS`), the input; ``noop_with_empty_axes`` turns empty axes into "none"."""
    attr = node.attr("axes")
    use_input = present(inputs, 1) and (ctx.opset >= REDUCTIONS[node.op] or attr is None)
    if use_input:
        raw = param_ints(node, inputs, ctx, 1, "axes")
        if raw is None:
            return None, False
    else:
        raw = None if attr is None else [int(a) for a in attr]
    if not raw:
        return ([] if node.attr("noop_with_empty_axes", 0) else None), True
    axes = normalize_axes(node, ctx, raw, rank)
    return axes, axes is not None


@op(*REDUCTIONS)
def reduce(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Reduced axes become 1 (``keepdims``, default) or disappear; sums and products of values are kept."""
    x = inputs[0] if inputs else None
    if x is None or x.shape is None:
        return [UNKNOWN]
    rank = len(x.shape)
    axes, ok = _reduce_axes(node, inputs, ctx, rank)
    if not ok:
        return [UNKNOWN]
    reduced = set(range(rank)) if axes is None else set(axes)
    keep = bool(node.attr("keepdims", 1))
    shape = tuple(1 if i in reduced else d for i, d in enumerate(x.shape) if keep or i not in reduced)
    return [Tensor(shape, _reduce_value(node, x, reduced, keep), x.dtype)]


def _reduce_value(node: Node, x: Tensor, axes: set[int], keep: bool) -> Any:
    reducer = _VALUE_REDUCERS.get(node.op)
    entries = numbers(x)
    if reducer is None or entries is None or not axes or not entries:
        return None
    array = make_value(entries, np.shape(x.value))
    kept = [a for a in range(array.ndim) if a not in axes]
    rows = array.transpose(kept + sorted(axes)).reshape(-1, int(np.prod([array.shape[a] for a in axes])))
    try:
        reduced = [reducer(list(row)) for row in rows]
    except TypeError:  # max/min of symbolic sizes
        return None
    shape = tuple(1 if a in axes else d for a, d in enumerate(array.shape) if keep or a not in axes)
    return make_value(reduced, shape)


@op("ArgMax", "ArgMin")
def arg_reduce(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``axis`` becomes 1 (``keepdims``, default) or disappears; int64 indices."""
    x = inputs[0] if inputs else None
    if x is None or x.shape is None:
        return [UNKNOWN]
    axes = normalize_axes(node, ctx, [int(node.attr("axis", 0))], len(x.shape), "axis")
    if axes is None:
        return [UNKNOWN]
    keep = bool(node.attr("keepdims", 1))
    shape = tuple(1 if i == axes[0] else d for i, d in enumerate(x.shape) if keep or i != axes[0])
    return [Tensor(shape, dtype=INT64)]


@op("TopK")
def top_k(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Values and indices, ``axis`` (default −1) of size ``k`` (attribute before opset 10, input since)."""
    x = inputs[0] if inputs else None
    if present(inputs, 1):
        k_values = param_ints(node, inputs, ctx, 1, "K")
        k: Dim = k_values[0] if k_values is not None and len(k_values) == 1 else None
        if k_values is None:
            return [UNKNOWN, UNKNOWN]
    else:
        k = node.attr("k")
    if x is None or x.shape is None or k is None:
        return [UNKNOWN, UNKNOWN]
    axes = normalize_axes(node, ctx, [int(node.attr("axis", -1))], len(x.shape), "axis")
    if axes is None:
        return [UNKNOWN, UNKNOWN]
    size = x.shape[axes[0]]
    if isinstance(k, int) and isinstance(size, int) and k > size:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"TopK k={k} is larger than axis {axes[0]} of size {size}",
                 attribute="k", value=k, size=size)
    shape = tuple(k if i == axes[0] else d for i, d in enumerate(x.shape))
    return [Tensor(shape, dtype=x.dtype), Tensor(shape, dtype=INT64)]
