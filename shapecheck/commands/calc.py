"""``shapecheck calc``: a convolution size calculator — one layer, its output size and why.

Three operators, ONNX semantics (which PyTorch shares except where a note says otherwise)::

    shapecheck calc conv          -i 65 -k 3 -s 2 -p 1
    shapecheck calc convtranspose -i 33 -k 3 -s 2 -p 1 --output-padding 1
    shapecheck calc pool          -i 5 -k 2 -s 2 -p 1 --ceil-mode
    shapecheck calc convtranspose -i 32 --target 64      # which settings reach 64?
    shapecheck calc conv          -i 64 --target 32

Every size comes from :mod:`shapecheck.arith`; this module parses, validates, searches (through
:mod:`shapecheck.commands._calc_solve`) and prints, and never re-derives a formula. ``--confirm`` runs the
NumPy kernel (:mod:`shapecheck.kernel`, written from the operator definitions without arith) on a random
input and compares shapes, so the two independent implementations check each other.

Output is plain aligned text whether or not stdout is a terminal: the same bytes on screen, in a pipe
and in a test, and no rich import on the fast path.

JSON output (``--json``)
------------------------
One object; keys are stable, per-axis values are lists in spatial-axis order, pads are ``[begin, end]``
pairs per axis, ranges of sizes are inclusive ``[low, high]`` pairs (``null`` when empty).

Compute mode (no ``--target``), all operators:

``op``               ``"conv"``, ``"convtranspose"`` or ``"pool"``
``mode``             ``"compute"``
``auto_pad``         ``"NOTSET"``, ``"SAME_UPPER"``, ``"SAME_LOWER"`` or ``"VALID"``
``output``           output size per axis
``axes``             one object per axis (below)
``onnx_attributes``  the node's attributes in ONNX form (``pads`` flat: all begins, then all ends)
``notes``            list of strings: runtime disagreements and caveats
``confirm``          ``null`` without ``--confirm``; else ``{"kernel_output": [...], "agrees": bool}``

Per-axis keys, all operators: ``input``, ``kernel``, ``stride``, ``dilation``, ``pads`` (the pads in
effect, after auto_pad / output_shape), ``output``.

- conv: ``floor_remainder`` (trailing padded positions no window reaches), ``same_output_inputs`` (the
  input sizes with the same output), ``mirror_output_padding`` (the output_padding with which a
  ConvTranspose of the same kernel, stride, pads and dilation restores this input size; ``null`` if
  none does) and ``mirror_reason`` (why not, else ``""``).
- convtranspose: ``output_padding``, ``output_shape`` (``null`` unless given), ``as_conv`` (the lecture
  notes' direct stride-1 conv: ``zeros_between``, ``zero_inserted_size``, ``pad_begin``, ``pad_end``,
  ``total_padding``, ``padded_size``, ``kernel``, ``dilation``, ``output``) and ``conv_preimage`` (the
  input sizes that a Conv with the same parameters maps to this layer's input).
- pool: ``floor_remainder``, ``same_output_inputs`` (``null`` in ceil mode with explicit pads),
  ``output_floor``, ``output_ceil`` (PyTorch / onnxruntime / ONNX opset >= 22) and
  ``output_ceil_onnx_legacy`` (``onnx.shape_inference`` below opset 22). Top level adds ``kind``
  (``"max"`` / ``"avg"``) and ``ceil_mode``.

Target mode (``--target``): ``op``, ``mode`` = ``"target"``, ``auto_pad``, ``search`` (the box searched:
``kernel``, ``stride``, ``pads``, ``dilation`` lists, ``output_padding`` list or ``null`` = every legal
value) and ``axes``: per axis ``input``, ``target``, ``count`` (settings found) and ``settings`` (at most
``--limit``), each ``kernel``, ``stride``, ``dilation``, ``pads``, ``output_padding``, ``output``,
``floor_remainder``, ``pattern``, ``notes`` and ``confirmed`` (``null`` without ``--confirm``).

Exit codes: 0 done; 1 ``--confirm`` found the kernel disagreeing with the arithmetic (a bug); 2 bad input,
one line on stderr naming the parameter and its legal range.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shapecheck import arith
from shapecheck.arith import AutoPad, Pads
from shapecheck.commands import _calc_solve as solve
from shapecheck.errors import SpecError

__all__ = ["register"]

#: --confirm materialises about (padded input size x kernel taps) values; past this it would be a memory
#: accident (gigabytes), not a check.
CONFIRM_MAX_WORK = 1 << 26

_LISTS_HELP = """\
lists:
  Every option takes one value for all spatial axes, or one value per axis separated by commas:
  -i 65,64 -k 3 is a 2-D input of 65x64 with a 3x3 kernel. Sizes must be integers >= 1.

pads (-p/--pads):
  P              P at both ends of every axis                        -p 1
  B:E            B at the begin, E at the end of every axis          -p 0:1
  X,Y,...        one item per axis, each item P or B:E               -p 1:2,0:1
                 (that is axis 0: begin 1, end 2; axis 1: begin 0, end 1)
  B1,B2,..,E1,E2,..  2 x (number of axes) plain integers in ONNX order, all begins then all ends;
                 so for one axis -p 1,2 is begin 1, end 2.
