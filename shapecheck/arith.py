"""Size arithmetic of convolution, transposed convolution and pooling — one formula, one place.

Every function here takes and returns plain ints for **one spatial axis**; callers loop over axes. The
functions only use ``+ - * //`` on the size argument, so they also work on the symbolic sizes of
:mod:`shapecheck.symbolic`, which implement those operators. Parameter checks raise
:class:`~shapecheck.errors.SpecError` naming the parameter and its legal range.

Notation (ONNX names in brackets): ``n`` input size, ``k`` kernel size [kernel_shape], ``s`` stride
[strides], ``d`` dilation [dilations], ``pads=(begin, end)`` [pads], ``output_padding`` [output_padding].
The effective kernel of a dilated kernel is ``d(k-1)+1``.

This module must not be imported by :mod:`shapecheck.kernel`: the NumPy kernel sizes its outputs from its
own definition, so that each can confirm the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from shapecheck.errors import SpecError

Pads = tuple[int, int]

__all__ = [
    "AutoPad",
    "OutputPaddingResult",
    "PoolSemantics",
    "TransposeAsConv",
    "auto_pad_preimage",
    "auto_pads",
    "conv_out",
    "conv_preimage",
    "conv_transpose_as_conv",
    "conv_transpose_auto_pads",
    "conv_transpose_out",
    "effective_kernel",
    "floor_remainder",
    "output_padding_for",
    "output_padding_limit",
    "pool_out",
    "same_out",
]


class AutoPad(enum.Enum):
    """ONNX ``auto_pad``: who decides the padding."""

    NOTSET = "NOTSET"
    SAME_UPPER = "SAME_UPPER"
    SAME_LOWER = "SAME_LOWER"
    VALID = "VALID"

    @classmethod
    def parse(cls, value: str | bytes | AutoPad | None) -> AutoPad:
        """Read ONNX's string (or bytes) value; an empty or missing value is NOTSET."""
        if isinstance(value, AutoPad):
            return value
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        text = (value or "NOTSET").upper()
        try:
            return cls(text)
        except ValueError:
            legal = ", ".join(m.value for m in cls)
            raise SpecError(f"auto_pad must be one of {legal}, got {value!r}") from None


class PoolSemantics(enum.Enum):
    """Which rule decides the ceil_mode output size of a pooling layer.

    ``RUNTIME`` is PyTorch, onnxruntime and ONNX opset >= 22: a last window that would start inside the
    end padding is dropped. ``ONNX_LEGACY_INFERENCE`` is ``onnx.shape_inference`` for opsets < 22, which
    keeps that window and so reports one more (onnx/onnx#5711).
    """

    RUNTIME = "runtime"
    ONNX_LEGACY_INFERENCE = "onnx-legacy-inference"


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise SpecError(f"{name} must be an integer >= 1, got {value!r}")


def _check_pads(pads: Pads, *, allow_negative: bool = False) -> None:
    if len(pads) != 2:
        raise SpecError(f"pads must be a (begin, end) pair, got {pads!r}")
    if not allow_negative and min(pads) < 0:
        raise SpecError(f"pads must be >= 0, got {tuple(pads)!r}")


