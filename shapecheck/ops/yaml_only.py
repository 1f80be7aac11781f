"""Shape rules for ops that only the YAML format produces.

PyTorch layers whose ONNX form needs constant input tensors (Resize's scales, Pad's pads, Reshape's
shape, Gemm's weight) or has no ONNX op at all (adaptive pooling, pixel shuffle) are translated by the
YAML loader into the ops below, with every parameter as an attribute that the loader has already
expanded to one value per spatial axis. Keeping them here, apart from the ONNX rules, means the YAML
loader depends on no other rule module's reading of constant inputs.

The attributes are trusted for their *types* (the loader validated them) but not for their *lengths*:
``--input-shape`` may change an input's rank after loading, so a length that no longer fits the rank is a
RANK_MISMATCH fact, never an exception. PyTorch's own run-time errors (a channel count that the shuffle
factor does not divide, reflect padding as wide as the input) become facts too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.ops import op
from shapecheck.ops.base import UNKNOWN, Context, Tensor
from shapecheck.symbolic import Dim, dims_equal

# -- the size formulas of these ops, each written once ---------------------------------------------


#: Largest denominator of a binary scale (``p / 2^k``) that a symbolic size is scaled by exactly.
MAX_SCALE_DENOMINATOR = 1 << 10


def scaled_size(n: Dim, scale: float) -> Dim:
    """``⌊n · scale⌋`` as PyTorch's ``interpolate(scale_factor=…)`` defines it: a double product, floored.

    PyTorch computes the size in double precision (``int(n * scale)``), so a concrete ``n`` does the same
    — the exact decimal would be wrong (``100 × 0.57`` is 56 in PyTorch). A symbolic ``n`` gets the closed
    form ``⌊n·p/q⌋`` only when the double *is* ``p/q`` with a small ``q`` (2, 0.5, 1.5, 0.25); any other
    scale leaves it unknown rather than guess.
    """
    if n is None:
        return None
    if isinstance(n, int):
        return math.floor(n * scale)
    ratio = Fraction(scale)
    if ratio.denominator > MAX_SCALE_DENOMINATOR:
        return None
    return (n * ratio.numerator) // ratio.denominator


def padded_size(n: Dim, begin: int, end: int) -> Dim:
    """``n + begin + end``; negative amounts crop, as in ``torch.nn.functional.pad``."""
    return None if n is None else n + begin + end


def product(dims: Sequence[Dim]) -> Dim:
    """The number of elements spanned by ``dims``; ``None`` when one of them is unknown.

    Integers are multiplied first, so ``1·3·H·W`` is ``3·(H·W)`` and dividing it by 3 gives ``H·W`` back.
    """
    if any(dim is None for dim in dims):
        return None
    constant = math.prod(dim for dim in dims if isinstance(dim, int))
    symbolic: Dim = 1
    for dim in dims:
        if not isinstance(dim, int):
            symbolic = symbolic * dim  # type: ignore[operator]
    return constant * symbolic  # type: ignore[operator]


# -- helpers -------------------------------------------------------------------------------------------


def _input(inputs: list[Tensor | None], min_rank: int, node: Node, ctx: Context) -> tuple[Dim, ...] | None:
    x = inputs[0] if inputs else None
    if x is None or x.shape is None:
        return None
    if len(x.shape) < min_rank:
        ctx.fact(FactKind.RANK_MISMATCH, f"{node.op} needs an input of rank >= {min_rank}, got rank "
                 f"{len(x.shape)}", rank=len(x.shape))
        return None
    return x.shape


def _per_axis(node: Node, name: str, count: int, ctx: Context) -> tuple[Any, ...] | None:
    values = tuple(node.attr(name, ()))
    if len(values) != count:
        ctx.fact(FactKind.RANK_MISMATCH, f"{name} has {len(values)} values but the input has {count} spatial "
                 "axes", attribute=name)
        return None
    return values


def _positive(ctx: Context, sizes: Sequence[Dim], inputs: Sequence[Dim], what: str) -> tuple[Dim, ...]:
    """Record a NON_POSITIVE fact for each spatial axis that came out empty; clamp it to 0."""
    fixed: list[Dim] = []
    for axis, (size, n) in enumerate(zip(sizes, inputs)):
        if isinstance(size, int) and size < 1:
            ctx.fact(FactKind.NON_POSITIVE, f"spatial axis {axis}: {what} leaves {size} of the input's {n} "
                     "positions", axis=axis, input_size=n, output_size=size)
            size = 0
        fixed.append(size)
    return tuple(fixed)


# -- rules ------------------------------------------------------------------------------------------------


@op("AdaptiveAvgPool", "AdaptiveMaxPool")
def adaptive_pool(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(N, C, *n) -> (N, C, *output_size)``; a ``None`` entry keeps that axis (PyTorch's ``None``)."""
    shape = _input(inputs, 3, node, ctx)
    if shape is None:
        return [UNKNOWN]
    sizes = _per_axis(node, "output_size", len(shape) - 2, ctx)
    if sizes is None:
        return [UNKNOWN]
    return [Tensor((*shape[:2], *(n if size is None else size for n, size in zip(shape[2:], sizes))))]