"""


# ----------------------------------------------------------------------------------------------- parsing


def _ints(option: str, text: str) -> list[int]:
    """``"65,64"`` → ``[65, 64]``; anything else is a SpecError naming the option."""
    values: list[int] = []
    for item in text.split(","):
        try:
            values.append(int(item.strip()))
        except ValueError:
            context = "" if item.strip() == text.strip() else f" in {text!r}"
            raise SpecError(
                f"{option}: {item.strip()!r}{context} is not an integer; "
                "legal: N or N,N,... (one integer per spatial axis)"
            ) from None
    return values


def _axes(rank: int) -> str:
    return "1 spatial axis" if rank == 1 else f"{rank} spatial axes"


def _broadcast(option: str, values: list[int], rank: int, rank_from: str) -> list[int]:
    if len(values) == rank:
        return values
    if len(values) == 1:
        return values * rank
    raise SpecError(
        f"{option}: got {len(values)} values for {_axes(rank)} (set by {rank_from}); "
        f"legal: 1 value (all axes) or {rank}"
    )


def _check_range(option: str, values: Sequence[int], low: int) -> None:
    for axis, value in enumerate(values):
        if value < low:
            where = f" on axis {axis}" if len(values) > 1 else ""
            raise SpecError(f"{option}: {value}{where} is out of range; legal: integers >= {low}")


def _pad_items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",")]


def _pad_rank(text: str | None) -> int:
    """The axes a pads list names by itself: only the ``B:E`` per-axis form fixes a rank."""
    if text is None:
        return 1
    items = _pad_items(text)
    return len(items) if any(":" in item for item in items) and len(items) > 1 else 1


def _parse_pads(text: str, rank: int) -> list[Pads]:
    """Read the pads syntax documented in ``--help`` into one ``(begin, end)`` pair per axis."""
    items = _pad_items(text)

    def one(item: str) -> Pads:
        begin, sep, end = item.partition(":")
        parts = [begin, end] if sep else [begin, begin]
        try:
            pair = (int(parts[0]), int(parts[1]))
        except ValueError:
            context = "" if item == text.strip() else f" in {text!r}"
            raise SpecError(
                f"--pads: {item!r}{context} is not P or B:E with integers; legal: e.g. 1, 1:2, 1:2,0:1 "
                "(see --help)"
            ) from None
        if min(pair) < 0:
            raise SpecError(f"--pads: {item!r} has a negative pad; legal: integers >= 0")
        return pair

    if len(items) == 1:
        return [one(items[0])] * rank
    if len(items) == rank:
        return [one(item) for item in items]
    if len(items) == 2 * rank and not any(":" in item for item in items):
        flat = [one(item)[0] for item in items]
        return [(flat[axis], flat[axis + rank]) for axis in range(rank)]
    if rank == 1:
        legal = "P, B:E or B,E (begin, end)"
    else:
        legal = (
            f"1 item, {rank} items (each P or B:E) or {2 * rank} integers in ONNX order (begins, then ends)"
        )
    raise SpecError(f"--pads: got {len(items)} items for {_axes(rank)}; legal: {legal}")


@dataclass(frozen=True)
class _Layer:
    """The command line, validated and broadcast to one value per spatial axis."""

    inputs: list[int]
    kernels: list[int] | None
    strides: list[int]
    dilations: list[int]
    pads: list[Pads] | None  # None: not given (zeros, or derived by auto_pad / output_shape)
    auto_pad: AutoPad
    output_padding: list[int] | None
    output_shape: list[int] | None
    targets: list[int] | None
    stride_given: bool  # a given stride constrains a --target search; the default 1 does not

    @property
    def rank(self) -> int:
        return len(self.inputs)


def _layer(args: argparse.Namespace) -> _Layer:
    """Parse every per-axis option, infer the number of spatial axes, validate ranges."""
    raw: dict[str, tuple[str, str | None]] = {
        "inputs": ("--input", args.input),
        "kernels": ("--kernel", args.kernel),
        "strides": ("--stride", args.stride),
        "dilations": ("--dilation", args.dilation),
        "output_padding": ("--output-padding", getattr(args, "output_padding", None)),
        "output_shape": ("--output-shape", getattr(args, "output_shape", None)),
        "targets": ("--target", getattr(args, "target", None)),
    }
    parsed = {key: _ints(option, text) for key, (option, text) in raw.items() if text is not None}
    # The input fixes the number of axes; a single input size broadcasts to the longest other list.
    lengths = (
        [(len(parsed["inputs"]), "--input")]
        if len(parsed["inputs"]) > 1
        else [(len(values), raw[key][0]) for key, values in parsed.items()]
        + [(_pad_rank(args.pads), "--pads")]
    )
    rank, rank_from = max(lengths, key=lambda pair: pair[0])
    lists = {key: _broadcast(raw[key][0], values, rank, rank_from) for key, values in parsed.items()}

    _check_range("--input", lists["inputs"], 1)
    for key, low in (("kernels", 1), ("strides", 1), ("dilations", 1), ("output_padding", 0)):
        if key in lists:
            _check_range(raw[key][0], lists[key], low)
    for key in ("output_shape", "targets"):
        if key in lists:
            _check_range(raw[key][0], lists[key], 1)

    auto_pad = AutoPad.parse(args.auto_pad)
    if args.pads is not None and auto_pad is not AutoPad.NOTSET:
        raise SpecError(
            f"--pads: cannot be combined with --auto-pad {auto_pad.value}, which computes the pads; "
            "legal: one of them"
        )
    if "output_shape" in lists and args.pads is not None:
        raise SpecError(
            "--pads: cannot be combined with --output-shape, which computes the pads; legal: one of them"
        )
    if "output_shape" in lists and "targets" in lists:
        raise SpecError("--target: cannot be combined with --output-shape; legal: one of them")
    if "targets" not in lists and "kernels" not in lists:
        hint = " (or --target, to search for settings)" if hasattr(args, "target") else ""
        raise SpecError(f"--kernel: missing; legal: integers >= 1, e.g. -k 3{hint}")

    return _Layer(
        inputs=lists["inputs"],
        kernels=lists.get("kernels"),
        strides=lists.get("strides", [1] * rank),
        dilations=lists.get("dilations", [1] * rank),
        pads=None if args.pads is None else _parse_pads(args.pads, rank),
        auto_pad=auto_pad,
        output_padding=lists.get("output_padding"),
        output_shape=lists.get("output_shape"),
        targets=lists.get("targets"),
        stride_given="strides" in lists,
    )


# ---------------------------------------------------------------------------------------------- compute


def _span(sizes: range) -> list[int] | None:
    return [sizes.start, sizes.stop - 1] if len(sizes) else None


def _on_axis(axis: int, rank: int) -> str:
    return f" on axis {axis}" if rank > 1 else ""


def _explicit_pads(layer: _Layer, axis: int) -> Pads:
    return layer.pads[axis] if layer.pads is not None else (0, 0)


def _kernel_fits(layer: _Layer, axis: int, pads: Pads, out: int) -> None:
    """A non-positive output means the kernel is wider than the padded input: a usage error here."""
    if out >= 1:
        return
    n, k, d = layer.inputs[axis], layer.kernels[axis], layer.dilations[axis]  # type: ignore[index]
    padded = n + pads[0] + pads[1]
    raise SpecError(
        f"--kernel: effective kernel {arith.effective_kernel(k, d)} (k={k}, d={d}) is wider than the padded "
        f"input {padded} (input {n}, pads {pads[0]}+{pads[1]}){_on_axis(axis, layer.rank)}; "
        f"legal: d(k-1)+1 <= {padded}"
    )


def _conv_axis(layer: _Layer, axis: int, notes: list[str]) -> dict[str, Any]:
    n, k = layer.inputs[axis], layer.kernels[axis]  # type: ignore[index]
    s, d = layer.strides[axis], layer.dilations[axis]
    if layer.auto_pad is AutoPad.NOTSET:
        pads = _explicit_pads(layer, axis)
    else:
        pads = arith.auto_pads(n, k, layer.auto_pad, stride=s, dilation=d)
    out = arith.conv_out(n, k, stride=s, pads=pads, dilation=d)
    _kernel_fits(layer, axis, pads, out)
    if layer.auto_pad is AutoPad.NOTSET:
        same = arith.conv_preimage(out, k, stride=s, pads=pads, dilation=d)
    else:
        same = arith.auto_pad_preimage(out, k, layer.auto_pad, stride=s, dilation=d)
    mirror = arith.output_padding_for(out, k, n, stride=s, pads=pads, dilation=d, runtime="onnxruntime")
    if layer.auto_pad in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER) and d > 1:
        notes.append("onnxruntime rejects Conv with auto_pad SAME_* and dilation > 1")
    return {
        "input": n,
        "kernel": k,
        "stride": s,
        "dilation": d,
        "pads": list(pads),
        "output": out,
        "floor_remainder": arith.floor_remainder(n, k, stride=s, pads=pads, dilation=d),
        "same_output_inputs": _span(same),
        "mirror_output_padding": mirror.value,
        "mirror_reason": mirror.reason,
    }


def _conv_transpose_axis(layer: _Layer, axis: int, notes: list[str]) -> dict[str, Any]:
    n, k = layer.inputs[axis], layer.kernels[axis]  # type: ignore[index]
    s, d = layer.strides[axis], layer.dilations[axis]
    op = layer.output_padding[axis] if layer.output_padding is not None else 0
    where = _on_axis(axis, layer.rank)
    limit = arith.output_padding_limit(s, d)
    if op >= limit:
        raise SpecError(
            f"--output-padding: {op}{where} is illegal; legal: 0..{limit - 1} "
            f"(output_padding < max(stride, dilation) = max({s}, {d}))"
        )
    if op >= arith.output_padding_limit(s, d, runtime="onnxruntime"):
        notes.append(
            f"output_padding {op}{where} is legal in PyTorch (< max(stride, dilation)) but onnxruntime "
            f"rejects it (it requires output_padding < stride = {s})"
        )
    target = layer.output_shape[axis] if layer.output_shape is not None else None
    if target is not None or layer.auto_pad in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER):
        pads = arith.conv_transpose_auto_pads(
            n, k, layer.auto_pad, stride=s, dilation=d, output_padding=op, output_shape=target
        )
        if layer.auto_pad is not AutoPad.NOTSET and op:
            notes.append(
                "auto_pad SAME_* with output_padding: ONNX shape inference reports a different size; "
                "this follows onnxruntime and the ONNX reference evaluator"
            )
    else:
        pads = _explicit_pads(layer, axis)
    out = arith.conv_transpose_out(n, k, stride=s, pads=pads, dilation=d, output_padding=op)
    if target is not None and out != target:
        largest = arith.conv_transpose_out(n, k, stride=s, dilation=d, output_padding=op)
        raise SpecError(
            f"--output-shape: {target}{where} is out of reach from input {n} (k={k}, s={s}, d={d}, "
            f"output_padding={op}); legal: 1..{largest}"
        )
    if out < 1:
        unpadded = arith.conv_transpose_out(n, k, stride=s, dilation=d, output_padding=op)
        raise SpecError(
            f"--pads: {pads[0]}+{pads[1]}{where} crop the whole output (it would be {out}); "
            f"legal: p_begin + p_end <= {unpadded - 1}"
        )
    direct = arith.conv_transpose_as_conv(n, k, stride=s, pads=pads, dilation=d, output_padding=op)
    return {
        "input": n,
        "kernel": k,
        "stride": s,
        "dilation": d,
        "pads": list(pads),
        "output_padding": op,
        "output_shape": target,
        "output": out,
        "as_conv": {
            "zeros_between": direct.zeros_between,
            "zero_inserted_size": direct.dilated_input,
            "pad_begin": direct.pad_begin,
            "pad_end": direct.pad_end,
            "total_padding": direct.total_padding,
            "padded_size": direct.padded_input,
            "kernel": direct.direct_kernel,
            "dilation": d,
            "output": direct.output_size,
        },
        "conv_preimage": _span(arith.conv_preimage(n, k, stride=s, pads=pads, dilation=d)),
    }


def _pool_axis(layer: _Layer, axis: int, notes: list[str], *, ceil_mode: bool) -> dict[str, Any]:
    n, k = layer.inputs[axis], layer.kernels[axis]  # type: ignore[index]
    s, d = layer.strides[axis], layer.dilations[axis]
    where = _on_axis(axis, layer.rank)
    if layer.auto_pad is AutoPad.NOTSET:
        pads = _explicit_pads(layer, axis)
        if max(pads) >= k:
            raise SpecError(
                f"--pads: {pads[0]}:{pads[1]}{where} must be smaller than the kernel {k} for pooling "
                f"(onnxruntime and PyTorch reject pads >= kernel); legal: 0..{k - 1}"
            )
        if max(pads) > arith.effective_kernel(k, d) // 2:
            notes.append(
                f"pads {pads[0]}:{pads[1]}{where}: PyTorch requires pad <= effective kernel / 2 "
                f"= {arith.effective_kernel(k, d) // 2}; onnxruntime accepts it"
            )
    else:
        pads = arith.auto_pads(n, k, layer.auto_pad, stride=s, dilation=d)

    def size(ceil: bool, semantics: arith.PoolSemantics = arith.PoolSemantics.RUNTIME) -> int:
        return arith.pool_out(n, k, stride=s, pads=pads, dilation=d, ceil_mode=ceil, semantics=semantics)

    floor, ceil = size(False), size(True)
    legacy = size(True, arith.PoolSemantics.ONNX_LEGACY_INFERENCE)
    out = ceil if ceil_mode else floor
    _kernel_fits(layer, axis, pads, out)
    if layer.auto_pad is not AutoPad.NOTSET:
        same: range | None = arith.auto_pad_preimage(out, k, layer.auto_pad, stride=s, dilation=d)
    elif not ceil_mode:
        same = arith.conv_preimage(out, k, stride=s, pads=pads, dilation=d)
    else:
        same = None
    if ceil_mode and legacy != ceil:
        notes.append(
            f"ceil_mode{where}: onnx.shape_inference below opset 22 reports {legacy} (it keeps a last window "
            f"that starts in the end padding); onnxruntime, PyTorch and ONNX opset >= 22 give {ceil}"
        )
    return {
        "input": n,
        "kernel": k,
        "stride": s,
        "dilation": d,
        "pads": list(pads),
        "output": out,
        "output_floor": floor,
        "output_ceil": ceil,
        "output_ceil_onnx_legacy": legacy,
        "floor_remainder": arith.floor_remainder(n, k, stride=s, pads=pads, dilation=d),
        "same_output_inputs": None if same is None else _span(same),
    }


def _onnx_attributes(op: str, layer: _Layer, axes: list[dict[str, Any]], ceil_mode: bool) -> dict[str, Any]:
    """The node's attributes as ONNX spells them, ready to paste into onnx.helper.make_node."""
    attrs: dict[str, Any] = {
        "kernel_shape": [a["kernel"] for a in axes],
        "strides": [a["stride"] for a in axes],
        "dilations": [a["dilation"] for a in axes],
    }
    if layer.auto_pad is AutoPad.NOTSET and layer.output_shape is None:
        attrs["pads"] = [a["pads"][0] for a in axes] + [a["pads"][1] for a in axes]
    else:
        attrs["auto_pad"] = layer.auto_pad.value
    if op == "convtranspose":
        attrs["output_padding"] = [a["output_padding"] for a in axes]
        if layer.output_shape is not None:
            attrs["output_shape"] = list(layer.output_shape)
    if op == "pool":
        attrs["ceil_mode"] = int(ceil_mode)
    return attrs