def effective_kernel(k: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``d(k-1)+1`` input positions from first tap to last."""
    _check_positive("kernel_size", k)
    _check_positive("dilation", dilation)
    return dilation * (k - 1) + 1


def _conv_numerator(n: Any, k: int, stride: int, pads: Pads, dilation: int) -> Any:
    _check_positive("stride", stride)
    _check_pads(pads)
    return n + pads[0] + pads[1] - effective_kernel(k, dilation)


def conv_out(n: Any, k: int, *, stride: int = 1, pads: Pads = (0, 0), dilation: int = 1) -> Any:
    """``o = ⌊(n + p_begin + p_end − d(k−1) − 1) / s⌋ + 1`` — ONNX Conv / Pool (floor) with explicit pads.

    A result below 1 means the kernel is wider than the padded input; the caller decides whether that
    is a finding (the engine) or a usage error (``shapecheck calc``).
    """
    return _conv_numerator(n, k, stride, pads, dilation) // stride + 1


def floor_remainder(n: Any, k: int, *, stride: int = 1, pads: Pads = (0, 0), dilation: int = 1) -> Any:
    """``r = (n + p_begin + p_end − d(k−1) − 1) mod s`` — trailing positions no window reaches.

    This is the off-by-one the floor of :func:`conv_out` hides: the last ``r`` positions of the padded
    input are never read, and a transposed conv that mirrors this layer cannot know they existed.
    """
    return _conv_numerator(n, k, stride, pads, dilation) % stride


def conv_preimage(o: int, k: int, *, stride: int = 1, pads: Pads = (0, 0), dilation: int = 1) -> range:
    """The ``s`` input sizes that a strided conv or pool (floor mode) maps to output ``o``.

    Inverts :func:`conv_out`: ``n`` ranges over ``[(o−1)s + d(k−1) + 1 − p_b − p_e, … + s − 1]``, clipped
    to sizes >= 1. Empty when no input size gives ``o``.
    """
    _check_positive("output size", o)
    _check_positive("stride", stride)
    _check_pads(pads)
    low = (o - 1) * stride + effective_kernel(k, dilation) - pads[0] - pads[1]
    return range(max(low, 1), low + stride)


def conv_transpose_out(
    n: Any,
    k: int,
    *,
    stride: int = 1,
    pads: Pads = (0, 0),
    dilation: int = 1,
    output_padding: int = 0,
) -> Any:
    """``o' = s(n−1) + d(k−1) + 1 − p_begin − p_end + output_padding`` — ONNX ConvTranspose, explicit pads.

    The legality of ``output_padding`` is not checked here (ONNX shape inference accepts any value);
    see :func:`output_padding_limit`.
    """
    _check_positive("stride", stride)
    _check_pads(pads)
    if output_padding < 0:
        raise SpecError(f"output_padding must be >= 0, got {output_padding}")
    return stride * (n - 1) + effective_kernel(k, dilation) - pads[0] - pads[1] + output_padding


@dataclass(frozen=True)
class TransposeAsConv:
    """A transposed conv written as a direct stride-1 conv (the lecture notes' construction).

    ``zeros_between`` zeros go between neighbouring inputs (``s−1``), then ``pad_begin`` / ``pad_end``
    at the edges (``d(k−1) − p``; negative means crop; output_padding extends the end). The zeros go
    inside rather than at the edges so the first input stays tied to the first output.
    """

    input_size: int
    zeros_between: int
    dilated_input: int
    pad_begin: int
    pad_end: int
    total_padding: int
    direct_kernel: int
    output_size: int

    @property
    def padded_input(self) -> int:
        """Length of the zero-inserted, padded sequence the direct conv slides over."""
        return self.dilated_input + self.pad_begin + self.pad_end


def conv_transpose_as_conv(
    n: int,
    k: int,
    *,
    stride: int = 1,
    pads: Pads = (0, 0),
    dilation: int = 1,
    output_padding: int = 0,
) -> TransposeAsConv:
    """Decompose a transposed conv into zero insertion + edge padding + a stride-1 direct conv.

    Total padding ``T' = (n−1)(s−1) + 2(d(k−1) − p)`` in the symmetric case of the notes; here the two
    edges are kept apart (``p_begin``, ``p_end``) and ``output_padding`` is added to the end. The direct
    conv over the result has ``o' = n + T' − d(k−1)`` outputs, which equals :func:`conv_transpose_out`.
    """
    _check_positive("input size", n)
    span = effective_kernel(k, dilation) - 1
    pad_begin = span - pads[0]
    pad_end = span - pads[1] + output_padding
    zeros = stride - 1
    dilated = n + (n - 1) * zeros
    total = (n - 1) * zeros + pad_begin + pad_end
    direct_out = conv_out(dilated + pad_begin + pad_end, k, dilation=dilation)
    return TransposeAsConv(
        input_size=n,
        zeros_between=zeros,
        dilated_input=dilated,
        pad_begin=pad_begin,
        pad_end=pad_end,
        total_padding=total,
        direct_kernel=k,
        output_size=direct_out,
    )


def output_padding_limit(stride: int, dilation: int = 1, *, runtime: str = "pytorch") -> int:
    """Exclusive upper bound of a legal ``output_padding``.

    PyTorch (and the ONNX spec's intent) allow ``output_padding < max(stride, dilation)``; onnxruntime
    checks ``output_padding < stride`` whatever the dilation. ONNX shape inference checks nothing.
    """
    _check_positive("stride", stride)
    _check_positive("dilation", dilation)
    if runtime == "onnxruntime":
        return stride
    if runtime == "pytorch":
        return max(stride, dilation)
    raise SpecError(f"runtime must be 'pytorch' or 'onnxruntime', got {runtime!r}")


@dataclass(frozen=True)
class OutputPaddingResult:
    """The output_padding that brings a transposed conv to a target size, or why none does."""

    value: int | None
    reason: str = ""

    @property
    def possible(self) -> bool:
        return self.value is not None


def output_padding_for(
    n: int,
    k: int,
    target: int,
    *,
    stride: int = 1,
    pads: Pads = (0, 0),
    dilation: int = 1,
    runtime: str = "pytorch",
) -> OutputPaddingResult:
    """Solve :func:`conv_transpose_out` for ``output_padding`` so the output is ``target``.

    Legal values are ``0 <= output_padding < limit`` (:func:`output_padding_limit`); outside that the
    result says why it is impossible.
    """
    base = conv_transpose_out(n, k, stride=stride, pads=pads, dilation=dilation)
    needed = target - base
    limit = output_padding_limit(stride, dilation, runtime=runtime)
    if needed < 0:
        return OutputPaddingResult(
            None, f"output is already {base} without output_padding, above the target {target}"
        )
    if needed >= limit:
        return OutputPaddingResult(
            None,
            f"would need output_padding {needed}, but it must be < {limit} "
            f"(max(stride, dilation) = max({stride}, {dilation}) on {runtime})",
        )
    return OutputPaddingResult(needed)


def _split(total: int, auto_pad: AutoPad, *, extra_at_end_for_upper: bool = True) -> Pads:
    small, large = total // 2, total - total // 2
    upper = auto_pad is AutoPad.SAME_UPPER
    return (small, large) if upper == extra_at_end_for_upper else (large, small)


def same_out(n: Any, stride: int = 1) -> Any:
    """``⌈n / s⌉`` — the output size ONNX ``auto_pad`` SAME_* aims at for Conv and pooling."""
    _check_positive("stride", stride)
    return (n + stride - 1) // stride


def auto_pads(n: int, k: int, auto_pad: AutoPad, *, stride: int = 1, dilation: int = 1) -> Pads:
    """Explicit ``(begin, end)`` pads that ONNX ``auto_pad`` means for Conv and pooling.

    SAME_* aim at ``⌈n/s⌉`` outputs with total padding ``max(0, (⌈n/s⌉−1)s + d(k−1)+1 − n)``; an odd total
    puts the extra pad at the end for SAME_UPPER and at the begin for SAME_LOWER. VALID and NOTSET
    (for which the caller's pads apply) return ``(0, 0)``.
    """
    _check_positive("stride", stride)
    if auto_pad in (AutoPad.VALID, AutoPad.NOTSET):
        return (0, 0)
    target = same_out(n, stride)
    total = max(0, (target - 1) * stride + effective_kernel(k, dilation) - n)
    return _split(total, auto_pad)


def auto_pad_preimage(o: int, k: int, auto_pad: AutoPad, *, stride: int = 1, dilation: int = 1) -> range:
    """The input sizes that a Conv or pool with ONNX ``auto_pad`` maps to output ``o``.

    The counterpart of :func:`conv_preimage` when the pads follow the input: SAME_* aim at ``⌈n/s⌉``
    outputs (see :func:`auto_pads`), so ``n`` ranges over ``[(o−1)s + 1, os]`` whatever the kernel; VALID
    is :func:`conv_preimage` with zero pads. NOTSET has no pads of its own to invert.
    """
    _check_positive("output size", o)
    _check_positive("stride", stride)
    if auto_pad is AutoPad.VALID:
        return conv_preimage(o, k, stride=stride, dilation=dilation)
    if auto_pad is AutoPad.NOTSET:
        raise SpecError("auto_pad_preimage needs auto_pad SAME_UPPER, SAME_LOWER or VALID; use conv_preimage")
    return range((o - 1) * stride + 1, o * stride + 1)


def conv_transpose_auto_pads(
    n: int,
    k: int,
    auto_pad: AutoPad,
    *,
    stride: int = 1,
    dilation: int = 1,
    output_padding: int = 0,
    output_shape: int | None = None,
) -> Pads:
    """Explicit ``(begin, end)`` pads of an ONNX ConvTranspose that has ``output_shape`` or SAME_*.

    Follows the ONNX spec: total padding ``s(n−1) + output_padding + d(k−1)+1 − target`` where the target
    is ``output_shape`` when given, else ``n·s`` for SAME_*. SAME_UPPER puts the odd extra pad at the end;
    otherwise (SAME_LOWER, or NOTSET with output_shape) at the begin — onnxruntime agrees on the latter.
    A negative total (``output_shape`` beyond the natural output) gives pads ``(0, 0)``: onnxruntime then
    extends the output with zeros at the end, by at most ``stride − 1`` positions, and rejects a longer
    ``output_shape`` (the ConvTranspose rule reports that as a runtime rejection).
    """
    _check_positive("stride", stride)
    if output_shape is None:
        if auto_pad not in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER):
            return (0, 0)
        output_shape = n * stride
    total = max(0, stride * (n - 1) + output_padding + effective_kernel(k, dilation) - output_shape)
    return _split(total, auto_pad)


def pool_out(
    n: int,
    k: int,
    *,
    stride: int = 1,
    pads: Pads = (0, 0),
    dilation: int = 1,
    ceil_mode: bool = False,
    semantics: PoolSemantics = PoolSemantics.RUNTIME,
) -> int:
    """Pooling output size, floor or ceil mode, for explicit pads.

    Floor mode is :func:`conv_out`. Ceil mode rounds ``(n + p_b + p_e − d(k−1) − 1)/s`` up; under
    :attr:`PoolSemantics.RUNTIME` a last window that would start at or past ``n + p_begin`` (inside the
    end padding) is then dropped, as PyTorch, onnxruntime and ONNX opset >= 22 do.
    """
    if not ceil_mode:
        return conv_out(n, k, stride=stride, pads=pads, dilation=dilation)
    numerator = _conv_numerator(n, k, stride, pads, dilation)
    out = -(-numerator // stride) + 1
    if semantics is PoolSemantics.RUNTIME and (out - 1) * stride >= n + pads[0]:
        out -= 1
    return out
