"""Ops that change spatial sizes by a factor or a margin: Resize, Upsample, Pad, DepthToSpace, SpaceToDepth.

These are where decoder branches regain (or fail to regain) the size of their skip connection, so their
sizes must be exact, including when the scales, sizes or pads are computed in the graph. Scaled sizes
follow onnxruntime, which multiplies in float32 and truncates (``int(float32(s)·float32(n))``); ONNX shape
inference multiplies in double and can differ by one (``10 × 0.7``: onnxruntime 7, ONNX 6) — recorded as
the node's ``onnx_inference_sizes`` detail.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.ops import op
from shapecheck.ops.base import UNKNOWN, Context, Tensor
from shapecheck.ops.shape import normalize_axes, numbers, param_ints, present, unresolved
from shapecheck.symbolic import Dim, Expr

#: Largest denominator tried when a scale is turned into a fraction for a symbolic size.
_MAX_DENOMINATOR = 1000


def scaled_size(n: Dim, scale: float) -> tuple[Dim, Dim]:
    """``(onnxruntime, ONNX shape inference)`` sizes of an axis of size ``n`` scaled by ``scale``.

    A symbolic size is scaled exactly when the scale is a small fraction ``p/q`` (``(n·p)//q``, the same
    as both runtimes while ``n·s`` is exact in float32); otherwise it is unknown.
    """
    if n is None:
        return None, None
    if isinstance(n, int):
        return int(np.float32(scale) * np.float32(n)), int(np.floor(float(scale) * n))
    ratio = Fraction(scale).limit_denominator(_MAX_DENOMINATOR)
    if abs(float(ratio) - scale) > 1e-9:
        return None, None
    size = (n * ratio.numerator) // ratio.denominator
    return size, size


def _fit_sizes(
    shape: tuple[Dim, ...], axes: list[int], sizes: list[Any], policy: str
) -> list[Dim]:
    """Output sizes for ``keep_aspect_ratio_policy`` (opset 18): one scale for all ``axes``, the smallest
    (``not_larger``) or largest (``not_smaller``) ratio, sizes rounded half up in float32 (onnxruntime)."""
    dims = [shape[a] for a in axes]
    if not all(isinstance(d, int) and d > 0 for d in dims) or not all(isinstance(s, int) for s in sizes):
        return [None] * len(axes)
    ratios = [np.float32(s) / np.float32(d) for s, d in zip(sizes, dims)]
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    return [int(np.floor(scale * np.float32(d) + np.float32(0.5))) for d in dims]


def _resize_params(node: Node, inputs: list[Tensor | None], ctx: Context) -> tuple[str, int] | None:
    """Which input gives the output: ``("sizes", i)``, ``("scales", i)``, ``("attr", -1)`` (Upsample-7's
    ``scales`` attribute) or ``None`` when the node has neither."""
    if node.op == "Upsample" or ctx.opset < 11:
        if present(inputs, 1):
            return "scales", 1
        return ("attr", -1) if node.attr("scales") is not None else None
    if present(inputs, 3) and not _empty(inputs[3]):
        return "sizes", 3
    if present(inputs, 2) and not _empty(inputs[2]):
        return "scales", 2
    return None


def _text(value: Any, default: str) -> str:
    """A string attribute (the loader gives ``str``; raw ``bytes`` are decoded)."""
    if value is None:
        return default
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _empty(tensor: Tensor | None) -> bool:
    """An empty tensor (opset 11–12 models pass an empty ``scales`` when ``sizes`` is used)."""
    return tensor is not None and tensor.shape is not None and 0 in tensor.shape


@op("Resize", "Upsample")
def resize(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``⌊n·scale⌋`` per axis (onnxruntime's float32 product), or ``sizes`` directly, on the ``axes``
    (opset 18) or all axes; ``keep_aspect_ratio_policy`` is applied to ``sizes``."""
    x = inputs[0] if inputs else None
    if x is None or x.shape is None:
        return [UNKNOWN]
    rank = len(x.shape)
    source = _resize_params(node, inputs, ctx)
    if source is None:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"{node.op} has neither scales nor sizes", attribute="scales")
        return [UNKNOWN]
    kind, index = source
    if kind == "attr":
        values: list[Any] | None = [float(s) for s in node.attr("scales")]
    elif kind == "sizes":
        values = param_ints(node, inputs, ctx, index, "sizes")
    else:
        values = numbers(inputs[index])
        if values is None or any(isinstance(v, Expr) for v in values):
            unresolved(node, ctx, index, "scales")
            return [UNKNOWN]
    if values is None:
        return [UNKNOWN]
    axes_attr = node.attr("axes")
    axes = normalize_axes(node, ctx, [int(a) for a in axes_attr], rank) if axes_attr is not None else list(
        range(rank))
    if axes is None:
        return [UNKNOWN]
    if len(values) != len(axes):
        ctx.fact(FactKind.RANK_MISMATCH, f"{node.op} has {len(values)} {kind} for {len(axes)} axes",
                 attribute=kind, count=len(values), rank=len(axes))
        return [UNKNOWN]
    shape = list(x.shape)
    inference = list(x.shape)
    if kind == "sizes":
        policy = _text(node.attr("keep_aspect_ratio_policy"), "stretch")
        fitted = values if policy == "stretch" else _fit_sizes(x.shape, axes, values, policy)
        for axis, size in zip(axes, fitted):
            shape[axis] = inference[axis] = size
    else:
        if any(not 0 < v < float("inf") for v in values):  # NaN fails too
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"{node.op} scales {values} must be positive and finite",
                     attribute="scales")
            return [UNKNOWN]
        for axis, scale in zip(axes, values):
            shape[axis], inference[axis] = scaled_size(x.shape[axis], scale)
            if shape[axis] is None and x.shape[axis] is not None:
                ctx.fact(FactKind.UNRESOLVED, f"axis {axis}: {x.shape[axis]} × {scale} has no exact symbolic "
                         "form", axis=axis, scale=scale)
    for axis in axes:
        if isinstance(shape[axis], int) and shape[axis] < 1:
            ctx.fact(FactKind.NON_POSITIVE, f"{node.op} makes axis {axis} of size {x.shape[axis]} empty "
                     f"(size {shape[axis]})", axis=axis, input_size=x.shape[axis], output_size=shape[axis])
    if inference != shape:
        ctx.detail(onnx_inference_sizes=tuple(inference))
    return [Tensor(tuple(shape), dtype=x.dtype)]