# ---------------------------------------------------------------------------------------------- confirm


def _run_kernel(
    kernel: Any, op: str, kind: str, inputs: Sequence[int], attrs: dict[str, Any]
) -> tuple[int, ...]:
    """Run the NumPy kernel once on a random (1, 1, *inputs) tensor; return the output's spatial shape.

    The kernel gets the attributes as the user gave them (auto_pad, output_shape, pads), not the pads
    arith derived, so that it sizes the output from its own definition.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, *inputs)).astype(np.float32)
    w = rng.standard_normal((1, 1, *attrs["kernel_shape"])).astype(np.float32)
    common = {
        "strides": attrs["strides"],
        "pads": attrs.get("pads"),
        "dilations": attrs["dilations"],
        "auto_pad": attrs.get("auto_pad", "NOTSET"),
    }
    if op == "conv":
        y = kernel.conv(x, w, **common)
    elif op == "convtranspose":
        y = kernel.conv_transpose(
            x, w, **common, output_padding=attrs["output_padding"], output_shape=attrs.get("output_shape")
        )
    else:
        pool = kernel.max_pool if kind == "max" else kernel.average_pool
        y = pool(x, kernel_shape=attrs["kernel_shape"], ceil_mode=int(attrs["ceil_mode"]), **common)
    return tuple(int(v) for v in y.shape[2:])


def _confirm(op: str, kind: str, inputs: Sequence[int], attrs: dict[str, Any]) -> tuple[int, ...] | str:
    """The kernel's output shape, or the one-line reason it failed (a disagreement, since arith accepted).

    Only a missing kernel or an input too large to run are usage errors (exit 2); anything the kernel
    itself raises — even its own SpecError — means it refused a layer that arith sized, which is the
    disagreement ``--confirm`` exists to find.
    """
    try:
        from shapecheck import kernel
    except ImportError as error:
        raise SpecError(
            f"--confirm: the NumPy kernel (shapecheck.kernel) is not available: {error}"
        ) from None
    work = 1
    for n, k, s, d in zip(inputs, attrs["kernel_shape"], attrs["strides"], attrs["dilations"]):
        work *= (n * s + d * k) * k  # padded (zero-inserted) input of any of the three ops, times taps
    if work > CONFIRM_MAX_WORK:
        raise SpecError(
            f"--confirm: the layer is too large to run (about {work} input x kernel values); "
            f"legal: at most {CONFIRM_MAX_WORK}"
        )
    try:
        return _run_kernel(kernel, op, kind, inputs, attrs)
    except Exception as error:  # the kernel refusing a setting arith accepts is itself the finding
        text = " ".join(str(error).split())
        return f"{type(error).__name__}: {text}"


def _disagreement(computed: Sequence[int], got: tuple[int, ...] | str) -> str:
    shown = "raised " + got if isinstance(got, str) else f"produced {list(got)}"
    return (
        f"shapecheck: INTERNAL DISAGREEMENT: arith computed output {list(computed)} but the NumPy kernel "
        f"{shown}; this is a bug in shapecheck, please report it with this command line"
    )


# ------------------------------------------------------------------------------------------------ text


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns, two spaces apart, no trailing blanks."""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def _pads_text(pads: Sequence[int]) -> str:
    return f"{pads[0]}, {pads[1]}"


