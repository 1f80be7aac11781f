"""Conv and ConvTranspose: spatial sizes from :mod:`shapecheck.arith`, channels from the weight.

A weight comes from the node's second input (ONNX) or, for YAML layers, from the ``out_channels`` /
``kernel_shape`` attributes the YAML loader sets. Channel and group mismatches are facts.
"""

from __future__ import annotations

from shapecheck import arith
from shapecheck.arith import AutoPad
from shapecheck.errors import SpecError
from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.ops import op
from shapecheck.ops.base import (
    UNKNOWN,
    Context,
    Spatial,
    Tensor,
    check_positive_sizes,
    spatial_attrs,
    window_output,
)
from shapecheck.symbolic import Dim, dims_equal


def _weight_shape(node: Node, inputs: list[Tensor | None]) -> tuple[Dim, ...] | None:
    weight = inputs[1] if len(inputs) > 1 else None
    return weight.shape if weight is not None else None


def _kernel_from_weight(weight: tuple[Dim, ...] | None) -> tuple[int, ...] | None:
    if weight is None or len(weight) < 3 or not all(isinstance(d, int) for d in weight[2:]):
        return None
    return tuple(int(d) for d in weight[2:])  # type: ignore[arg-type]


def _check_group(node: Node, ctx: Context, channels: Dim, group: int, role: str) -> None:
    if group < 1:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"group must be >= 1, got {group}", attribute="group")
    elif isinstance(channels, int) and channels % group:
        ctx.fact(
            FactKind.CHANNEL_MISMATCH,
            f"{role} channels {channels} are not divisible by group {group}",
            channels=channels,
            group=group,
        )


def _check_declared_in_channels(node: Node, ctx: Context, channels: Dim) -> None:
    """A YAML layer's ``in_channels`` must equal the channels it receives."""
    expected_in = node.attr("in_channels")
    if expected_in is not None and dims_equal(expected_in, channels) is False:
        ctx.fact(FactKind.CHANNEL_MISMATCH, f"in_channels is {expected_in} but the input has {channels}",
                 expected=expected_in, actual=channels)


def _prepare(node: Node, inputs: list[Tensor | None], ctx: Context) -> tuple[
    tuple[Dim, ...], tuple[Dim, ...] | None, Spatial
] | None:
    x = inputs[0]
    if x is None or x.shape is None:
        return None
    if len(x.shape) < 3:
        ctx.fact(FactKind.RANK_MISMATCH, f"{node.op} needs an input of rank >= 3 (N, C, spatial…), "
                 f"got rank {len(x.shape)}", rank=len(x.shape))
        return None
    weight = _weight_shape(node, inputs)
    rank = len(x.shape) - 2
    if weight is not None and len(weight) != rank + 2:
        ctx.fact(FactKind.RANK_MISMATCH, f"weight has rank {len(weight)} but the input has rank "
                 f"{len(x.shape)}", weight_rank=len(weight), input_rank=len(x.shape))
        return None
    spatial = spatial_attrs(node, rank, _kernel_from_weight(weight), ctx)
    if spatial is None:
        return None
    ctx.detail(kernel=spatial.kernel, strides=spatial.strides, dilations=spatial.dilations,
               group=int(node.attr("group", 1)), auto_pad=spatial.auto_pad.value)
    return x.shape, weight, spatial