@op("YamlUpsample")
def upsample(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``nn.Upsample``: each spatial axis becomes ``sizes[i]`` or ``⌊n · scales[i]⌋``."""
    shape = _input(inputs, 3, node, ctx)
    if shape is None:
        return [UNKNOWN]
    spatial = shape[2:]
    if node.attr("sizes") is not None:
        sizes = _per_axis(node, "sizes", len(spatial), ctx)
        if sizes is None:
            return [UNKNOWN]
        out: tuple[Dim, ...] = tuple(sizes)
    else:
        scales = _per_axis(node, "scales", len(spatial), ctx)
        if scales is None:
            return [UNKNOWN]
        sizes = [scaled_size(n, s) for n, s in zip(spatial, scales)]
        out = _positive(ctx, sizes, spatial, "the scale factor")
    return [Tensor((*shape[:2], *out))]


#: Padding modes whose amount PyTorch bounds by the input size: mode -> (largest legal pad as a function
#: of the input size n, the wording of the bound).
_PAD_LIMITS = {"reflect": (lambda n: n - 1, "smaller than"), "circular": (lambda n: n, "at most")}


@op("YamlPad")
def pad(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``F.pad`` over the spatial axes: ``n + begin + end`` (negative amounts crop)."""
    shape = _input(inputs, 3, node, ctx)
    if shape is None:
        return [UNKNOWN]
    spatial = shape[2:]
    rank = len(spatial)
    flat = tuple(int(p) for p in node.attr("pads", ()))
    if len(flat) != 2 * rank:
        ctx.fact(FactKind.RANK_MISMATCH, f"pads has {len(flat)} values but {rank} spatial axes need "
                 f"{2 * rank}", attribute="pads")
        return [UNKNOWN]
    pairs = list(zip(flat[:rank], flat[rank:]))
    mode = node.attr("mode", "constant")
    if mode in _PAD_LIMITS:
        limit_of, wording = _PAD_LIMITS[mode]
        for axis, (n, (begin, end)) in enumerate(zip(spatial, pairs)):
            if isinstance(n, int) and max(begin, end) > limit_of(n):
                ctx.fact(FactKind.BAD_ATTRIBUTE, f"{mode} padding ({begin}, {end}) on spatial axis {axis} "
                         f"must be {wording} the input size {n}; PyTorch rejects it at run time",
                         attribute="padding", axis=axis, input_size=n)
    sizes = [padded_size(n, begin, end) for n, (begin, end) in zip(spatial, pairs)]
    return [Tensor((*shape[:2], *_positive(ctx, sizes, spatial, "the padding")))]


@op("YamlCrop")
def crop(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """A centre crop to ``sizes``; a crop larger than the input is a fact and keeps the requested size."""
    shape = _input(inputs, 3, node, ctx)
    if shape is None:
        return [UNKNOWN]
    sizes = _per_axis(node, "sizes", len(shape) - 2, ctx)
    if sizes is None:
        return [UNKNOWN]
    for axis, (n, size) in enumerate(zip(shape[2:], sizes)):
        if isinstance(n, int) and size > n:
            ctx.fact(FactKind.NON_POSITIVE, f"spatial axis {axis}: cannot crop {n} positions to {size}",
                     axis=axis, input_size=n, output_size=size)
    return [Tensor((*shape[:2], *sizes))]


@op("YamlFlatten")
def flatten(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``torch.flatten(x, start_dim, end_dim)``: axes ``start_dim..end_dim`` become one."""
    x = inputs[0] if inputs else None
    if x is None or x.shape is None:
        return [UNKNOWN]
    rank = len(x.shape)
    start, end = int(node.attr("start_dim", 1)), int(node.attr("end_dim", -1))
    start, end = start + rank if start < 0 else start, end + rank if end < 0 else end
    if not 0 <= start <= end < rank:
        ctx.fact(FactKind.RANK_MISMATCH, f"flatten axes {node.attr('start_dim', 1)}.."
                 f"{node.attr('end_dim', -1)} do not fit rank {rank}", attribute="start_dim", rank=rank)
        return [UNKNOWN]
    return [Tensor((*x.shape[:start], product(x.shape[start:end + 1]), *x.shape[end + 1:]))]


@op("YamlLinear")
def linear(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``nn.Linear``: the last axis becomes ``out_features``; ``in_features`` must equal it when given."""
    shape = _input(inputs, 1, node, ctx)
    if shape is None:
        return [UNKNOWN]
    in_features = node.attr("in_features")
    if in_features is not None and dims_equal(in_features, shape[-1]) is False:
        ctx.fact(FactKind.CHANNEL_MISMATCH, f"in_features is {in_features} but the input's last axis has "
                 f"{shape[-1]}", expected=in_features, actual=shape[-1])
    return [Tensor((*shape[:-1], node.attr("out_features")))]


@op("YamlReshape")
def reshape(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``torch.reshape``: the target shape, its one ``-1`` inferred from the element count."""
    x = inputs[0] if inputs else None
    target: tuple[Dim, ...] = tuple(node.attr("shape", ()))
    total = product(x.shape) if x is not None and x.shape is not None else None
    free = [i for i, d in enumerate(target) if isinstance(d, int) and d == -1]
    known = product([d for i, d in enumerate(target) if i not in free])
    if free:
        inferred: Dim = None
        if isinstance(known, int) and known > 0 and total is not None:
            if isinstance(total, int) and total % known:
                ctx.fact(FactKind.BAD_ATTRIBUTE, f"cannot reshape {total} elements into {list(target)}: "
                         f"{total} is not a multiple of {known}", attribute="shape", elements=total)
            else:
                inferred = total // known
        target = tuple(inferred if i in free else d for i, d in enumerate(target))
    elif total is not None and dims_equal(total, known) is False:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"cannot reshape {total} elements into {list(target)} "
                 f"({known} elements)", attribute="shape", elements=total)
    return [Tensor(target)]


def _divided(n: Dim, divisor: int) -> Dim:
    """``n / divisor`` when it divides (or is symbolic: ``floor(H/2)``), ``None`` when it does not."""
    if n is None or (isinstance(n, int) and n % divisor):
        return None
    return n // divisor


def _shuffle(node: Node, inputs: list[Tensor | None], ctx: Context, *, up: bool) -> list[Tensor]:
    """PyTorch's pixel (un)shuffle on the last three axes ``(C, H, W)``; leading axes are batch axes."""
    shape = _input(inputs, 3, node, ctx)
    if shape is None:
        return [UNKNOWN]
    attribute = "upscale_factor" if up else "downscale_factor"
    r = int(node.attr(attribute, 1))
    *batch, channels, height, width = shape
    if up:
        if isinstance(channels, int) and channels % (r * r):
            ctx.fact(FactKind.CHANNEL_MISMATCH, f"{channels} channels are not divisible by upscale_factor² = "
                     f"{r * r}", channels=channels, group=r * r)
        out = (_divided(channels, r * r), *(None if n is None else n * r for n in (height, width)))
        return [Tensor((*batch, *out))]
    for axis, n in ((len(shape) - 2, height), (len(shape) - 1, width)):
        if isinstance(n, int) and n % r:
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"axis {axis} has size {n}, not divisible by downscale_factor "
                     f"{r}; PyTorch rejects it at run time", attribute=attribute, axis=axis, input_size=n)
    out = (None if channels is None else channels * r * r, _divided(height, r), _divided(width, r))
    return [Tensor((*batch, *out))]


@op("PixelShuffle")
def pixel_shuffle(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(*, C·r², H, W) -> (*, C, H·r, W·r)`` — ``nn.PixelShuffle(r)`` (ONNX DepthToSpace, mode CRD)."""
    return _shuffle(node, inputs, ctx, up=True)


@op("PixelUnshuffle")
def pixel_unshuffle(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(*, C, H·r, W·r) -> (*, C·r², H, W)`` — ``nn.PixelUnshuffle(r)`` (ONNX SpaceToDepth)."""
    return _shuffle(node, inputs, ctx, up=False)