def _span_text(span: Sequence[int] | None) -> str:
    if span is None:
        return "none"
    low, high = span
    return str(low) if low == high else f"{low}..{high}" if high > low + 1 else f"{low}, {high}"


def _header(op: str, layer: _Layer) -> list[str]:
    names = {"conv": "Conv", "convtranspose": "ConvTranspose", "pool": "Pool"}
    auto = "" if layer.auto_pad is AutoPad.NOTSET else f", auto_pad {layer.auto_pad.value}"
    return [f"{names[op]}, {_axes(layer.rank)}{auto}"]


def _axis_rows(layer: _Layer, rows: list[tuple[str, list[str]]]) -> list[str]:
    head = [("", *[f"axis {i}" for i in range(layer.rank)])] if layer.rank > 1 else []
    return _table(head + [(label, *values) for label, values in rows])


def _axis_label(axis: int, rank: int) -> str:
    return f"  axis {axis}: " if rank > 1 else "  "


def _column(axes: list[dict[str, Any]], key: str, fmt: Callable[[Any], str] = str) -> list[str]:
    return [fmt(a[key]) for a in axes]


def _common_rows(axes: list[dict[str, Any]], pads_label: str) -> list[tuple[str, list[str]]]:
    return [
        ("input", _column(axes, "input")),
        ("kernel", _column(axes, "kernel")),
        ("stride", _column(axes, "stride")),
        ("dilation", _column(axes, "dilation")),
        (pads_label, _column(axes, "pads", _pads_text)),
    ]