@op("Conv")
def conv(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(N, C, *n) -> (N, M, *o)`` with ``o = ⌊(n + p_b + p_e − d(k−1) − 1)/s⌋ + 1`` per axis."""
    prepared = _prepare(node, inputs, ctx)
    if prepared is None:
        return [UNKNOWN]
    shape, weight, spatial = prepared
    group = int(node.attr("group", 1))
    channels = shape[1]
    out_channels: Dim = weight[0] if weight is not None else node.attr("out_channels")
    _check_group(node, ctx, channels, group, "input")
    _check_group(node, ctx, out_channels, group, "output")
    if weight is not None and isinstance(channels, int) and isinstance(weight[1], int) and group >= 1 and \
            dims_equal(weight[1] * group, channels) is False:
        ctx.fact(
            FactKind.CHANNEL_MISMATCH,
            f"the weight expects {weight[1]}×{group} = {weight[1] * group} input channels, "
            f"the input has {channels}",
            expected=weight[1] * group,
            actual=channels,
        )
    _check_declared_in_channels(node, ctx, channels)
    if spatial.auto_pad is not AutoPad.NOTSET and max(spatial.dilations) > 1:
        ctx.detail(runtime_note="onnxruntime rejects auto_pad SAME_*/VALID together with dilation > 1")
    sizes, pads, remainders = [], [], []
    for axis, n in enumerate(shape[2:]):
        out, axis_pads, remainder = window_output(n, axis, spatial)
        sizes.append(out)
        pads.append(axis_pads)
        remainders.append(remainder)
    ctx.detail(pads=tuple(pads), remainder=tuple(remainders))
    return [Tensor((shape[0], out_channels, *check_positive_sizes(ctx, sizes, shape[2:])))]


def _check_output_shape_reachable(ctx: Context, axis: int, n: int, k: int, s: int, d: int, target: int) -> None:
    """onnxruntime pads an ``output_shape`` past the positions the input reaches with zeros, but by less
    than one stride only; further would need a longer input, and it fails at run time ("Explicit
    output_shape is inconsistent with input spatial dimensions"). A baked output_shape used at another
    input size is the usual way to get there."""
    reached = s * (n - 1) + arith.effective_kernel(k, d)
    if target - reached >= s:
        ctx.fact(FactKind.BAD_ATTRIBUTE,
                 f"output_shape {target} on spatial axis {axis} lies {target - reached} past the {reached} "
                 f"positions an input of {n} reaches (stride {s}); onnxruntime rejects it at run time: the "
                 "input would have to be longer", attribute="output_shape", axis=axis, value=target,
                 reached=reached)


@op("ConvTranspose")
def conv_transpose(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(N, C, *n) -> (N, M, *o')`` with ``o' = s(n−1) + d(k−1) + 1 − p_b − p_e + output_padding``.

    With ``output_shape`` the output is that shape and the pads follow from it; with SAME_* the output
    is ``n·s`` (onnxruntime; ONNX shape inference adds output_padding — recorded as a detail).
    """
    prepared = _prepare(node, inputs, ctx)
    if prepared is None:
        return [UNKNOWN]
    shape, weight, spatial = prepared
    rank = len(shape) - 2
    group = int(node.attr("group", 1))
    channels = shape[1]
    _check_group(node, ctx, channels, group, "input")
    _check_declared_in_channels(node, ctx, channels)
    if weight is not None:
        if dims_equal(weight[0], channels) is False:
            ctx.fact(FactKind.CHANNEL_MISMATCH,
                     f"the weight expects {weight[0]} input channels, the input has {channels}",
                     expected=weight[0], actual=channels)
        out_channels: Dim = weight[1] * group if isinstance(weight[1], int) else None
    else:
        out_channels = node.attr("out_channels")
    output_padding = tuple(int(v) for v in node.attr("output_padding", (0,) * rank))
    output_shape = node.attr("output_shape")
    if len(output_padding) != rank:
        ctx.fact(FactKind.RANK_MISMATCH, f"output_padding has {len(output_padding)} values for {rank} "
                 "spatial axes", attribute="output_padding")
        return [UNKNOWN]
    if output_shape is not None:
        output_shape = tuple(int(v) for v in output_shape)[-rank:]
        if len(output_shape) != rank:
            ctx.fact(FactKind.RANK_MISMATCH, f"output_shape has {len(output_shape)} values for {rank} spatial axes",
                     attribute="output_shape")
            return [UNKNOWN]
    for axis, (pad, s, d) in enumerate(zip(output_padding, spatial.strides, spatial.dilations)):
        if pad < 0 or pad >= arith.output_padding_limit(s, d):
            ctx.fact(FactKind.BAD_ATTRIBUTE,
                     f"output_padding {pad} on spatial axis {axis} must be < max(stride, dilation) = "
                     f"{max(s, d)}; onnxruntime and PyTorch reject it at run time",
                     attribute="output_padding", axis=axis, value=pad, limit=max(s, d))
    sizes: list[Dim] = []
    pads: list[tuple[int, int] | None] = []
    inference_sizes: list[Dim] = []
    same = spatial.auto_pad in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER)
    for axis, n in enumerate(shape[2:]):
        k, s, d = spatial.kernel[axis], spatial.strides[axis], spatial.dilations[axis]
        extra = output_padding[axis]
        if n is None:
            sizes.append(None)
            pads.append(None)
            inference_sizes.append(None)
            continue
        if output_shape is not None or same:
            target = output_shape[axis] if output_shape is not None else n * s
            if output_shape is not None and isinstance(n, int):
                _check_output_shape_reachable(ctx, axis, n, k, s, d, target)
            try:
                axis_pads = arith.conv_transpose_auto_pads(
                    n, k, spatial.auto_pad, stride=s, dilation=d, output_padding=extra, output_shape=target
                ) if isinstance(n, int) else None
            except SpecError:  # a negative output_padding, already reported above
                axis_pads = None
            sizes.append(target)
            pads.append(axis_pads)
            inference_sizes.append(target + extra if same and output_shape is None else target)
            continue
        axis_pads = (0, 0) if spatial.auto_pad is AutoPad.VALID else spatial.pads[axis]
        try:
            out = arith.conv_transpose_out(n, k, stride=s, pads=axis_pads, dilation=d, output_padding=extra)
        except SpecError:  # a negative output_padding, already reported above: no size follows from it
            out = None
        sizes.append(out)
        pads.append(axis_pads)
        inference_sizes.append(out)
    ctx.detail(pads=tuple(pads), output_padding=output_padding)
    if inference_sizes != sizes:
        ctx.detail(onnx_inference_sizes=tuple(inference_sizes))
    return [Tensor((shape[0], out_channels, *check_positive_sizes(ctx, sizes, shape[2:])))]
