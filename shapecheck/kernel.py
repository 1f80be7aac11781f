"""NumPy convolution, transposed convolution and pooling, computed from their definitions.

Why this exists
---------------
:mod:`shapecheck.arith` predicts sizes with closed-form integer formulas. A formula can be wrong in a way
that no amount of re-reading finds (a ``- 1`` on the wrong side, an odd padding split at the wrong end),
so shapecheck *executes* the operators too: this module computes the actual values of ONNX ``Conv``,
``ConvTranspose``, ``MaxPool`` and ``AveragePool`` on small arrays, and the engine, the fixer and the tests
compare the shapes that come out with the shapes the formulas promised (confirmation by execution).

The no-arith rule
-----------------
This module must not import :mod:`shapecheck.arith` (nor any shapecheck module but
:mod:`shapecheck.errors`), and it never re-types a closed-form output-size formula. Every output size
falls out of the construction itself: the number of window starts that fit in the padded input, the
length of the zero-inserted and padded sequence minus the kernel span, or the extent of the canvas that
the scattered contributions of a transposed convolution cover. If this module and ``arith`` agree, two
independent derivations agree.

Conventions
-----------
Arrays are ``(N, C, spatial...)`` with any number of spatial axes. Attributes use the ONNX names and
layouts: ``pads`` is the flat ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]``, Conv weights are
``(M, C/group, k...)``, ConvTranspose weights ``(C, M/group, k...)``. Missing strides, dilations and pads
default to 1, 1 and 0 on every spatial axis. Float32 in, float32 out (float64 stays float64). Bad
parameters raise :class:`~shapecheck.errors.SpecError` naming the parameter.

The transposed convolution is implemented three independent ways (``method=``), which the tests hold
equal: ``"zero_insertion"`` (the lecture notes: insert ``s-1`` zeros between neighbours, pad each edge
with ``d(k-1)-p``, run a stride-1 conv with the flipped, channel-swapped kernel), ``"scatter"`` (one
matmul, then scatter-add each input's contribution: col2im) and ``"polyphase"`` (split the output into
``s^d`` phases, each a small dense stride-1 conv that never touches the inserted zeros). ``"auto"`` picks
the fastest.

Speed
-----
Convs run on the fastest path that applies (see :func:`_correlate`): Winograd F(4x4, 3x3) for 3x3
stride-1 2-D convs with many channels (a quarter of the multiplications of im2col;
float32 results differ from a direct sum by a few 1e-4 at 64 channels), a depthwise path, and im2col +
matmul. They work in cache-sized chunks split over the cores (NumPy releases the GIL); the benchmark
(``benchmarks/bench_kernels.py``) times them against onnxruntime.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from shapecheck.errors import SpecError

__all__ = ["AUTO_PAD_MODES", "TRANSPOSE_METHODS", "average_pool", "conv", "conv_transpose", "max_pool"]

AUTO_PAD_MODES = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
TRANSPOSE_METHODS = ("auto", "zero_insertion", "scatter", "polyphase")

Pads = list[tuple[int, int]]

# Elements of an im2col buffer built at once. Small enough to stay in cache and to avoid the page faults
# of a fresh multi-megabyte allocation on every call; large enough for an efficient matmul.
_CHUNK_ELEMENTS = 1 << 20
# im2col values of one piece of a unit-stride depthwise conv (planes or rows): a piece's buffers stay in
# the core's cache, and pieces are few enough that the per-operation overhead stays small.
_DEPTHWISE_BLOCK_ELEMENTS = 1 << 18
# OpenBLAS runs a matmul of m*n*k <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4) multiply-adds on the calling
# thread. Matmuls up to that size can run one per core from the kernel's own threads without the two
# cores' BLAS threads competing.
_BLAS_SERIAL_WORK = 262144
# Largest (tap, output channel, input position) matmul result the scatter method builds at once.
_SCATTER_MAX_ELEMENTS = 1 << 24


# --------------------------------------------------------------------------------------------------
# Parameter normalisation
# --------------------------------------------------------------------------------------------------


def _as_array(name: str, value: object, dtype: np.dtype | None = None) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise SpecError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return array


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 unless an input is float64 (integers compute in float32 too)."""
    return np.dtype(np.float64) if any(a.dtype == np.float64 for a in arrays) else np.dtype(np.float32)


def _spatial_rank(x: np.ndarray) -> int:
    if x.ndim < 3:
        raise SpecError(f"x must have shape (N, C, spatial...) with at least one spatial axis, got {x.shape}")
    return x.ndim - 2


def _ints(name: str, value: Sequence[int] | None, rank: int, default: int, minimum: int) -> tuple[int, ...]:
    """One int per spatial axis, each >= minimum; None means the default on every axis."""
    if value is None:
        return (default,) * rank
    values = tuple(int(v) for v in value)
    if len(values) != rank:
        raise SpecError(f"{name} must have {rank} values (one per spatial axis), got {list(values)}")
    if any(v < minimum for v in values):
        raise SpecError(f"{name} must be >= {minimum} on every axis, got {list(values)}")
    return values


def _auto_pad(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = (value or "NOTSET").upper()
    if text not in AUTO_PAD_MODES:
        raise SpecError(f"auto_pad must be one of {', '.join(AUTO_PAD_MODES)}, got {value!r}")
    return text


def _explicit_pads(value: Sequence[int] | None, rank: int, auto_pad: str) -> Pads:
    """ONNX flat pads ``[b1, b2, ..., e1, e2, ...]`` as per-axis ``(begin, end)`` pairs."""
    if value is None:
        return [(0, 0)] * rank
    flat = [int(v) for v in value]
    if len(flat) != 2 * rank:
        raise SpecError(f"pads must have {2 * rank} values (begin and end per spatial axis), got {flat}")
    if min(flat) < 0:
        raise SpecError(f"pads must be >= 0, got {flat}")
    if auto_pad != "NOTSET" and any(flat):
        raise SpecError(f"pads {flat} cannot be combined with auto_pad={auto_pad}")
    return list(zip(flat[:rank], flat[rank:], strict=True))


def _kernel_shape(name: str, declared: Sequence[int] | None, actual: tuple[int, ...]) -> None:
    if declared is not None and tuple(int(k) for k in declared) != actual:
        raise SpecError(f"{name} {list(declared)} does not match the weight's spatial shape {list(actual)}")


def _span(k: int, d: int) -> int:
    """Positions from the first tap of a dilated kernel to its last, both included."""
    taps = range(0, k * d, d)  # where the k taps sit
    return taps[-1] + 1


def _window_starts(length: int, span: int, stride: int) -> int:
    """How many windows of ``span`` positions, stepped by ``stride`` from position 0, fit in ``length``."""
    return len(range(0, length - span + 1, stride))


def _split_total(total: int, mode: str) -> tuple[int, int]:
    """Split a total padding: the odd extra pad goes at the end for SAME_UPPER, else at the begin."""
    small, large = total // 2, total - total // 2
    return (small, large) if mode == "SAME_UPPER" else (large, small)


def _same_pads(size: int, span: int, stride: int, mode: str) -> tuple[int, int]:
    """Pads that make a strided window visit every stride step of the input (ONNX SAME_*)."""
    starts = range(0, size, stride)
    total = max(0, starts[-1] + span - size)
    return _split_total(total, mode)


def _resolve_pads(
    x_size: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: Sequence[int] | None,
    auto_pad: str,
) -> Pads:
    rank = len(x_size)
    explicit = _explicit_pads(pads, rank, auto_pad)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return [
            _same_pads(n, _span(k, d), s, auto_pad)
            for n, k, s, d in zip(x_size, kernel, strides, dilations, strict=True)
        ]
    if auto_pad == "VALID":
        return [(0, 0)] * rank
    return explicit


# --------------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------------


def _pad_or_crop(x: np.ndarray, pads: Pads, fill: float = 0.0) -> np.ndarray:
    """Pad (positive) or crop (negative) each spatial axis at its begin and end."""
    if all(b == 0 and e == 0 for b, e in pads):
        return x
    sizes = [n + b + e for n, (b, e) in zip(x.shape[2:], pads, strict=True)]
    if min(sizes) < 1:
        raise SpecError(f"pads {pads} crop away a whole spatial axis of size {list(x.shape[2:])}")
    dst: list[slice] = []
    src: list[slice] = []
    for n, (b, _), size in zip(x.shape[2:], pads, sizes, strict=True):
        lo, hi = max(0, b), min(size, b + n)
        if hi <= lo:
            return np.full((*x.shape[:2], *sizes), fill, dtype=x.dtype)
        dst.append(slice(lo, hi))
        src.append(slice(lo - b, hi - b))
    out = np.empty((*x.shape[:2], *sizes), dtype=x.dtype)
    for axis, (inside, size) in enumerate(zip(dst, sizes, strict=True)):  # fill only the border slabs
        before = (slice(None),) * (axis + 2)
        out[(*before, slice(0, inside.start))] = fill
        out[(*before, slice(inside.stop, size))] = fill
    out[(..., *dst)] = x[(..., *src)]
    return out


def _taps(kernel: Sequence[int]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(k) for k in kernel)))