def _pads_label(layer: _Layer) -> str:
    if layer.output_shape is not None:
        return "pads (begin, end) from output_shape"
    if layer.auto_pad is not AutoPad.NOTSET:
        return f"pads (begin, end) from {layer.auto_pad.value}"
    return "pads (begin, end)"


def _conv_text(layer: _Layer, result: dict[str, Any]) -> list[str]:
    axes = result["axes"]

    def mirror(a: dict[str, Any]) -> str:
        value = a["mirror_output_padding"]
        return "impossible" if value is None else str(value)

    lines = _header("conv", layer)
    lines += _axis_rows(
        layer,
        [
            *_common_rows(axes, _pads_label(layer)),
            ("output", _column(axes, "output")),
            ("floor remainder", _column(axes, "floor_remainder")),
            ("same output for inputs", _column(axes, "same_output_inputs", _span_text)),
            ("ConvTranspose back: output_padding", [mirror(a) for a in axes]),
        ],
    )
    lines.append("")
    lines.append("o = floor((n + p_begin + p_end - d(k-1) - 1) / s) + 1")
    for i, a in enumerate(axes):
        eff = arith.effective_kernel(a["kernel"], a["dilation"])
        label = _axis_label(i, layer.rank)
        lines.append(
            f"{label}floor(({a['input']} + {a['pads'][0]} + {a['pads'][1]} - {eff}) / {a['stride']}) + 1"
            f" = {a['output']}"
        )
    lines.append("floor remainder: trailing positions of the padded input that no window reaches")
    lines.append("same output for inputs: every input size this layer maps to the same output")
    lines.append("ConvTranspose back: the output_padding with which a ConvTranspose of the same kernel,")
    lines.append("  stride, pads and dilation turns the output back into this input size")
    for i, a in enumerate(axes):
        if a["mirror_output_padding"] is None:
            lines.append(f"{_axis_label(i, layer.rank)}impossible: {a['mirror_reason']}")
    return lines


