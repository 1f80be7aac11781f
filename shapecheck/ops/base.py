"""What every op rule works with: tensors, the propagation context, and attribute normalisation.

An op rule is a function ``(node, inputs, ctx) -> outputs`` registered with :func:`shapecheck.ops.op`.
``inputs`` holds one :class:`Tensor` per node input (``None`` for an omitted optional input). A rule
returns one :class:`Tensor` per output; a shape of ``None`` means unknown. Rules report problems through
``ctx.fact(...)`` and keep going; they never raise on a model problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shapecheck import arith
from shapecheck.arith import AutoPad, PoolSemantics
from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.symbolic import Dim

__all__ = ["UNKNOWN", "Context", "Spatial", "Tensor", "check_positive_sizes", "spatial_attrs", "window_output"]


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor's shape (``None`` if unknown) and, for small integer tensors, its value.

    ``value`` is a NumPy array (dtype object, entries ``int`` or symbolic :class:`Expr`) for shape
    arithmetic such as ``Shape → Gather → Concat → Pad``; it is ``None`` for data tensors.
    """

    shape: tuple[Dim, ...] | None
    value: Any = None
    dtype: int | None = None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)


UNKNOWN = Tensor(None)


class Context(Protocol):
    """What a rule may ask of the propagation engine."""

    opset: int

    def fact(self, kind: FactKind, message: str, **data: Any) -> None:
        """Record a fact at the current node."""

    def detail(self, **values: Any) -> None:
        """Record resolved attributes (kernel, strides, pads, remainder) for ``inspect``."""


@dataclass(frozen=True, slots=True)
class Spatial:
    """Conv/pool attributes normalised for a known spatial rank: one entry per spatial axis."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    dilations: tuple[int, ...]
    auto_pad: AutoPad


_AUTO_PAD_CACHE: dict[Any, AutoPad] = {}


def _auto_pad(value: Any) -> AutoPad:
    cached = _AUTO_PAD_CACHE.get(value)
    if cached is None:
        cached = _AUTO_PAD_CACHE[value] = AutoPad.parse(value)
    return cached


def spatial_attrs(
    node: Node, rank: int, kernel: Sequence[int] | None, ctx: Context
) -> Spatial | None:
    """Read kernel/strides/pads/dilations/auto_pad for ``rank`` spatial axes, defaults from the rank.

    ONNX pads are flat ``[b1, b2, …, e1, e2, …]``; here they become ``((b1, e1), (b2, e2), …)``.
    Lengths that don't match the rank are a RANK_MISMATCH fact, values below their minimum a
    BAD_ATTRIBUTE fact; either way the result is ``None``. (Hot path: one call per conv or pool.)
    """
    attrs = node.attrs
    ones = (1,) * rank
    values = {
        "kernel_shape": attrs.get("kernel_shape", kernel),
        "strides": attrs.get("strides", ones),
        "dilations": attrs.get("dilations", ones),
        "pads": attrs.get("pads", (0,) * (2 * rank)),
    }
    if values["kernel_shape"] is None:
        ctx.fact(FactKind.UNRESOLVED, "kernel size unknown (no kernel_shape and no weight shape)")
        return None
    for name, value in values.items():
        wanted = 2 * rank if name == "pads" else rank
        if len(value) != wanted:
            ctx.fact(FactKind.RANK_MISMATCH,
                     f"{name} has {len(value)} values but {rank} spatial axes need {wanted}", attribute=name)
            return None
        if min(value, default=1) < (0 if name == "pads" else 1):
            ctx.fact(FactKind.BAD_ATTRIBUTE,
                     f"{name} must be >= {0 if name == 'pads' else 1}, got {list(value)}", attribute=name)
            return None
    pads = values["pads"]
    return Spatial(
        kernel=tuple(values["kernel_shape"]),
        strides=tuple(values["strides"]),
        pads=tuple(zip(pads[:rank], pads[rank:])),
        dilations=tuple(values["dilations"]),
        auto_pad=_auto_pad(attrs.get("auto_pad")),
    )


def window_output(
    n: Dim,
    axis: int,
    spatial: Spatial,
    *,
    ceil_mode: bool = False,
    semantics: PoolSemantics = PoolSemantics.RUNTIME,
) -> tuple[Dim, tuple[int, int] | None, Dim]:
    """Output size, effective ``(begin, end)`` pads and floor remainder of a sliding window on one axis.

    SAME_* pads depend on the input size; for a symbolic size they stay unknown (``None``) while the
    output is still exact (``⌈n/s⌉``). The remainder is the number of trailing positions never read.
    """
    k, s, d = spatial.kernel[axis], spatial.strides[axis], spatial.dilations[axis]
    if n is None or (ceil_mode and not isinstance(n, int)):
        return None, None, None  # whether a ceil-mode window is dropped depends on the concrete size
    if spatial.auto_pad in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER):
        if not isinstance(n, int):
            return arith.same_out(n, s), None, None
        pads = arith.auto_pads(n, k, spatial.auto_pad, stride=s, dilation=d)
    elif spatial.auto_pad is AutoPad.VALID:
        pads = (0, 0)
    else:
        pads = spatial.pads[axis]
    out = arith.pool_out(n, k, stride=s, pads=pads, dilation=d, ceil_mode=ceil_mode, semantics=semantics) \
        if ceil_mode and isinstance(n, int) else arith.conv_out(n, k, stride=s, pads=pads, dilation=d)
    remainder = arith.floor_remainder(n, k, stride=s, pads=pads, dilation=d)
    return out, pads, remainder


def check_positive_sizes(ctx: Context, sizes: Sequence[Dim], inputs: Sequence[Dim]) -> tuple[Dim, ...]:
    """Record a NON_POSITIVE fact for each axis whose window does not fit; clamp the size to 0."""
    fixed: list[Dim] = []
    for axis, (size, n) in enumerate(zip(sizes, inputs)):
        if isinstance(size, int) and size < 1:
            ctx.fact(
                FactKind.NON_POSITIVE,
                f"spatial axis {axis}: the kernel does not fit the padded input of size {n} "
                f"(output would be {size})",
                axis=axis,
                input_size=n,
                output_size=size,
            )
            size = 0
        fixed.append(size)
    return tuple(fixed)
