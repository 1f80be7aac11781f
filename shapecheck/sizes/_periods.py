"""Why the valid sizes repeat: periods and settling points of the sizes a model computes from one symbol.

Along every path a spatial size is a composition of maps ``x ↦ ⌊(a·x + b)/c⌋``, and such a function is
*quasi-affine*: ``e(x) = s·x + g(x)`` with a rational slope ``s`` and a bounded part ``g`` that repeats
with a period ``Q``, so ``e(x + Q) = e(x) + s·Q`` for every integer ``x``. Everything that decides
whether a runtime accepts a size — two joined sizes being equal, a size being positive, a divisibility —
then holds on whole residue classes modulo the lcm of the periods, once the sizes are past the few small
values where a clamp, a broadcast of 1 or a constant (a reflect pad) still makes a difference.

Two sources of the period, both sound:

* :func:`quasi_affine` reads it from the engine's symbolic expressions (the floor divisors inside an
  :class:`~shapecheck.symbolic.Expr`), exactly, together with bounds of ``g`` — so the point after which
  every size has settled is computed, not guessed (:func:`settling_point`).
* :func:`stride_period` bounds it from the graph when an expression is missing (a ceil-mode pool's size
  depends on the concrete input, so the engine leaves it unknown): the product of the divisors
  (strides, scale denominators, block sizes, the constant divisors of shape arithmetic) along each
  path, the lcm where paths meet. An op it does not know makes the period unknown — never guessed.

Nothing here re-derives a size formula: the expressions come from :mod:`shapecheck.arith` through the
engine, and the stride table only names *which* attribute divides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from shapecheck.graph import ModelGraph, Node
from shapecheck.propagate import Propagation
from shapecheck.symbolic import Expr, _Floor, _Product, _Symbol

__all__ = [
    "MAX_SCALE_DENOMINATOR",
    "NotQuasiAffine",
    "QuasiAffine",
    "comparison_margin",
    "constant_dims",
    "quasi_affine",
    "settling_point",
    "stride_period",
    "settles_from",
]

#: A scale whose exact value has a larger denominator is treated as irrational: the runtimes' float32
#: product ``⌊float32(s)·float32(n)⌋`` of such a scale is not known to repeat.
MAX_SCALE_DENOMINATOR = 1 << 10

#: Integer constants at least this large are "to the end" sentinels (Slice ends), not sizes.
_SENTINEL = 2**31 - 1


class NotQuasiAffine(Exception):
    """An expression that is not ``s·x + periodic`` in the symbol: a product of sizes (``H·W``), or one
    that depends on another symbol. The message says which."""


@dataclass(frozen=True, slots=True)
class QuasiAffine:
    """``e(x) = slope·x + g(x)`` with ``g(x + period) = g(x)`` for every integer ``x`` and
    ``low <= g(x) <= high``."""

    slope: Fraction
    period: int
    low: Fraction
    high: Fraction

    def scaled(self, factor: int) -> QuasiAffine:
        bounds = (self.low * factor, self.high * factor)
        return QuasiAffine(self.slope * factor, self.period, min(bounds), max(bounds))

    def plus(self, other: QuasiAffine) -> QuasiAffine:
        return QuasiAffine(self.slope + other.slope, math.lcm(self.period, other.period),
                           self.low + other.low, self.high + other.high)


def _constant(value: int) -> QuasiAffine:
    return QuasiAffine(Fraction(0), 1, Fraction(value), Fraction(value))


def _floor_period(inner: QuasiAffine, divisor: int) -> int:
    """Smallest multiple ``Q'`` of the inner period with ``Q'·slope ∈ divisor·ℤ``: then
    ``⌊(N(x) + Q'·slope)/c⌋ = ⌊N(x)/c⌋ + Q'·slope/c`` for every ``x``."""
    if inner.slope == 0:
        return inner.period
    p, q = abs(inner.slope.numerator), inner.slope.denominator
    return math.lcm(inner.period, divisor * q // math.gcd(p, divisor * q))


def quasi_affine(dim: int | Expr, variable: str) -> QuasiAffine:
    """Slope, period and bounds of ``dim`` as a function of the symbol ``variable``.

    Raises :class:`NotQuasiAffine` for a product of sizes or a second symbol: then validity need not
    repeat in ``variable`` alone, and the caller reports the symbols as coupled.
    """
    if isinstance(dim, int):
        return _constant(dim)
    total = _constant(dim.const)
    for atom, coef in dim.terms:
        total = total.plus(_atom(atom, variable).scaled(coef))
    return total


def _atom(atom: Any, variable: str) -> QuasiAffine:
    if isinstance(atom, _Symbol):
        if atom.name != variable:
            raise NotQuasiAffine(f"depends on {atom.name}")
        return QuasiAffine(Fraction(1), 1, Fraction(0), Fraction(0))
    if isinstance(atom, _Floor):
        inner = quasi_affine(atom.numerator, variable)
        c = atom.divisor
        # ⌊N/c⌋ = N/c − frac with frac ∈ [0, (c−1)/c] for an integer N.
        return QuasiAffine(inner.slope / c, _floor_period(inner, c), inner.low / c - Fraction(c - 1, c),
                           inner.high / c)
    if isinstance(atom, _Product):
        raise NotQuasiAffine(f"is a product of sizes ({atom.render()})")
    raise NotQuasiAffine(f"has an unknown atom {atom!r}")  # pragma: no cover - Expr has three atom kinds


#: Periods up to this long have their settling point computed exactly (one evaluation per residue).
EXACT_PERIOD = 4096


def settles_from(dim: Expr, form: QuasiAffine, variable: str, margin: int) -> int:
    """The exact :func:`settling_point` of ``dim``: per residue class ``r`` modulo the period, the first
    member where ``|e| >= margin`` follows from ``e(r + kQ) = e(r) + k·s·Q``; the point is the smallest
    ``x`` past which no class has a member short of it. Falls back to the bound for long periods."""
    if not form.slope or form.period > EXACT_PERIOD:
        return settling_point(form, margin)
    step = abs(form.slope) * form.period  # a positive integer: how far e moves per period
    sign = 1 if form.slope > 0 else -1
    point = 1
    for residue in range(form.period):
        value = dim.value({variable: residue})
        if value is None:
            return settling_point(form, margin)
        short = margin - sign * value  # how far below the margin (in the slope's direction) e(r) is
        periods = max(0, -(-short // step)) if short > 0 else 0
        first = residue + periods * form.period
        point = max(point, first - form.period + 1)
    return max(1, point)


def settling_point(form: QuasiAffine, margin: int) -> int:
    """Smallest ``x >= 1`` from which ``|e(x)| >= margin`` with the sign of the slope, for every larger
    ``x`` too (``1`` for a periodic ``e``, whose comparisons repeat anyway).

    Past this point a comparison of ``e`` with any constant smaller than ``margin`` no longer changes,
    and a comparison of two sizes growing at different rates (their difference as ``e``) is settled.
    """
    if form.slope > 0:
        bound = (margin - form.low) / form.slope
    elif form.slope < 0:
        bound = (margin + form.high) / (-form.slope)
    else:
        return 1
    return max(1, math.ceil(bound))


def comparison_margin(graph: ModelGraph) -> int:
    """The ``margin`` of :func:`settling_point`: one more than every constant a size may be compared
    with other than through a join or its own positivity.

    Those are the amounts of explicit padding, cropping and splitting (a reflect pad must be smaller than
    the size, a crop no larger), fixed ``sizes``, the integer constants the model defines for its shape
    arithmetic (Slice bounds, computed pads, Reshape targets), and everything an op that flattens or
    multiplies sizes compares them with (``in_features``, a MatMul's or Gemm's weight). Broadcasting
    joins compare with 1, so there a size must be at least 2. Kernel sizes and a conv's own padding need
    no margin: whether a kernel fits is the positivity of the output size, one of the sizes whose
    settling is computed anyway; and comparisons of two sizes (joins, ``expect``) are settled pair by
    pair by the caller.
    """
    margin = 0
    for node in graph.nodes.values():
        if node.op in _PADDING_OPS:
            margin = max(margin, _largest_int(node.attrs.get("pads")), _largest_int(node.attrs.get("sizes")))
        margin = max([margin, *(_largest_int(node.attrs.get(key)) for key in _COMPARED_ATTRIBUTES)])
        if node.op == "Constant":
            margin = max([margin, *(_largest_int(v) for v in node.attrs.values())])
        if node.op in _CONSTANT_COMPARING:
            margin = max([margin, *(_largest_int(v) for v in node.attrs.values()), *constant_dims(graph, node)])
        if node.op != "Concat" and len(set(graph.data_inputs(node))) >= 2:
            margin = max(margin, 1)  # broadcasting: a size of 1 stretches; sizes >= 2 are compared
    for spec in graph.constants.values():
        margin = max(margin, _largest_int(spec.value))
    return margin + 1


def constant_dims(graph: ModelGraph, node: Node) -> list[int]:
    """The dims of the constant inputs (weights, shape tensors) of ``node``: what it may compare a size
    with when a size reaches an axis those constants describe."""
    dims = [0]
    for tensor in node.inputs:
        spec = graph.constants.get(tensor) if tensor else None
        if spec is not None and spec.shape is not None:
            dims += [abs(d) for d in spec.shape if isinstance(d, int) and abs(d) < _SENTINEL]
    return dims


#: Ops that compare their own size attributes with the input size (reflect pads, crops, fixed sizes).
_PADDING_OPS = frozenset({"Pad", "YamlPad", "YamlCrop", "YamlUpsample", "Resize", "Upsample"})
#: Attributes that hold sizes an input size is compared with, whatever the op.
_COMPARED_ATTRIBUTES = ("split", "in_features")
#: Ops that flatten, multiply or reshape sizes: every constant they hold may meet a size.
_CONSTANT_COMPARING = frozenset({"MatMul", "MatMulInteger", "QLinearMatMul", "Gemm", "Reshape", "Expand", "Tile",
                                 "YamlLinear", "YamlReshape", "YamlFlatten", "Flatten"})


def _largest_int(value: Any) -> int:
    """Largest magnitude among the ints in a (nested) attribute or value, sentinels left out."""
    if value is None or isinstance(value, (str, bytes, float, Expr)):
        return 0
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, (int, np.integer)):
        magnitude = abs(int(value))
        return magnitude if magnitude < _SENTINEL else 0
    if isinstance(value, np.ndarray):
        if value.size > 64 or value.dtype.kind not in "iuO":
            return 0
        return max((_largest_int(v) for v in value.flat), default=0)
    if isinstance(value, (list, tuple)):
        return max((_largest_int(v) for v in value), default=0)
    return 0


# -- the period from the graph, where expressions are missing -----------------------------------------

#: Ops whose output sizes scale their input by a whole factor, or keep it: no divisor of their own.
_NO_DIVISOR = frozenset({
    "ConvTranspose", "DepthToSpace", "PixelShuffle", "Concat", "Split", "Slice", "Pad", "YamlPad", "YamlCrop",
    "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Constant", "ConstantOfShape", "Identity", "Transpose",
    "Add", "Sub", "Mul", "Sum", "Max", "Min", "Mean", "Where", "Neg", "Abs", "Relu", "LeakyRelu", "PRelu",
    "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign",
    "Mish", "Clip", "Dropout", "Softmax", "LogSoftmax", "BatchNormalization", "InstanceNormalization",
    "GroupNormalization", "LayerNormalization", "LRN", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool",
    "AdaptiveAvgPool", "AdaptiveMaxPool", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
})
#: Ops with a stride: the output size of the sliding window is ⌊(n + …)/s⌋ (ceil mode: ⌈…⌉, and a last
#: window starting in the padding is dropped, which depends on n mod s only).
_STRIDED = frozenset({"Conv", "MaxPool", "AveragePool", "LpPool"})
_SCALED = frozenset({"Resize", "Upsample", "YamlUpsample"})
_BLOCKED = {"SpaceToDepth": "blocksize", "PixelUnshuffle": "downscale_factor"}
_DIVIDING_VALUES = frozenset({"Div", "Mod"})


def _scale_denominator(scale: float, *, single: bool) -> int | None:
    """Denominator of the exact value of the scale the runtime multiplies by (float32 for onnxruntime's
    Resize, double for PyTorch's interpolate), ``None`` when it is too large to repeat usefully."""
    exact = Fraction(float(np.float32(scale))) if single else Fraction(scale)
    return exact.denominator if exact.denominator <= MAX_SCALE_DENOMINATOR else None


def _divisor(node: Node, result: Propagation) -> int | None:
    """The divisor this node applies to sizes that pass through it; ``None`` when unknown."""
    if node.op in _NO_DIVISOR:
        return 1
    if node.op in _STRIDED:
        strides = result.details.get(node.name, {}).get("strides") or node.attrs.get("strides") or (1,)
        return math.lcm(*(int(s) for s in strides))
    if node.op in _BLOCKED:
        return int(node.attrs.get(_BLOCKED[node.op], 1))
    if node.op in _SCALED:
        if node.op == "YamlUpsample":
            scales = node.attrs.get("scales") or ()
            single = False
        else:
            scales = [v for t in node.inputs[1:] if t for v in _floats(result, t)] + list(
                node.attrs.get("scales") or ())
            single = True
        denominator = 1
        for scale in scales:
            part = _scale_denominator(float(scale), single=single)
            if part is None:
                return None
            denominator = math.lcm(denominator, part)
        return denominator
    if node.op in _DIVIDING_VALUES:
        divisor = _int_value(result, node.inputs[1]) if len(node.inputs) > 1 else None
        return abs(divisor) if divisor else None
    return None


def _floats(result: Propagation, tensor: str) -> list[float]:
    value = result.tensors.get(tensor)
    if value is None or value.value is None:
        return []
    return [float(v) for v in np.asarray(value.value, dtype=object).flat if isinstance(v, (float, np.floating))]


def _int_value(result: Propagation, tensor: str) -> int | None:
    tensor_value = result.tensors.get(tensor)
    if tensor_value is None or tensor_value.value is None:
        return None
    entries = list(np.asarray(tensor_value.value, dtype=object).flat)
    if len(entries) != 1 or not isinstance(entries[0], (int, np.integer)) or isinstance(entries[0], bool):
        return None
    return int(entries[0])


@dataclass(frozen=True)
class StridePeriod:
    """A period of every size and shape value that depends on the symbol, or why there is none."""

    period: int | None
    blocker: str | None = None


def stride_period(graph: ModelGraph, result: Propagation, dependent: Mapping[str, bool]) -> StridePeriod:
    """Bound the period by the divisors along every path (product along a path, lcm where paths meet).

    ``dependent`` says which tensors depend on the symbol; only nodes with such an input matter. If
    ``N(x + Q) = N(x) + Q·s`` with ``Q·s`` an integer, then ``⌊(a·N + b)/c⌋`` shifts by a whole
    ``Q·c·s·a/c`` when ``x`` moves by ``Q·c``: multiplying by each divisor keeps the bound sound.
    """
    periods: dict[str, int] = {}
    overall = 1
    for node in graph.topological_order():
        inputs = [t for t in node.inputs if t and dependent.get(t)]
        if not inputs:
            continue
        divisor = _divisor(node, result)
        if divisor is None or divisor < 1:  # a hostile stride or block size of 0 has no period either
            return StridePeriod(None, f"{node.name!r} ({node.op})")
        period = math.lcm(*(periods.get(t, 1) for t in inputs)) * divisor
        for tensor in node.outputs:
            if tensor:
                periods[tensor] = period
        overall = math.lcm(overall, period)
    return StridePeriod(overall)