def _conv_transpose_text(layer: _Layer, result: dict[str, Any]) -> list[str]:
    axes = result["axes"]
    lines = _header("convtranspose", layer)
    rows = [*_common_rows(axes, _pads_label(layer)), ("output_padding", _column(axes, "output_padding"))]
    if layer.output_shape is not None:
        rows.append(("output_shape", _column(axes, "output_shape")))
    rows += [
        ("output", _column(axes, "output")),
        ("inverts a Conv from inputs", _column(axes, "conv_preimage", _span_text)),
    ]
    lines += _axis_rows(layer, rows)
    lines.append("")
    lines.append("o' = s(n-1) + d(k-1) + 1 - p_begin - p_end + output_padding")
    for i, a in enumerate(axes):
        eff = arith.effective_kernel(a["kernel"], a["dilation"])
        label = _axis_label(i, layer.rank)
        lines.append(
            f"{label}{a['stride']}*({a['input']}-1) + {eff} - {a['pads'][0]} - {a['pads'][1]} "
            f"+ {a['output_padding']} = {a['output']}"
        )
    lines.append("")
    lines.append("as a direct convolution (lecture notes: zero insertion + padding, then stride 1):")
    direct = [a["as_conv"] for a in axes]
    lines += _axis_rows(
        layer,
        [
            ("zeros inserted between inputs", _column(direct, "zeros_between")),
            ("zero-inserted length", _column(direct, "zero_inserted_size")),
            ("edge padding begin", _column(direct, "pad_begin")),
            ("edge padding end", _column(direct, "pad_end")),
            ("total padding T'", _column(direct, "total_padding")),
            ("padded length", _column(direct, "padded_size")),
            ("stride-1 conv, kernel", _column(direct, "kernel")),
            ("stride-1 conv, dilation", _column(direct, "dilation")),
            ("stride-1 conv, output", _column(direct, "output")),
        ],
    )
    lines.append("zeros between = s-1; edge padding = d(k-1) - p, plus output_padding at the end")
    lines.append("  (negative: crop); T' = (n-1)(s-1) + begin + end, which for symmetric p and no")
    lines.append("  output_padding is the notes' T' = (i'-1)(s-1) + 2(k-p-1). The stride-1 conv uses the")
    lines.append("  kernel flipped in space, with input and output channels swapped.")
    lines.append("inverts a Conv from inputs: the input sizes a Conv with the same kernel, stride, pads and")
    lines.append("  dilation maps to this layer's input; output_padding picks among them.")
    return lines


def _pool_text(layer: _Layer, result: dict[str, Any]) -> list[str]:
    axes = result["axes"]
    lines = _header("pool", layer)
    lines[0] = f"{'MaxPool' if result['kind'] == 'max' else 'AveragePool'}{lines[0][4:]}"
    lines[0] += ", ceil_mode" if result["ceil_mode"] else ", floor mode"
    rows = [*_common_rows(axes, _pads_label(layer)), ("output", _column(axes, "output"))]
    if result["ceil_mode"]:
        rows.append(("output in floor mode", _column(axes, "output_floor")))
    elif any(a["output_ceil"] != a["output_floor"] for a in axes):
        rows.append(("output with --ceil-mode", _column(axes, "output_ceil")))
    if any(a["output_ceil"] != a["output_ceil_onnx_legacy"] for a in axes):
        rows.append(("ceil_mode, ONNX inference < opset 22", _column(axes, "output_ceil_onnx_legacy")))
    rows.append(("floor remainder", _column(axes, "floor_remainder")))
    if any(a["same_output_inputs"] is not None for a in axes):
        rows.append(("same output for inputs", _column(axes, "same_output_inputs", _span_text)))
    lines += _axis_rows(layer, rows)
    lines.append("")
    lines.append("floor mode: o = floor((n + p_begin + p_end - d(k-1) - 1) / s) + 1; ceil_mode rounds up,")
    lines.append("  then drops a last window that would start in the end padding (PyTorch, onnxruntime)")
    return lines


def _notes_text(result: dict[str, Any]) -> list[str]:
    return [f"note: {note}" for note in result["notes"]]


def _confirm_text(result: dict[str, Any]) -> list[str]:
    confirm = result["confirm"]
    if confirm is None:
        return []
    got = confirm["kernel_output"]
    verdict = "agrees" if confirm["agrees"] else "DISAGREES"
    shown = got if isinstance(got, str) else str(got)
    return [f"confirm: computed {result['output']}, NumPy kernel produced {shown}: {verdict}"]


# ------------------------------------------------------------------------------------------------- target


def _search(layer: _Layer, axis: int) -> solve.Search:
    """The default box, narrowed to a single value wherever the user fixed an option."""
    return solve.Search(
        kernels=[layer.kernels[axis]] if layer.kernels is not None else solve.DEFAULT_KERNELS,
        strides=[layer.strides[axis]] if layer.stride_given else solve.DEFAULT_STRIDES,
        pads=[layer.pads[axis]] if layer.pads is not None else solve.DEFAULT_PADS,
        dilations=[layer.dilations[axis]],
        output_paddings=[layer.output_padding[axis]] if layer.output_padding is not None else None,
        auto_pad=layer.auto_pad,
        prune_wide_pads=layer.pads is None,
    )


def _search_json(search: solve.Search) -> dict[str, Any]:
    return {
        "kernel": list(search.kernels),
        "stride": list(search.strides),
        "pads": [list(p) for p in search.pads] if search.auto_pad is AutoPad.NOTSET else None,
        "dilation": list(search.dilations),
        "output_padding": None if search.output_paddings is None else list(search.output_paddings),
    }


def _setting_attrs(op: str, setting: solve.Setting, auto_pad: AutoPad) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "kernel_shape": [setting.kernel],
        "strides": [setting.stride],
        "dilations": [setting.dilation],
    }
    if auto_pad is AutoPad.NOTSET:
        attrs["pads"] = list(setting.pads)
    else:
        attrs["auto_pad"] = auto_pad.value
    if op == "convtranspose":
        attrs["output_padding"] = [setting.output_padding]
    return attrs