def _tap_view(
    x: np.ndarray, tap: Sequence[int], dilations: Sequence[int], strides: Sequence[int], counts: Sequence[int]
) -> np.ndarray:
    """The input positions that kernel tap ``tap`` reads for every output position (trailing axes)."""
    slices = tuple(
        slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, o in zip(tap, dilations, strides, counts, strict=True)
    )
    return x[(..., *slices)]


def _correlate(
    x: np.ndarray,
    w: np.ndarray,
    strides: Sequence[int],
    dilations: Sequence[int],
    group: int,
    pads: Pads | None = None,
) -> np.ndarray:
    """Grouped cross-correlation of ``x`` zero-padded by ``pads`` (the ONNX Conv body, no bias).

    ``x`` is ``(N, C, S...)``, ``w`` is ``(M, C/group, k...)``; ``pads`` (``(begin, end)`` per axis, >= 0)
    default to none. The output has one position per window start that fits in the padded input on
    every axis. Paths, fastest first where they apply: Winograd F(4x4, 3x3) (3x3 stride-1 2-D convs
    with many channels and outputs, see ``_WINOGRAD_MIN_*``; dilated ones as undilated phases),
    unit-stride depthwise, unit-stride im2col from shifts, the general strided ones. Winograd and
    depthwise pad while they rearrange the input (no padded copy of the whole input); the others pad first.
    """
    pads = pads if pads is not None else [(0, 0)] * (x.ndim - 2)
    n_batch, channels = x.shape[:2]
    out_channels, group_channels = w.shape[:2]
    size = tuple(n + b + e for n, (b, e) in zip(x.shape[2:], pads, strict=True))
    kernel = w.shape[2:]
    if group < 1:
        raise SpecError(f"group must be >= 1, got {group}")
    if channels != group_channels * group:
        raise SpecError(
            f"group: input has {channels} channels but the weight expects C/group = {group_channels} "
            f"with group = {group} ({group_channels * group} channels)"
        )
    if out_channels % group:
        raise SpecError(f"group: {out_channels} output channels are not divisible by group = {group}")
    counts = []
    for axis, (length, k, s, d) in enumerate(zip(size, kernel, strides, dilations, strict=True)):
        span = _span(k, d)
        if span > length:
            raise SpecError(
                f"kernel_shape: the dilated kernel spans {span} positions on spatial axis {axis}, "
                f"more than the {length} of the padded input"
            )
        counts.append(_window_starts(length, span, s))
    mg = out_channels // group
    wg = w.reshape(group, mg, group_channels, *kernel)
    if group_channels > 1 and _winograd_applies(kernel, strides, dilations, counts, group_channels, mg):
        xg = x.reshape(n_batch, group, group_channels, *x.shape[2:])
        return _correlate_winograd(xg, wg, pads, counts).reshape(n_batch, out_channels, *counts)
    undilated = (1,) * len(kernel)
    fewest = [o // d for o, d in zip(counts, dilations, strict=True)]  # outputs of the smallest phase
    if (
        group_channels > 1
        and any(d > 1 for d in dilations)
        and _winograd_applies(kernel, strides, undilated, fewest, group_channels, mg)
    ):
        return _correlate_dilated_phases(x, w, pads, dilations, group, counts)
    if group_channels == 1 and all(s == 1 for s in strides):
        xg = x.reshape(n_batch, group, 1, *x.shape[2:])
        return _correlate_depthwise(xg, wg, pads, dilations, counts).reshape(n_batch, out_channels, *counts)
    xg = _pad_or_crop(x, pads).reshape(n_batch, group, group_channels, *size)
    taps = _taps(kernel)
    if group_channels == 1:
        out = _correlate_per_channel(xg, wg, taps, strides, dilations, counts)
    elif all(s == 1 for s in strides):
        out = _correlate_shifted(xg, wg, dilations, counts)
    else:
        out = _correlate_im2col(xg, wg, taps, strides, dilations, counts)
    return out.reshape(n_batch, out_channels, *counts)


def _correlate_dilated_phases(
    x: np.ndarray, w: np.ndarray, pads: Pads, dilations: Sequence[int], group: int, counts: Sequence[int]
) -> np.ndarray:
    """A unit-stride dilated 3x3 conv as ``d1 * d2`` undilated ones (polyphase split), each by Winograd.

    The outputs at positions ``p, p + d, p + 2d, ...`` of an axis read only the inputs at ``p, p + d, ...``
    with neighbouring taps one step apart, so each phase is an undilated conv of a subsampled input.
    (Stacking the phases into the batch axis instead costs two more transposing copies: slower.)
    """
    n_batch, channels = x.shape[:2]
    cg = channels // group
    wg = w.reshape(group, -1, cg, *w.shape[2:])
    u = _winograd_weights(wg)
    padded = (n + b + e for n, (b, e) in zip(x.shape[2:], pads, strict=True))
    xp = _pad_or_crop(x, pads).reshape(n_batch, group, cg, *padded)
    out = np.empty((n_batch, group, wg.shape[1], *counts), dtype=x.dtype)
    for phase in itertools.product(*(range(d) for d in dilations)):
        part = (slice(None),) * 3 + tuple(slice(p, None, d) for p, d in zip(phase, dilations, strict=True))
        sub = [len(range(p, o, d)) for p, o, d in zip(phase, counts, dilations, strict=True)]
        out[part] = _correlate_winograd(xp[part], wg, [(0, 0)] * len(dilations), sub, u)
    return out.reshape(n_batch, w.shape[0], *counts)


def _correlate_im2col(
    xg: np.ndarray,
    wg: np.ndarray,
    taps: list[tuple[int, ...]],
    strides: Sequence[int],
    dilations: Sequence[int],
    counts: Sequence[int],
) -> np.ndarray:
    """im2col in chunks of output rows, then one batched (per group) matmul per chunk."""
    n_batch, group, cg = xg.shape[:3]
    mg = wg.shape[1]
    rest = math.prod(counts[1:])
    depth = cg * len(taps)
    wmat = wg.reshape(group, mg, depth)
    out = np.empty((n_batch, group, mg, counts[0] * rest), dtype=xg.dtype)
    rows = max(1, _CHUNK_ELEMENTS // max(1, group * depth * rest))
    for b in range(n_batch):
        for r0 in range(0, counts[0], rows):
            r1 = min(counts[0], r0 + rows)
            chunk = (r1 - r0, *counts[1:])
            cols = np.empty((group, cg, len(taps), *chunk), dtype=xg.dtype)
            rows_in = xg[b][(slice(None), slice(None), slice(r0 * strides[0], None))]
            for i, tap in enumerate(taps):
                cols[:, :, i] = _tap_view(rows_in, tap, dilations, strides, chunk)
            np.matmul(wmat, cols.reshape(group, depth, -1), out=out[b, :, :, r0 * rest : r1 * rest])
    return out


def _shifted_taps(flat: np.ndarray, kernel: Sequence[int], steps: Sequence[int], length: int) -> np.ndarray:
    """Read-only view ``(..., k1, k2, ..., length)`` of ``flat (..., L)``: tap ``t`` starts ``sum(t * step)`` in.

    With unit strides, the inputs a tap reads for consecutive outputs of the padded grid are consecutive,
    so all taps of all rows are one strided view, and one copy makes the im2col columns.
    """
    itemsize = flat.itemsize
    return np.lib.stride_tricks.as_strided(
        flat,
        shape=(*flat.shape[:-1], *kernel, length),
        strides=(*flat.strides[:-1], *(s * itemsize for s in steps), flat.strides[-1]),
        writeable=False,
    )


def _correlate_shifted(xg: np.ndarray, wg: np.ndarray, dilations: Sequence[int], counts: Sequence[int]) -> np.ndarray:
    """Unit-stride im2col + matmul where every tap is a shift of the flattened padded planes.

    With stride 1, the values tap ``t`` reads for consecutive outputs are consecutive in the flattened
    padded input, so the im2col columns of a block of channels are one copy of a strided view (long
    contiguous runs) instead of a gather per tap. Outputs are computed on the padded grid (each row's
    overhang is garbage, never read) and cropped into place. Per chunk of output rows: one copy, one
    matmul per group (BLAS threads it over the cores), one crop. (Splitting the copies over the cores
    too was slower: they are memory-bound, and the BLAS threads still spin on the cores after a matmul.)
    """
    n_batch, group, cg, *size = xg.shape
    mg = wg.shape[1]
    kernel = wg.shape[3:]
    taps = math.prod(kernel)
    pitch = [math.prod(size[a + 1 :]) for a in range(len(size))]  # elements per step on each axis
    steps = [d * p for d, p in zip(dilations, pitch, strict=True)]  # elements between neighbouring taps
    depth = cg * taps
    wmat = wg.reshape(group, mg, depth)
    source = np.ascontiguousarray(xg).reshape(n_batch, group, cg, -1)
    out = np.empty((n_batch, group, mg, *counts), dtype=xg.dtype)
    rows = max(1, min(counts[0], _CHUNK_ELEMENTS // max(1, group * depth * pitch[0])))
    rows = -(-counts[0] // -(-counts[0] // rows))  # as many rows in every chunk as possible
    cols = np.empty((group, cg, taps, rows * pitch[0]), dtype=xg.dtype)
    grid = np.empty((group, mg, rows * pitch[0]), dtype=xg.dtype)
    for b in range(n_batch):
        for r0 in range(0, counts[0], rows):
            r1 = min(counts[0], r0 + rows)
            local = (r1 - r0, *counts[1:])
            length = sum((o - 1) * p for o, p in zip(local, pitch, strict=True)) + 1  # last output + 1
            start = r0 * pitch[0]
            taps_view = _shifted_taps(source[b, :, :, start:], kernel, steps, length)
            cols.reshape(group, cg, *kernel, -1)[..., :length] = taps_view
            np.matmul(wmat, cols.reshape(group, depth, -1)[..., :length], out=grid[..., :length])
            on_grid = grid[..., : (r1 - r0) * pitch[0]].reshape(group, mg, r1 - r0, *size[1:])
            out[b, :, :, r0:r1] = on_grid[(slice(None), slice(None), slice(None), *(slice(0, o) for o in counts[1:]))]
    return out


def _correlate_per_channel(
    xg: np.ndarray,
    wg: np.ndarray,
    taps: list[tuple[int, ...]],
    strides: Sequence[int],
    dilations: Sequence[int],
    counts: Sequence[int],
) -> np.ndarray:
    """Strided depthwise (one input channel per group): a broadcast multiply-add per kernel tap.

    A matmul would have a depth of only k^d, so each tap is an elementwise multiply-add instead, on
    blocks of channels that fit in cache, one block per thread. (Unit strides: :func:`_correlate_depthwise`.)
    """
    n_batch, group, _, *size = xg.shape
    mg = wg.shape[1]
    out = np.empty((n_batch, group, mg, *counts), dtype=xg.dtype)
    per_group = n_batch * mg * math.prod(size)
    blocks = max(1, -(-group * per_group // (_CHUNK_ELEMENTS // 4)))  # cache-sized blocks of channels
    blocks = min(group, -(-blocks // _workers()) * _workers())  # a whole number of blocks per thread
    block = -(-group // blocks)

    def run(g0: int) -> None:
        g1 = min(group, g0 + block)
        acc = out[:, g0:g1]
        views = [_tap_view(xg[:, g0:g1], tap, dilations, strides, counts) for tap in taps]
        expand = (None,) * (acc.ndim - 3)
        tmp = np.empty_like(acc)
        for i, (tap, view) in enumerate(zip(taps, views, strict=True)):
            weight = wg[(slice(g0, g1), slice(None), 0, *tap)][(..., *expand)]
            if i == 0:
                np.multiply(view, weight, out=acc)
            else:
                np.multiply(view, weight, out=tmp)
                acc += tmp

    _parallel(run, range(0, group, block))
    return out


def _correlate_depthwise(
    xg: np.ndarray, wg: np.ndarray, pads: Pads, dilations: Sequence[int], counts: Sequence[int]
) -> np.ndarray:
    """Unit-stride depthwise correlation of ``xg (N, G, 1, S...)`` zero-padded by ``pads``.

    The input is padded once; then every tap is a shift of the flattened padded plane, so the im2col
    columns of any piece (a block of planes, or a band of output rows of one plane) are a slice of one
    strided view: one copy per piece, then one small matmul per plane sums its k^d taps. That reads
    each value twice, where a multiply and an add per tap read it three times per tap (timed: 1.0
    against 1.5 ms for the benchmark's 64 planes on one core). Outputs are computed on the padded grid
    (each row's overhang is garbage) and cropped into place. Pieces are cache-sized.
    """
    n_batch, group, _, *size = xg.shape
    mg = wg.shape[1]
    planes = n_batch * group
    padded = _pad_or_crop(xg.reshape(planes, 1, *size), pads)
    sizes = padded.shape[2:]
    kernel = wg.shape[3:]
    taps = math.prod(kernel)
    pitch = [math.prod(sizes[a + 1 :]) for a in range(len(sizes))]  # elements per step on each axis
    steps = [d * p for d, p in zip(dilations, pitch, strict=True)]  # elements between neighbouring taps
    length = sum((o - 1) * p for o, p in zip(counts, pitch, strict=True)) + 1  # last output + 1
    columns = _shifted_taps(padded.reshape(planes, -1), kernel, steps, length)  # (planes, k..., positions)
    weights = wg.reshape(group, mg, taps)[np.arange(planes) % group]  # (planes, mg, taps)
    out = np.empty((planes, mg, *counts), dtype=xg.dtype)
    per_plane = taps * counts[0] * pitch[0]  # im2col values of a whole plane
    # a piece's im2col holds at most as many values as the padded input (the memory budget of a
    # confirming execution counts a few arrays of that size: shapecheck.verify.probe_cost)
    limit = min(_DEPTHWISE_BLOCK_ELEMENTS, padded.size)
    if per_plane <= limit:
        per_piece, band = max(1, min(planes, limit // per_plane)), counts[0]
    else:
        per_piece, band = 1, max(1, limit // (taps * pitch[0]))
    cols = np.empty((per_piece, taps, band * pitch[0]), dtype=xg.dtype)
    grid = np.empty((per_piece, mg, band * pitch[0]), dtype=xg.dtype)
    cells = (slice(None), slice(None), slice(None), *(slice(0, o) for o in counts[1:]))
    for p0 in range(0, planes, per_piece):  # on one thread: two were slower (the copies are memory-bound)
        p1 = min(planes, p0 + per_piece)
        for o0 in range(0, counts[0], band):
            o1 = min(counts[0], o0 + band)
            start, stop = o0 * pitch[0], min(length, o1 * pitch[0])  # stop: the band's last output + 1
            piece = cols[: p1 - p0, :, : stop - start]
            piece.reshape(p1 - p0, *kernel, -1)[...] = columns[p0:p1, ..., start:stop]
            np.matmul(weights[p0:p1], piece, out=grid[: p1 - p0, :, : stop - start])
            on_grid = grid[: p1 - p0, :, : (o1 - o0) * pitch[0]].reshape(p1 - p0, mg, o1 - o0, *sizes[1:])
            out[p0:p1, :, o0:o1] = on_grid[cells]
    return out.reshape(n_batch, group, mg, *counts)


# --------------------------------------------------------------------------------------------------
# Winograd F(4x4, 3x3): 3x3 stride-1 2-D convs with many channels
# --------------------------------------------------------------------------------------------------

# Winograd's minimal filtering F(4, 3) (Lavin & Gray 2016, points 0, +-1, +-2, infinity): four outputs of
# a 3-tap correlation from six inputs d as  y = AT @ ((G @ g) * (BT @ d)).  In 2-D a 6x6 input tile gives
# a 4x4 output tile with 36 multiplications instead of 144, so the channel-mixing matmuls do a quarter of
# the work of im2col + matmul; the transforms are small matmuls and additions.
_WINOGRAD_BT = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ]
)
_WINOGRAD_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]])
_WINOGRAD_G = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ]
)
# Below these sizes the transforms cost more than the matmul work they save (timed against the unit-stride
# im2col: 32 -> 32 channels at 64x64 take 1.1 against 0.7 ms, 64 -> 64 at 128x128 4.7 against 6.9 ms,
# 128 -> 128 at 32x32 1.4 against 1.7 ms, 256 -> 256 at 16x16 3.9 against 1.6 ms).
_WINOGRAD_MIN_CHANNELS = 32  # input and output channels per group
_WINOGRAD_MIN_PRODUCT = 4096  # input times output channels per group
_WINOGRAD_MIN_OUTPUT = 32  # output rows and columns
# Transformed-input values (36 per channel and tile) of one band of tile rows: bounds the scratch memory.
_WINOGRAD_BAND_ELEMENTS = 1 << 23
# Tiles (x channels) per block of the input transform: its arrays stay in the core's cache, and its small
# matmuls (4 -> 6 values per tile and axis) stay under OpenBLAS's size for threading.
_WINOGRAD_BLOCK_ELEMENTS = 1 << 13
# Tiles (x output channels) per block of the output transform: its two small matmuls (6 -> 4 values per
# tile and axis) stay under OpenBLAS's size for threading, so the cores run one each.
_WINOGRAD_OUTPUT_BLOCK = 1 << 13
# Fewest tiles per channel-mixing matmul worth running one per core (below: one threaded matmul).
_WINOGRAD_MIN_CHUNK = 32


def _winograd_applies(
    kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int], counts: Sequence[int], cg: int, mg: int
) -> bool:
    return (
        tuple(kernel) == (3, 3)
        and tuple(strides) == (1, 1)
        and tuple(dilations) == (1, 1)
        and min(cg, mg) >= _WINOGRAD_MIN_CHANNELS
        and cg * mg >= _WINOGRAD_MIN_PRODUCT
        and min(counts) >= _WINOGRAD_MIN_OUTPUT
    )


def _winograd_weights(wg: np.ndarray) -> np.ndarray:
    """``U = G g G^T`` for every (group, output, input channel) as ``(group, 36, M/g, C/g)``.

    One small matmul with ``G (x) G``, in float64 so that the weights add no rounding of their own.
    """
    group, mg, cg = wg.shape[:3]
    kron = np.kron(_WINOGRAD_G, _WINOGRAD_G)
    flat = wg.reshape(-1, 9).T.astype(np.float64)
    u = np.empty((36, flat.shape[1]))  # (36, G * Mg * Cg)
    step = _BLAS_SERIAL_WORK // kron.size  # one-thread matmuls: waking BLAS threads would leave them
    for i in range(0, flat.shape[1], step):  # spinning on the cores the transforms run on next
        np.matmul(kron, flat[:, i : i + step], out=u[:, i : i + step])
    return np.ascontiguousarray(u.reshape(36, group, mg, cg).transpose(1, 0, 2, 3), dtype=wg.dtype)


def _correlate_winograd(
    xg: np.ndarray, wg: np.ndarray, pads: Pads, counts: Sequence[int], u: np.ndarray | None = None
) -> np.ndarray:
    """3x3 stride-1 correlation of ``xg (N, G, C/g, H, W)`` zero-padded by ``pads``, by Winograd F(4x4, 3x3).

    The output is cut into 4x4 tiles. Per band of tile rows: the input transform (array operations on
    channel blocks, over the cores), one matmul per transform position mixing the channels (in chunks of
    tiles, over the cores), the output transform (two small matmuls on output-channel blocks, over the
    cores; the second puts the four values of a tile row next to each other, so a tile row lands in the
    output as one run). Every matmul is small enough for OpenBLAS to run it on the calling thread, so the
    kernel's threads never wait for, or compete with, BLAS threads.
    """
    n_batch, group, cg = xg.shape[:3]
    mg = wg.shape[1]
    ho, wo = counts
    th, tw = -(-ho // 4), -(-wo // 4)
    u = _winograd_weights(wg) if u is None else u
    out = np.empty((n_batch, group, mg, 4 * th, 4 * tw), dtype=xg.dtype)
    band = max(1, min(th, _WINOGRAD_BAND_ELEMENTS // (36 * max(cg, mg) * (tw + 1))))
    for b in range(n_batch):
        for g in range(group):
            for i0 in range(0, th, band):
                i1 = min(th, i0 + band)
                _winograd_band(xg[b, g], pads, 4 * i0, u[g], out[b, g, :, 4 * i0 : 4 * i1])
    if (4 * th, 4 * tw) != (ho, wo):
        return np.ascontiguousarray(out[..., :ho, :wo])
    return out


def _winograd_band(x: np.ndarray, pads: Pads, row0: int, u: np.ndarray, out: np.ndarray) -> None:
    """One band of tile rows: ``out (M, 4R, 4T)`` holds output rows ``row0 ...``; ``x (C, H, W)`` unpadded.

    Layout: the padded input rows of the band are split by position mod 4 on both axes (space-to-depth),
    so that the six rows or columns a tile reads are whole planes shifted by 0 or 1 tile. Every plane
    holds one grid row and one grid column more than there are tiles, so a flat shift never leaves the
    plane's own channel for a real tile: the spare row and column hold garbage tiles, computed alongside
    and never written out. All transform operations therefore run on long contiguous runs.
    """
    channels, height, width = x.shape
    (top, _), (left, _) = pads
    outputs, rows, cols = out.shape[0], out.shape[1] // 4, out.shape[2] // 4
    grid = cols + 1  # pitch of a grid row
    plane = (rows + 1) * grid  # tiles (with the garbage row and column) per channel
    dtype = x.dtype
    # the band's padded rows row0 ... row0 + 4(R+1) and columns 0 ... 4(T+1): where the input lands in them
    first = min(4 * (rows + 1), max(0, top - row0))
    last = max(first, min(4 * (rows + 1), top + height - row0))
    right = min(4 * grid, left + width)
    source = x[:, row0 + first - top : row0 + last - top, : right - left]
    v = np.empty((6, 6, channels, plane), dtype=dtype)
    cb = _balanced(channels, _WINOGRAD_BLOCK_ELEMENTS // plane)
    head = _WINOGRAD_BT[:, :4].astype(dtype)

    def transform_input(c0: int) -> None:
        c1 = min(channels, c0 + cb)
        n = c1 - c0
        staging = np.empty((n, 4 * (rows + 1), 4 * grid), dtype=dtype)
        staging[:, :first] = 0
        staging[:, last:] = 0
        staging[:, first:last, :left] = 0
        staging[:, first:last, right:] = 0
        staging[:, first:last, left:right] = source[c0:c1]
        s = np.empty((4, 4, n, rows + 1, grid), dtype=dtype)
        s[...] = staging.reshape(n, rows + 1, 4, grid, 4).transpose(2, 4, 0, 1, 3)
        flat = s.reshape(4, 4, n * plane)
        # rows of the tiles: BT's first four columns take the four phases of the tile's own grid row
        # (a matmul); its columns 4 and 5 are (1, 1, 1, 1, 1, 0) and (0, 0, 0, 0, 0, 1) for phases 0 and
        # 1 of the grid row below (two shifted additions)
        a = np.empty((6, 4, n * plane), dtype=dtype)
        np.matmul(head, flat.transpose(1, 0, 2), out=a.transpose(1, 0, 2))
        length = n * plane - grid  # the last channel's spare row has no row below it
        a[:5, :, :length] += flat[0, :, grid:]
        a[5, :, :length] += flat[1, :, grid:]
        # columns of the tiles, likewise: the shift is one grid column
        block = v[:, :, c0:c1].reshape(6, 6, n * plane)
        np.matmul(head, a, out=block)
        length -= 1
        block[:, :5, :length] += a[:, 0:1, 1 : length + 1]
        block[:, 5, :length] += a[:, 1, 1 : length + 1]

    _parallel(transform_input, range(0, channels, cb))
    real = rows * grid  # the spare grid row holds only garbage tiles: the matmuls leave it out
    m = np.empty((36, outputs, real), dtype=dtype)
    most = _BLAS_SERIAL_WORK // (outputs * channels)  # tiles per matmul that OpenBLAS runs on one thread
    width = most // 16 * 16 if most >= 16 else most  # OpenBLAS's sgemm kernel works on 16 columns at a time
    count = -(-real // max(1, width))
    edges = [min(real, count * i // _workers() * width) for i in range(_workers() + 1)]
    vv = v.reshape(36, channels, plane)

    def mix(i: int) -> None:
        """One share of tiles in one call (one release of the GIL): a stack of one-thread matmuls."""
        t0, t1 = edges[i], edges[i + 1]
        full = (t1 - t0) // width
        if full:
            source = vv[..., t0:]
            target = m[..., t0:]
            np.matmul(
                u[:, None],
                np.lib.stride_tricks.as_strided(
                    source,
                    (36, full, channels, width),
                    (source.strides[0], width * source.itemsize, *source.strides[1:]),
                ),
                out=np.lib.stride_tricks.as_strided(
                    target,
                    (36, full, outputs, width),
                    (target.strides[0], width * target.itemsize, *target.strides[1:]),
                ),
            )
        if t0 + full * width < t1:
            np.matmul(u, vv[..., t0 + full * width : t1], out=m[..., t0 + full * width : t1])

    if most >= _WINOGRAD_MIN_CHUNK:  # one-thread matmuls side by side: no fork and join per matmul
        _parallel(mix, range(_workers()))
    else:
        np.matmul(u, vv[..., :real], out=m)
    m = m.reshape(6, 6, outputs, real)
    mb = _balanced(outputs, _WINOGRAD_OUTPUT_BLOCK // real)
    at = _WINOGRAD_AT.astype(dtype)

    def transform_output(m0: int) -> None:
        m1 = min(outputs, m0 + mb)
        n = m1 - m0
        half = np.matmul(at, m[:, :, m0:m1].transpose(1, 0, 2, 3).reshape(6, 6, n * real))  # (a2, r1, tiles)
        # r2 innermost, so that each output row of a tile row is one contiguous run of the result
        quads = np.matmul(half.transpose(1, 2, 0), at.T)  # (r1, tiles, r2)
        rows_out = quads.reshape(4, n, rows, 4 * grid)[..., : 4 * cols]
        out[m0:m1].reshape(n, rows, 4, 4 * cols)[...] = rows_out.transpose(1, 2, 0, 3)

    _parallel(transform_output, range(0, outputs, mb))


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_POOL: list[ThreadPoolExecutor] = []
_ALLOWED: list[frozenset[int]] = []  # the cores the process may use, read when the pool starts


def _current_cpu() -> int | None:
    """The core the calling thread runs on (Linux, glibc), else None."""
    try:
        return int(ctypes.CDLL(None).sched_getcpu())
    except (AttributeError, OSError, TypeError):
        return None


def _leave_cpu(cpu: int | None, allowed: frozenset[int]) -> None:
    """Move the calling (pool) thread off ``cpu``, the core of the thread that handed it work.

    Linux starts a woken thread on its waker's core ("wake affine"); the two then share that core
    until the load balancer moves one, which often takes longer than a whole conv (timed: the pool
    thread started on the caller's core in 43 of 60 calls, and a pair of 1.5 ms shares took 3.2 ms).
    """
    if cpu is None or not hasattr(os, "sched_setaffinity") or len(allowed) < 2 or cpu not in allowed:
        return
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, allowed - {cpu})


def _parallel(fn: Callable[[int], None], items: Sequence[int]) -> None:
    """Run ``fn`` on every item, the items split into one contiguous share per core.

    NumPy releases the GIL inside its loops, so the shares run in parallel. The caller's thread takes
    the first share itself, so a call wakes only ``cores - 1`` pool threads, each moved off the
    caller's core (see :func:`_leave_cpu`).
    """
    workers = min(_workers(), len(items))
    size = -(-len(items) // workers)
    shares = [items[i * size : (i + 1) * size] for i in range(workers)]
    if workers == 1:
        for item in items:
            fn(item)
        return
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=_workers() - 1, thread_name_prefix="shapecheck-kernel"))
        _ALLOWED.append(frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset())
    cpu = _current_cpu()

    def run_share(share: Sequence[int]) -> None:
        _leave_cpu(cpu, _ALLOWED[0])
        for item in share:
            fn(item)

    pending = [_POOL[0].submit(run_share, share) for share in shares[1:]]
    for item in shares[0]:
        fn(item)
    for future in pending:
        future.result()


def _balanced(total: int, most: int) -> int:
    """Block size for ``total`` items in blocks of at most ``most`` (at least 1), with a whole number of
    nearly equal blocks per core, so that :func:`_parallel` gives every core the same work."""
    count = -(-total // max(1, most))
    count = -(-count // _workers()) * _workers()
    return max(1, -(-total // count))


def _add_bias(out: np.ndarray, b: object, channels: int, name: str = "b") -> np.ndarray:
    if b is None:
        return out
    bias = _as_array(name, b, out.dtype)
    if bias.shape != (channels,):
        raise SpecError(f"{name} must have shape ({channels},) (one value per output channel), got {bias.shape}")
    out += bias.reshape(channels, *([1] * (out.ndim - 2)))
    return out


# --------------------------------------------------------------------------------------------------
# Conv
# --------------------------------------------------------------------------------------------------


def conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    group: int = 1,
    auto_pad: str = "NOTSET",
    kernel_shape: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX ``Conv``: grouped, strided, dilated cross-correlation of ``x (N, C, ...)`` and ``w (M, C/g, k)``.

    The input is padded (explicit ``pads``, or the SAME_*/VALID padding of ``auto_pad``), then every
    window start that fits in the padded input gives one output position.
    """
    x = _as_array("x", x)
    w = _as_array("w", w)
    dtype = _float_dtype(x, w)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    rank = _spatial_rank(x)
    if w.ndim != x.ndim:
        raise SpecError(f"w must have shape (M, C/group, k...) with {rank} spatial axes, got {w.shape}")
    kernel = tuple(w.shape[2:])
    _kernel_shape("kernel_shape", kernel_shape, kernel)
    strides_ = _ints("strides", strides, rank, 1, 1)
    dilations_ = _ints("dilations", dilations, rank, 1, 1)
    pads_ = _resolve_pads(x.shape[2:], kernel, strides_, dilations_, pads, _auto_pad(auto_pad))
    out = _correlate(x, w, strides_, dilations_, int(group), pads_)
    return _add_bias(out, b, w.shape[0])


# --------------------------------------------------------------------------------------------------
# ConvTranspose
# --------------------------------------------------------------------------------------------------


def _scatter_extent(n: int, k: int, s: int, d: int) -> int:
    """Canvas length of a transposed conv: one past the last position any (input, tap) pair writes.

    Input ``i`` scatters tap ``t`` to position ``i*s + t*d``.
    """
    return max(i * s + t * d for i in (0, n - 1) for t in (0, k - 1)) + 1


def _as_conv_weight(w: np.ndarray, group: int) -> np.ndarray:
    """ConvTranspose ``(C, M/g, k...)`` to Conv layout ``(M, C/g, k...)`` by swapping channels per group."""
    channels, mg = w.shape[:2]
    cg = channels // group
    wg = w.reshape(group, cg, mg, *w.shape[2:]).swapaxes(1, 2)
    return wg.reshape(group * mg, cg, *w.shape[2:])


def conv_transpose(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    group: int = 1,
    output_padding: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    auto_pad: str = "NOTSET",
    kernel_shape: Sequence[int] | None = None,
    method: str = "auto",
) -> np.ndarray:
    """ONNX ``ConvTranspose`` of ``x (N, C, ...)`` with ``w (C, M/g, k...)``: the adjoint of :func:`conv`.

    Each input position scatters its ``k^d`` contributions to ``i*s + t*d``; ``output_padding`` extends
    the end of that canvas, then ``pads`` crop it. With ``output_shape`` (or SAME_*, whose target is
    ``n*s``) the pads are the canvas length minus the target, split as ONNX says: the odd extra pad at the
    end for SAME_UPPER, at the begin for SAME_LOWER and for NOTSET with ``output_shape`` (as onnxruntime
    does). ``method`` selects the implementation (see :data:`TRANSPOSE_METHODS`); all give equal results.
    """
    if method not in TRANSPOSE_METHODS:
        raise SpecError(f"method must be one of {', '.join(TRANSPOSE_METHODS)}, got {method!r}")
    x = _as_array("x", x)
    w = _as_array("w", w)
    dtype = _float_dtype(x, w)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    rank = _spatial_rank(x)
    if w.ndim != x.ndim:
        raise SpecError(f"w must have shape (C, M/group, k...) with {rank} spatial axes, got {w.shape}")
    group = int(group)
    if group < 1:
        raise SpecError(f"group must be >= 1, got {group}")
    if x.shape[1] != w.shape[0]:
        raise SpecError(f"w: input has {x.shape[1]} channels but the weight has {w.shape[0]} (its first axis)")
    if x.shape[1] % group:
        raise SpecError(f"group: {x.shape[1]} input channels are not divisible by group = {group}")
    kernel = tuple(w.shape[2:])
    _kernel_shape("kernel_shape", kernel_shape, kernel)
    strides_ = _ints("strides", strides, rank, 1, 1)
    dilations_ = _ints("dilations", dilations, rank, 1, 1)
    extra = _ints("output_padding", output_padding, rank, 0, 0)
    mode = _auto_pad(auto_pad)
    pads_ = _explicit_pads(pads, rank, mode)
    sizes = x.shape[2:]
    canvas = [_scatter_extent(n, k, s, d) for n, k, s, d in zip(sizes, kernel, strides_, dilations_, strict=True)]
    if output_shape is not None:
        pads_, extra = _pads_for_output_shape(output_shape, sizes, kernel, strides_, dilations_, extra, mode)
    elif mode in ("SAME_UPPER", "SAME_LOWER"):
        # the target is n*s; the canvas includes output_padding (onnxruntime; shape inference ignores it)
        pads_ = [
            _split_total(max(0, c + e - n * s), mode) for c, e, n, s in zip(canvas, extra, sizes, strides_, strict=True)
        ]
    elif mode == "VALID":
        pads_ = [(0, 0)] * rank
    for axis, (c, e, (pb, pe)) in enumerate(zip(canvas, extra, pads_, strict=True)):
        if pb + pe >= c + e:
            raise SpecError(
                f"pads ({pb}, {pe}) on spatial axis {axis} crop away the whole {c + e}-long transposed-conv output"
            )
    if method == "auto":
        method = _fastest_transpose_method(x, w, group)
    run = {"zero_insertion": _transpose_zero_insertion, "scatter": _transpose_scatter}.get(method, _transpose_polyphase)
    out = run(x, w, strides_, dilations_, group, pads_, extra)
    return _add_bias(out, b, w.shape[1] * group)


def _pads_for_output_shape(
    output_shape: Sequence[int],
    sizes: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    extra: Sequence[int],
    mode: str,
) -> tuple[Pads, tuple[int, ...]]:
    """Pads (and end extension) that bring the canvas (+ output_padding) to the requested output_shape.

    A canvas longer than the target is cropped by the difference, split as ONNX says (odd extra at the
    end for SAME_UPPER, else at the begin). A target longer than the canvas gets zeros at the end, as
    onnxruntime does, up to ``stride - 1`` positions past the canvas (further would need another input).
    """
    rank = len(sizes)
    target = [int(v) for v in output_shape]
    if len(target) == rank + 2:
        target = target[2:]
    if len(target) != rank or min(target) < 1:
        raise SpecError(f"output_shape must have {rank} positive values (the spatial sizes), got {target}")
    pads: Pads = []
    ends = []
    for axis, (n, k, s, d, e, t) in enumerate(zip(sizes, kernel, strides, dilations, extra, target, strict=True)):
        extent = _scatter_extent(n, k, s, d)
        total = extent + e - t
        if total < 0 and t - extent >= s:
            raise SpecError(
                f"output_shape {t} on spatial axis {axis} lies {t - extent} past the {extent} positions the "
                f"input reaches; with stride {s} that needs a longer input"
            )
        pads.append(_split_total(total, mode) if total >= 0 else (0, 0))
        ends.append(e if total >= 0 else e - total)
    return pads, tuple(ends)


def _fastest_transpose_method(x: np.ndarray, w: np.ndarray, group: int) -> str:
    """Scatter (one matmul, then adds) was fastest on every benchmark shape; its matmul result holds
    k^d values per output channel and input position, so very large ones go to polyphase, whose
    matmuls run in cache-sized chunks."""
    contributions = x.shape[0] * math.prod(x.shape[2:]) * group * math.prod(w.shape[1:])
    return "scatter" if contributions <= _SCATTER_MAX_ELEMENTS else "polyphase"


def _transpose_zero_insertion(
    x: np.ndarray,
    w: np.ndarray,
    strides: Sequence[int],
    dilations: Sequence[int],
    group: int,
    pads: Pads,
    extra: Sequence[int],
) -> np.ndarray:
    """The lecture notes: zero insertion, edge padding ``d(k-1)-p``, stride-1 conv with the flipped kernel."""
    edges = [
        (_span(k, d) - 1 - pb, _span(k, d) - 1 - pe + e)
        for k, d, (pb, pe), e in zip(w.shape[2:], dilations, pads, extra, strict=True)
    ]
    flipped = np.flip(_as_conv_weight(w, group), axis=tuple(range(2, w.ndim)))
    inserted = _zero_insert(x, strides, edges)
    return _correlate(inserted, flipped, (1,) * len(strides), dilations, group)


def _zero_insert(x: np.ndarray, strides: Sequence[int], edges: Pads) -> np.ndarray:
    """``s-1`` zeros between neighbours, then ``edges`` zeros at begin and end (negative: crop), at once."""
    sizes, dst, src = [], [], []
    for axis, (n, s, (begin, end)) in enumerate(zip(x.shape[2:], strides, edges, strict=True)):
        inserted = range(0, n * s, s)  # where the inputs sit once the zeros are between them
        length = begin + inserted[-1] + 1 + end
        if length < 1:
            raise SpecError(f"pads crop away the whole zero-inserted input on spatial axis {axis}")
        first = max(0, -(begin // s))  # first input that lands at or after position 0
        stop = min(n, (length - begin + s - 1) // s)  # inputs before this land before the end
        sizes.append(length)
        dst.append(slice(begin + first * s, begin + (stop - 1) * s + 1, s) if stop > first else slice(0, 0))
        src.append(slice(first, max(first, stop)))
    out = np.zeros((*x.shape[:2], *sizes), dtype=x.dtype)
    out[(..., *dst)] = x[(..., *src)]
    return out


def _transpose_scatter(
    x: np.ndarray,
    w: np.ndarray,
    strides: Sequence[int],
    dilations: Sequence[int],
    group: int,
    pads: Pads,
    extra: Sequence[int],
) -> np.ndarray:
    """col2im: one matmul gives every (tap, input) contribution, then each is added where it lands.

    Input ``i`` and tap ``t`` land on canvas position ``i*s + t*d``. The adds are grouped by output
    phase (positions ``r, r+s, ...``, see :func:`_phases`), so each phase sums shifted blocks in a
    contiguous buffer and is written into the interleaved output once.
    """
    n_batch, channels = x.shape[:2]
    sizes, kernel = tuple(x.shape[2:]), tuple(w.shape[2:])
    cg, mg = channels // group, w.shape[1]
    n_taps = math.prod(kernel)
    # (G, Cg, Mg, K) -> (G, K, Mg, Cg): the matmul yields (N, G, k..., Mg, n...), one block per tap.
    wt = w.reshape(group, cg, mg, n_taps).transpose(0, 3, 2, 1).reshape(group, n_taps * mg, cg)
    contrib = np.matmul(wt, x.reshape(n_batch, group, cg, -1)).reshape(n_batch, group, *kernel, mg, *sizes)
    geometry = list(zip(sizes, kernel, strides, dilations, extra, pads, strict=True))
    out_sizes = [_scatter_extent(n, k, s, d) + e - pb - pe for n, k, s, d, e, (pb, pe) in geometry]
    per_axis = [
        list(_phases(n, k, s, d, pb, o)) for (n, k, s, d, _, (pb, _)), o in zip(geometry, out_sizes, strict=True)
    ]
    reached = all(len(p) == min(s, o) for p, s, o in zip(per_axis, strides, out_sizes, strict=True))
    out = (np.empty if reached else np.zeros)((n_batch, group, mg, *out_sizes), dtype=x.dtype)
    for phase in itertools.product(*per_axis):
        target = out[(..., *(slice(r, None, s) for (r, *_), s in zip(phase, strides, strict=True)))]
        blocks = list(_phase_blocks(phase, sizes))
        if len(blocks) == 1 and blocks[0][0] is None:
            target[...] = contrib[blocks[0][1]]
            continue
        buffer = np.zeros(target.shape, dtype=x.dtype)
        for dst, src in blocks:
            buffer[(..., *dst) if dst else ...] += contrib[src]
        target[...] = buffer
    return out.reshape(n_batch, group * mg, *out_sizes)


def _phase_blocks(
    phase: Sequence[tuple[int, list[int], int, int, int]], sizes: Sequence[int]
) -> Iterator[tuple[tuple[slice, ...] | None, tuple[slice | int, ...]]]:
    """For one output phase: (destination slices in the phase, or None if it covers the whole phase;
    index of the contributing block of ``contrib``) for every tap combination that reaches it."""
    for combo in itertools.product(*(range(len(taps)) for _, taps, *_ in phase)):
        tap, dst, src = [], [], []
        for (_, taps, first, step, length), j, n in zip(phase, combo, sizes, strict=True):
            offset = first + j * step  # the input that phase position 0 reads through this tap
            lo, hi = max(0, -offset), min(length, n - offset)
            if hi <= lo:
                break
            tap.append(taps[j])
            dst.append(slice(lo, hi))
            src.append(slice(lo + offset, hi + offset))
        else:
            whole = all(d.start == 0 and d.stop == p[4] for d, p in zip(dst, phase, strict=True))
            yield (None if whole else tuple(dst)), (slice(None), slice(None), *tap, slice(None), *src)


def _phases(
    n: int, k: int, s: int, d: int, pad_begin: int, out_len: int
) -> Iterator[tuple[int, list[int], int, int, int]]:
    """Per output phase ``r`` (positions ``r, r+s, ...``): the taps that reach it, and its input window.

    Output ``o`` sits at canvas position ``o + pad_begin = i*s + t*d``, so phase ``r`` is reached by the
    taps with ``(r + pad_begin - t*d) % s == 0``, tap ``t`` reading input ``q + (r + pad_begin - t*d)/s``
    for the ``q``-th position of the phase. Taps are yielded last first, which makes the phase a plain
    correlation: ``(r, taps, first input offset, dilation between taps, phase length)``.
    """
    for r in range(s):
        taps = [t for t in reversed(range(k)) if (r + pad_begin - t * d) % s == 0]
        length = len(range(r, out_len, s))
        if not taps or not length:
            continue
        offsets = [(r + pad_begin - t * d) // s for t in taps]
        step = offsets[1] - offsets[0] if len(offsets) > 1 else 1
        yield r, taps, offsets[0], step, length


def _transpose_polyphase(
    x: np.ndarray,
    w: np.ndarray,
    strides: Sequence[int],
    dilations: Sequence[int],
    group: int,
    pads: Pads,
    extra: Sequence[int],
) -> np.ndarray:
    """Sub-pixel split: each of the ``s^d`` output phases is a dense stride-1 conv with a sub-kernel."""
    n_batch = x.shape[0]
    sizes, kernel = x.shape[2:], w.shape[2:]
    out_sizes = [
        _scatter_extent(n, k, s, d) + e - pb - pe
        for n, k, s, d, e, (pb, pe) in zip(sizes, kernel, strides, dilations, extra, pads, strict=True)
    ]
    out = np.zeros((n_batch, w.shape[1] * group, *out_sizes), dtype=x.dtype)
    per_axis = [
        list(_phases(n, k, s, d, pb, o))
        for n, k, s, d, (pb, _), o in zip(sizes, kernel, strides, dilations, pads, out_sizes, strict=True)
    ]
    conv_weight = _as_conv_weight(w, group)
    for phase in itertools.product(*per_axis):
        sub = conv_weight[(slice(None), slice(None), *np.ix_(*(taps for _, taps, _, _, _ in phase)))]
        window = [
            (-first, first + (len(taps) - 1) * step + length - n)
            for (_, taps, first, step, length), n in zip(phase, sizes, strict=True)
        ]
        y = _correlate(_pad_or_crop(x, window), sub, (1,) * len(sizes), [p[3] for p in phase], group)
        out[(..., *(slice(r, None, s) for (r, *_), s in zip(phase, strides, strict=True)))] = y
    return out


# --------------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------------


def _pool_geometry(
    x: np.ndarray,
    kernel_shape: Sequence[int],
    strides: Sequence[int] | None,
    pads: Sequence[int] | None,
    dilations: Sequence[int] | None,
    ceil_mode: int,
    auto_pad: str,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], Pads, list[int], list[int]]:
    """Kernel, strides, dilations, pads, the void cells that ceil mode appends, and the output counts.

    Ceil mode lets a last, partial window hang over the end: the padded input is extended by ``s-1``
    void cells (never read as values, never counted), and that last window is dropped if it would start
    inside the end padding (PyTorch, onnxruntime, ONNX opset >= 22).
    """
    rank = _spatial_rank(x)
    if kernel_shape is None:
        raise SpecError("kernel_shape is required for pooling")
    kernel = _ints("kernel_shape", kernel_shape, rank, 1, 1)
    strides_ = _ints("strides", strides, rank, 1, 1)
    dilations_ = _ints("dilations", dilations, rank, 1, 1)
    pads_ = _resolve_pads(x.shape[2:], kernel, strides_, dilations_, pads, _auto_pad(auto_pad))
    void = [s - 1 if ceil_mode else 0 for s in strides_]
    counts = []
    for axis, (n, k, s, d, (pb, pe), v) in enumerate(zip(x.shape[2:], kernel, strides_, dilations_, pads_, void)):
        span = _span(k, d)
        if span > n + pb + pe + v:
            room = f"{n + pb + pe} of the padded input" + (f" (+{v} in ceil mode)" if v else "")
            raise SpecError(
                f"kernel_shape: the dilated window spans {span} positions on spatial axis {axis}, more than the {room}"
            )
        starts = range(0, n + pb + pe + v - span + 1, s)
        if ceil_mode and starts[-1] >= n + pb:  # the partial last window would start in the end padding
            starts = starts[:-1]
        counts.append(len(starts))
    return kernel, strides_, dilations_, pads_, void, counts


def _window_counts(
    n: int, k: int, s: int, d: int, pads: tuple[int, int], void: int, count: int, include_pad: bool
) -> np.ndarray:
    """Per output position of one axis: how many window taps land on input (or on input + padding)."""
    pb, pe = pads
    mask = np.zeros(n + pb + pe + void, dtype=np.int64)
    mask[0 if include_pad else pb : n + pb + (pe if include_pad else 0)] = 1
    taps = np.lib.stride_tricks.sliding_window_view(mask, _span(k, d))[::s, ::d]
    return taps[:count].sum(axis=1)


def _check_windows_touch_input(
    x: np.ndarray,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Pads,
    void: Sequence[int],
    counts: Sequence[int],
) -> list[np.ndarray]:
    valid = []
    for axis, (n, k, s, d, p, v, o) in enumerate(zip(x.shape[2:], kernel, strides, dilations, pads, void, counts)):
        per_window = _window_counts(n, k, s, d, p, v, o, include_pad=False)
        if per_window.size and per_window.min() == 0:
            raise SpecError(f"pads {list(p)} on spatial axis {axis}: a pooling window covers only padding")
        valid.append(per_window)
    return valid


def max_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    ceil_mode: int = 0,
    auto_pad: str = "NOTSET",
) -> np.ndarray:
    """ONNX ``MaxPool`` (first output): the maximum over each window; padding never wins."""
    x = _as_array("x", x)
    x = x.astype(_float_dtype(x), copy=False)
    kernel, strides_, dilations_, pads_, void, counts = _pool_geometry(
        x, kernel_shape, strides, pads, dilations, ceil_mode, auto_pad
    )
    _check_windows_touch_input(x, kernel, strides_, dilations_, pads_, void, counts)
    xp = _pad_or_crop(x, [(pb, pe + v) for (pb, pe), v in zip(pads_, void)], fill=-np.inf)
    out = np.empty((*x.shape[:2], *counts), dtype=x.dtype)
    for i, tap in enumerate(_taps(kernel)):
        view = _tap_view(xp, tap, dilations_, strides_, counts)
        if i == 0:
            out[...] = view
        else:
            np.maximum(out, view, out=out)
    return out


def average_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    ceil_mode: int = 0,
    count_include_pad: int = 0,
    auto_pad: str = "NOTSET",
    dilations: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX ``AveragePool``: the window sum divided by the taps on input (``count_include_pad=1``: on
    input or padding; the void cells of ceil mode never count)."""
    x = _as_array("x", x)
    x = x.astype(_float_dtype(x), copy=False)
    kernel, strides_, dilations_, pads_, void, counts = _pool_geometry(
        x, kernel_shape, strides, pads, dilations, ceil_mode, auto_pad
    )
    valid = _check_windows_touch_input(x, kernel, strides_, dilations_, pads_, void, counts)
    xp = _pad_or_crop(x, [(pb, pe + v) for (pb, pe), v in zip(pads_, void)])
    out = np.zeros((*x.shape[:2], *counts), dtype=x.dtype)
    for tap in _taps(kernel):
        out += _tap_view(xp, tap, dilations_, strides_, counts)
    if count_include_pad:
        valid = [
            _window_counts(n, k, s, d, p, v, o, include_pad=True)
            for n, k, s, d, p, v, o in zip(x.shape[2:], kernel, strides_, dilations_, pads_, void, counts)
        ]
    divisor = np.ones((), dtype=np.int64)
    for axis_counts in valid:
        divisor = np.multiply.outer(divisor, axis_counts)
    out /= divisor.astype(x.dtype)
    return out