# -- Pad -----------------------------------------------------------------------------------------------
def _pads(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[int | Expr] | None:
    """Flat ``[b1, b2, …, e1, e2, …]`` from the ``pads`` (``paddings`` in Pad-1) attribute before opset
    11, the ``pads`` input since; ``None`` (with a fact) when not known."""
    attr = node.attr("pads", node.attr("paddings"))
    if present(inputs, 1) and (ctx.opset >= 11 or attr is None):
        return param_ints(node, inputs, ctx, 1, "pads")
    if attr is None:
        unresolved(node, ctx, 1, "pads")
        return None
    return [int(p) for p in attr]


@op("Pad")
def pad(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``n + begin + end`` per padded axis (``axes`` input, opset 18); negative pads crop.

    A size below zero is a NON_POSITIVE fact (onnxruntime fails); reflect pads must be smaller than the
    axis (onnxruntime rejects ``pad ≥ n``).
    """
    x = inputs[0] if inputs else None
    pads = _pads(node, inputs, ctx)
    if x is None or x.shape is None or pads is None:
        return [UNKNOWN]
    rank = len(x.shape)
    if present(inputs, 3):
        raw_axes = param_ints(node, inputs, ctx, 3, "axes")
        axes = normalize_axes(node, ctx, raw_axes, rank) if raw_axes is not None else None
    else:
        axes = list(range(rank))
    if axes is None:
        return [UNKNOWN]
    if len(pads) != 2 * len(axes):
        ctx.fact(FactKind.RANK_MISMATCH, f"Pad has {len(pads)} pads for {len(axes)} axes "
                 f"(needs {2 * len(axes)})", attribute="pads", count=len(pads), rank=len(axes))
        return [UNKNOWN]
    mode = _text(node.attr("mode"), "constant")
    shape = list(x.shape)
    applied = []
    for i, axis in enumerate(axes):
        begin, end = pads[i], pads[i + len(axes)]
        n = x.shape[axis]
        applied.append((begin, end))
        shape[axis] = None if n is None else n + begin + end
        size = shape[axis]
        if isinstance(size, int) and size < 0:
            ctx.fact(FactKind.NON_POSITIVE, f"Pad crops axis {axis} of size {n} by {-begin}, {-end}: "
                     f"size {size}", axis=axis, input_size=n, output_size=size)
            shape[axis] = 0
        elif mode != "constant" and isinstance(n, int) and isinstance(begin, int) and isinstance(end, int):
            _check_border_mode(ctx, mode, axis, n, begin, end)
    ctx.detail(pads=tuple(applied), mode=mode)
    return [Tensor(tuple(shape), dtype=x.dtype)]


def _check_border_mode(ctx: Context, mode: str, axis: int, n: int, begin: int, end: int) -> None:
    """What onnxruntime rejects for edge/reflect/wrap: an axis that cropping leaves empty (even when no
    pad is added to it), and reflect pads wider than the cropped extent minus one (nothing to mirror)."""
    extent = n + min(begin, 0) + min(end, 0)
    widest = max(begin, end)
    if extent <= 0:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"{mode} pads ({begin}, {end}) on axis {axis} leave nothing of its "
                 f"size {n}; onnxruntime rejects {mode} padding of an empty tensor", attribute="pads",
                 axis=axis, size=n)
    elif mode == "reflect" and widest > extent - 1:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"reflect pads ({begin}, {end}) on axis {axis} must be smaller than "
                 f"its size {extent}; onnxruntime rejects them", attribute="pads", axis=axis, size=extent)


# -- DepthToSpace / SpaceToDepth -----------------------------------------------------------------------
def _block(node: Node, inputs: list[Tensor | None], ctx: Context) -> tuple[tuple[Dim, ...], int] | None:
    x = inputs[0] if inputs else None
    if x is None or x.shape is None:
        return None
    if len(x.shape) != 4:
        ctx.fact(FactKind.RANK_MISMATCH, f"{node.op} needs a rank-4 input (N, C, H, W), got rank "
                 f"{len(x.shape)}", rank=len(x.shape))
        return None
    block = node.attr("blocksize")
    if block is None or int(block) < 1:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"{node.op} blocksize must be >= 1, got {block}",
                 attribute="blocksize")
        return None
    return x.shape, int(block)


@op("DepthToSpace")
def depth_to_space(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(N, C, H, W) → (N, C/b², H·b, W·b)`` in both DCR and CRD modes; ``b²`` must divide ``C``."""
    prepared = _block(node, inputs, ctx)
    if prepared is None:
        return [UNKNOWN]
    (n, c, h, w), b = prepared
    if isinstance(c, int) and c % (b * b):
        ctx.fact(FactKind.CHANNEL_MISMATCH, f"DepthToSpace: C={c} not divisible by blocksize² = {b * b}",
                 channels=c, group=b * b)
    return [Tensor((n, None if c is None else c // (b * b), None if h is None else h * b,
                    None if w is None else w * b), dtype=inputs[0].dtype)]  # type: ignore[union-attr]


@op("SpaceToDepth")
def space_to_depth(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(N, C, H, W) → (N, C·b², H/b, W/b)``; a size ``b`` does not divide is a BAD_ATTRIBUTE fact."""
    prepared = _block(node, inputs, ctx)
    if prepared is None:
        return [UNKNOWN]
    (n, c, h, w), b = prepared
    for name, axis, size in (("H", 2, h), ("W", 3, w)):
        if isinstance(size, int) and size % b:
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"SpaceToDepth: {name}={size} not divisible by blocksize {b}",
                     attribute="blocksize", axis=axis, size=size, blocksize=b)
    return [Tensor((n, None if c is None else c * b * b, None if h is None else h // b,
                    None if w is None else w // b), dtype=inputs[0].dtype)]  # type: ignore[union-attr]