def _run_target(op: str, layer: _Layer, args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise SpecError(f"--limit: {args.limit} is out of range; legal: integers >= 0 (0: all)")
    finder = solve.conv_settings if op == "conv" else solve.conv_transpose_settings
    axes: list[dict[str, Any]] = []
    searches = []
    disagreements: list[str] = []
    for axis in range(layer.rank):
        n, target = layer.inputs[axis], layer.targets[axis]  # type: ignore[index]
        search = _search(layer, axis)
        searches.append(search)
        found = finder(n, target, search)
        shown = found[: args.limit] if args.limit > 0 else found
        settings = []
        for setting in shown:
            confirmed = None
            if args.confirm:
                got = _confirm(op, "", [n], _setting_attrs(op, setting, layer.auto_pad))
                confirmed = got == (target,)
                if not confirmed:
                    disagreements.append(_disagreement([target], got))
            settings.append(
                {
                    "kernel": setting.kernel,
                    "stride": setting.stride,
                    "dilation": setting.dilation,
                    "pads": list(setting.pads),
                    "output_padding": setting.output_padding,
                    "output": setting.output,
                    "floor_remainder": setting.floor_remainder,
                    "pattern": setting.pattern,
                    "notes": list(setting.notes),
                    "confirmed": confirmed,
                }
            )
        axes.append({"input": n, "target": target, "count": len(found), "settings": settings})

    result = {
        "op": op,
        "mode": "target",
        "auto_pad": layer.auto_pad.value,
        "search": _search_json(searches[0]),
        "axes": axes,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(_target_text(op, layer, result, searches[0], confirm=args.confirm)))
    for line in disagreements:
        print(line, file=sys.stderr)
    return 1 if disagreements else 0


def _range_text(values: Sequence[int]) -> str:
    values = list(values)
    contiguous = values == list(range(values[0], values[-1] + 1))
    if len(values) > 2 and contiguous:
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values))


def _target_text(
    op: str, layer: _Layer, result: dict[str, Any], search: solve.Search, *, confirm: bool
) -> list[str]:
    name = "Conv" if op == "conv" else "ConvTranspose"
    if search.auto_pad is AutoPad.NOTSET:
        pads = (
            "pads " + _range_text([p[0] for p in search.pads])
            if all(p[0] == p[1] for p in search.pads)
            else "pads " + ", ".join(f"{b}:{e}" for b, e in search.pads)
        )
        if search.prune_wide_pads:
            pads += " (at most d(k-1))"
    else:
        pads = f"pads from auto_pad {search.auto_pad.value}"
    searched = (
        f"searched kernel {_range_text(search.kernels)}, stride {_range_text(search.strides)}, {pads}, "
        f"dilation {_range_text(search.dilations)}"
    )
    if op == "convtranspose":
        searched += (
            ", output_padding < max(stride, dilation)"
            if search.output_paddings is None
            else f", output_padding {_range_text(search.output_paddings)}"
        )
    lines: list[str] = []
    problems = [(a["input"], a["target"]) for a in result["axes"]]
    groups = (
        [(list(range(layer.rank)), result["axes"][0])]
        if len(set(problems)) == 1
        else [([i], a) for i, a in enumerate(result["axes"])]
    )
    for indices, axis in groups:
        scope = "" if layer.rank == 1 else ("all axes: " if len(indices) > 1 else f"axis {indices[0]}: ")
        lines.append(f"{scope}{name} settings that take {axis['input']} to {axis['target']}")
        if not axis["settings"]:
            lines.append(f"  none found ({searched})")
            lines.append("")
            continue
        head = ["#", "kernel", "stride"]
        if any(s["dilation"] != 1 for s in axis["settings"]):
            head.append("dilation")
        head.append("pads")
        head.append("output_padding" if op == "convtranspose" else "floor remainder")
        if confirm:
            head.append("kernel run")
        head.append("pattern / notes")
        rows = [head]
        for number, s in enumerate(axis["settings"], 1):
            row = [str(number), str(s["kernel"]), str(s["stride"])]
            if "dilation" in head:
                row.append(str(s["dilation"]))
            b, e = s["pads"]
            row.append(str(b) if b == e else f"{b}:{e}")
            row.append(str(s["output_padding"] if op == "convtranspose" else s["floor_remainder"]))
            if confirm:
                row.append("ok" if s["confirmed"] else "MISMATCH")
            row.append("; ".join([x for x in [s["pattern"], *s["notes"]] if x]))
            rows.append(row)
        lines += _table(rows)
        more = f", showing the first {len(axis['settings'])}" if axis["count"] > len(axis["settings"]) else ""
        lines.append(f"{axis['count']} settings{more}; {searched}")
        lines.append("")
    return lines[:-1]


# --------------------------------------------------------------------------------------------------- run


def _compute(op: str, args: argparse.Namespace) -> int:
    layer = _layer(args)
    if layer.targets is not None:
        return _run_target(op, layer, args)
    ceil_mode = bool(getattr(args, "ceil_mode", False))
    notes: list[str] = []
    if op == "conv":
        axes = [_conv_axis(layer, i, notes) for i in range(layer.rank)]
    elif op == "convtranspose":
        axes = [_conv_transpose_axis(layer, i, notes) for i in range(layer.rank)]
    else:
        axes = [_pool_axis(layer, i, notes, ceil_mode=ceil_mode) for i in range(layer.rank)]
    notes = list(dict.fromkeys(notes))  # one note per cause, however many axes show it
    attrs = _onnx_attributes(op, layer, axes, ceil_mode)
    result: dict[str, Any] = {
        "op": op,
        "mode": "compute",
        "auto_pad": layer.auto_pad.value,
        "output": [a["output"] for a in axes],
        "axes": axes,
        "onnx_attributes": attrs,
        "notes": notes,
        "confirm": None,
    }
    if op == "pool":
        result["kind"] = args.kind
        result["ceil_mode"] = ceil_mode
    disagreement = ""
    if args.confirm:
        got = _confirm(op, getattr(args, "kind", ""), layer.inputs, attrs)
        agrees = got == tuple(result["output"])
        result["confirm"] = {"kernel_output": got if isinstance(got, str) else list(got), "agrees": agrees}
        if not agrees:
            disagreement = _disagreement(result["output"], got)

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        text = {"conv": _conv_text, "convtranspose": _conv_transpose_text, "pool": _pool_text}[op]
        lines = text(layer, result)
        lines.append("")
        lines.append("ONNX attributes: " + ", ".join(f"{k}={v}" for k, v in attrs.items()))
        lines += _notes_text(result) + _confirm_text(result)
        print("\n".join(lines))
    if disagreement:
        print(disagreement, file=sys.stderr)
        return 1
    return 0


