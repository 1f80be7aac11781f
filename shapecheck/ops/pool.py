"""Pooling: windowed pools (floor or ceil mode) and global pools.

Ceil mode follows the runtimes (a last window starting in the end padding is dropped). ONNX shape
inference before opset 22 keeps that window; where the two differ the node's details say so.
"""

from __future__ import annotations

from shapecheck.arith import PoolSemantics
from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.ops import op
from shapecheck.ops.base import UNKNOWN, Context, Tensor, check_positive_sizes, spatial_attrs, window_output
from shapecheck.symbolic import Dim

#: First opset whose ONNX shape inference drops a ceil-mode window that starts in the padding.
CEIL_FIX_OPSET = 22


@op("MaxPool", "AveragePool", "LpPool")
def window_pool(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(N, C, *n) -> (N, C, *o)``; MaxPool's optional second output (indices) has the same shape."""
    x = inputs[0]
    if x is None or x.shape is None:
        return [UNKNOWN] * len(node.outputs)
    if len(x.shape) < 3:
        ctx.fact(FactKind.RANK_MISMATCH, f"{node.op} needs an input of rank >= 3, got {len(x.shape)}",
                 rank=len(x.shape))
        return [UNKNOWN] * len(node.outputs)
    if node.attr("kernel_shape") is None:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"{node.op} has no kernel_shape", attribute="kernel_shape")
        return [UNKNOWN] * len(node.outputs)
    spatial = spatial_attrs(node, len(x.shape) - 2, None, ctx)
    if spatial is None:
        return [UNKNOWN] * len(node.outputs)
    ceil_mode = bool(node.attr("ceil_mode", 0))
    for axis, (k, (begin, end)) in enumerate(zip(spatial.kernel, spatial.pads)):
        if max(begin, end) >= k:
            ctx.fact(FactKind.BAD_ATTRIBUTE,
                     f"pads ({begin}, {end}) on spatial axis {axis} are not smaller than the kernel {k}; "
                     "onnxruntime and PyTorch reject this", attribute="pads", axis=axis)
    sizes: list[Dim] = []
    pads, remainders, legacy = [], [], []
    for axis, n in enumerate(x.shape[2:]):
        out, axis_pads, remainder = window_output(n, axis, spatial, ceil_mode=ceil_mode)
        sizes.append(out)
        pads.append(axis_pads)
        remainders.append(remainder if not ceil_mode else 0)
        if ceil_mode:
            legacy.append(window_output(n, axis, spatial, ceil_mode=True,
                                        semantics=PoolSemantics.ONNX_LEGACY_INFERENCE)[0])
    ctx.detail(kernel=spatial.kernel, strides=spatial.strides, pads=tuple(pads), dilations=spatial.dilations,
               ceil_mode=int(ceil_mode), auto_pad=spatial.auto_pad.value, remainder=tuple(remainders))
    if ceil_mode and legacy != sizes:
        ctx.detail(onnx_inference_sizes=tuple(legacy), onnx_inference_applies=ctx.opset < CEIL_FIX_OPSET)
    shape = (x.shape[0], x.shape[1], *check_positive_sizes(ctx, sizes, x.shape[2:]))
    return [Tensor(shape)] * len(node.outputs)


@op("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Every spatial axis becomes 1."""
    x = inputs[0]
    if x is None or x.shape is None:
        return [UNKNOWN]
    return [Tensor((*x.shape[:2], *(1,) * (len(x.shape) - 2)))]