def _run_conv(args: argparse.Namespace) -> int:
    return _compute("conv", args)


def _run_conv_transpose(args: argparse.Namespace) -> int:
    return _compute("convtranspose", args)


def _run_pool(args: argparse.Namespace) -> int:
    return _compute("pool", args)


# ---------------------------------------------------------------------------------------------- register


def _add_common(parser: argparse.ArgumentParser, *, kernel_required: bool = True) -> None:
    kernel_help = "kernel size per axis" + ("" if kernel_required else " (optional with --target)")
    parser.add_argument(
        "-i", "--input", required=True, metavar="SIZES", help="input spatial size(s), e.g. 65 or 65,64"
    )
    parser.add_argument("-k", "--kernel", metavar="SIZES", help=kernel_help)
    parser.add_argument("-s", "--stride", metavar="SIZES", help="stride per axis (default 1)")
    parser.add_argument(
        "-p", "--pads", metavar="PADS", help="padding: P, B:E, one item per axis, or ONNX order (below)"
    )
    parser.add_argument("-d", "--dilation", metavar="SIZES", help="dilation per axis (default 1)")
    parser.add_argument(
        "--auto-pad",
        type=str.upper,
        default="NOTSET",
        choices=[mode.value for mode in AutoPad],
        help="ONNX auto_pad; SAME_* and VALID compute the pads (default NOTSET: use --pads)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (keys documented in shapecheck/commands/calc.py)",
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="also run the NumPy kernel on a random input and compare shapes (a mismatch exits 1)",
    )


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        metavar="SIZES",
        help="list the settings that reach this output size instead (given -k/-s/-p/-d constrain the search)",
    )
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="list at most N settings (0: all)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``calc`` with its three operators to the ``shapecheck`` parser."""
    formatter = argparse.RawDescriptionHelpFormatter
    calc = subparsers.add_parser(
        "calc",
        help="convolution / transposed convolution / pooling size calculator",
        description="Output sizes of one Conv, ConvTranspose or pooling layer, and why; or the settings "
        "that reach a target size.",
        epilog=_LISTS_HELP,
        formatter_class=formatter,
    )
    ops = calc.add_subparsers(dest="calc_op", metavar="OP", parser_class=type(calc))

    def usage(args: argparse.Namespace) -> int:
        calc.print_help(sys.stderr)
        return 2

    calc.set_defaults(run=usage)

    conv = ops.add_parser(
        "conv",
        help="Conv output size, floor remainder, inputs with the same output",
        description="Output size of an ONNX Conv (PyTorch Conv1d/2d/3d) per spatial axis, the floor "
        "remainder, and the other input sizes that give the same output. With --target: the (kernel, "
        "stride, pads) settings that reach it, most common first.",
        epilog=_LISTS_HELP + "\nexamples:\n  shapecheck calc conv -i 65 -k 3 -s 2 -p 1\n"
        "  shapecheck calc conv -i 64 --target 32\n",
        formatter_class=formatter,
    )
    _add_common(conv, kernel_required=False)
    _add_target(conv)
    conv.set_defaults(run=_run_conv)

    transpose = ops.add_parser(
        "convtranspose",
        aliases=["convt"],
        help="ConvTranspose output size and its derivation as a direct conv",
        description="Output size of an ONNX ConvTranspose (PyTorch ConvTranspose1d/2d/3d) per spatial "
        "axis, with the lecture notes' derivation: zeros inserted, edge padding, total padding T', and "
        "the equivalent stride-1 direct conv. With --target: the (kernel, stride, pads, output_padding) "
        "settings that reach it, most common first.",
        epilog=_LISTS_HELP
        + "\nexamples:\n  shapecheck calc convtranspose -i 33 -k 3 -s 2 -p 1 --output-padding 1\n"
        "  shapecheck calc convtranspose -i 32 --target 64\n",
        formatter_class=formatter,
    )
    _add_common(transpose, kernel_required=False)
    transpose.add_argument(
        "--output-padding", metavar="SIZES", help="extra size at the end, < max(stride, dilation) (default 0)"
    )
    transpose.add_argument(
        "--output-shape", metavar="SIZES", help="ONNX output_shape: the pads are computed to reach it"
    )
    _add_target(transpose)
    transpose.set_defaults(run=_run_conv_transpose)

    pool = ops.add_parser(
        "pool",
        help="MaxPool / AveragePool output size, floor and ceil mode",
        description="Output size of an ONNX MaxPool / AveragePool (PyTorch MaxPool/AvgPool) per spatial "
        "axis, in floor or ceil mode, with the size ONNX shape inference reports where it differs.",
        epilog=_LISTS_HELP + "\nexample:\n  shapecheck calc pool -i 5 -k 2 -s 2 -p 1 --ceil-mode\n",
        formatter_class=formatter,
    )
    _add_common(pool)
    pool.add_argument(
        "--kind", choices=["max", "avg"], default="max", help="max or average pooling (default max)"
    )
    pool.add_argument("--ceil-mode", action="store_true", help="round the output size up (ONNX ceil_mode=1)")
    pool.set_defaults(run=_run_pool)
