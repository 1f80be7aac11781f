"""Verifying a fix twice: re-propagation of the patched graph, then execution with the NumPy kernel.

Re-propagation shows the finding disappears and nothing new appears. Execution runs the affected branch
— from the common ancestor through the down and up layers to the join — with :mod:`shapecheck.kernel` on
a probe tensor (one channel per group, the real spatial sizes), so the sizes come from the operators'
definitions rather than from :mod:`shapecheck.arith`. Where the kernel's sizes differ from the engine's,
that is a bug in shapecheck and becomes its own finding (SC901), never hidden.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapecheck.facts import FactKind
from shapecheck.graph import ModelGraph, Node
from shapecheck.ops.elementwise import UNARY
from shapecheck.propagate import Propagation, propagate

__all__ = ["MEMORY_BUDGET", "Execution", "Patch", "ProbeCost", "apply_patches", "execute_branch", "probe_cost",
           "repropagate"]

#: Facts that mean a runtime would fail; a verified fix must not add any.
FAILING_KINDS = (FactKind.JOIN_MISMATCH, FactKind.NON_POSITIVE, FactKind.CHANNEL_MISMATCH,
                 FactKind.BAD_ATTRIBUTE, FactKind.RANK_MISMATCH, FactKind.EXPECT_MISMATCH)

#: Failing facts after which a node cannot be run at all (a failing join still runs in the branch, on its
#: first input, and an ``expect`` mismatch is only a declaration).
_UNRUNNABLE = frozenset({FactKind.NON_POSITIVE, FactKind.CHANNEL_MISMATCH, FactKind.BAD_ATTRIBUTE,
                         FactKind.RANK_MISMATCH})

_SHAPE_PRESERVING = frozenset(UNARY) | {
    "BatchNormalization", "InstanceNormalization", "GroupNormalization", "LayerNormalization",
}
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean"})


@dataclass(frozen=True)
class Patch:
    """New attribute values for one node (ONNX attribute names)."""

    node: str
    attrs: Mapping[str, Any]


def apply_patches(graph: ModelGraph, patches: Sequence[Patch]) -> ModelGraph:
    """A copy of ``graph`` with the patched nodes' attributes replaced; nothing else changes."""
    by_node = {p.node: p for p in patches}
    nodes = []
    for node in graph.nodes.values():
        patch = by_node.get(node.name)
        if patch is not None:
            node = Node(node.name, node.op, node.inputs, node.outputs, {**node.attrs, **patch.attrs},
                        node.domain, node.location, node.index)
        nodes.append(node)
    return ModelGraph(
        path=graph.path, format=graph.format, nodes=nodes, inputs=graph.inputs, outputs=graph.outputs,
        constants=graph.constants, value_info=graph.value_info, dim_defaults=graph.dim_defaults,
        opset=graph.opset, notes=graph.notes,
    )


def insert_crop(graph: ModelGraph, join: str, tensor: str, sizes: Sequence[int]) -> tuple[ModelGraph, str]:
    """A copy of ``graph`` where ``tensor`` passes through a Slice keeping its first ``sizes`` positions on
    the spatial axes before it enters ``join`` — the crop-and-copy of the original U-Net. Returns the
    graph and the crop node's name."""
    import numpy as np

    from shapecheck.graph import TensorSpec

    crop = f"{join}/crop({tensor})"
    cropped = f"{crop}:output"
    axes = list(range(2, 2 + len(sizes)))
    constants = dict(graph.constants)
    names = []
    for part, values in (("starts", [0] * len(sizes)), ("ends", list(sizes)), ("axes", axes)):
        name = f"{crop}:{part}"
        constants[name] = TensorSpec((len(values),), np.array(values, dtype=object), 7)
        names.append(name)
    nodes: list[Node] = []
    for node in sorted(graph.nodes.values(), key=lambda n: n.index):
        if node.name == join:
            nodes.append(Node(crop, "Slice", (tensor, *names), (cropped,), {"crop": 1}, index=len(nodes)))
            inputs = tuple(cropped if t == tensor else t for t in node.inputs)
            node = Node(node.name, node.op, inputs, node.outputs, node.attrs, node.domain, node.location, node.index)
        nodes.append(Node(node.name, node.op, node.inputs, node.outputs, node.attrs, node.domain, node.location,
                          len(nodes)))
    patched = ModelGraph(
        path=graph.path, format=graph.format, nodes=nodes, inputs=graph.inputs, outputs=graph.outputs,
        constants=constants, value_info=graph.value_info, dim_defaults=graph.dim_defaults, opset=graph.opset,
        notes=graph.notes,
    )
    return patched, crop


def failing_facts(result: Propagation) -> set[tuple[str, str, Any]]:
    """(node, kind, axis) of every fact that means a runtime would fail."""
    return {(f.node, f.kind.value, f.data.get("axis")) for f in result.facts if f.kind in FAILING_KINDS}


def repropagate(before: Propagation, patches: Sequence[Patch], gone: Iterable[tuple[str, str, Any]]) -> (
    Propagation | None
):
    """Propagate the patched graph at the same dims; the result if every fact in ``gone`` disappeared
    and no failing fact appeared that was not there before, else ``None``."""
    patched = apply_patches(before.graph, patches)
    after = propagate(patched, dims=before.bindings, input_shapes=before.input_shapes)
    now = failing_facts(after)
    if now & set(gone) or not now <= failing_facts(before):
        return None
    return after


@dataclass
class Execution:
    """What running a branch with the kernel showed."""

    confirmed: bool
    reason: str = ""
    #: Why execution was skipped before it started: the memory or time budget (``""`` if it was not).
    skipped: str = ""
    sizes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    disagreements: list[tuple[str, tuple[Any, ...], tuple[int, ...]]] = field(default_factory=list)


class _BranchJoinMismatch(Exception):
    """A join inside the executed branch fails too (the engine reports it separately)."""


def _spatial(shape: Sequence[Any] | None) -> tuple[int, ...] | None:
    if shape is None or len(shape) < 3 or not all(isinstance(d, int) for d in shape[2:]):
        return None
    return tuple(int(d) for d in shape[2:])


def _full_shapes(node: Node, result: Propagation, produced: dict[str, tuple[int, ...]]) -> list[tuple[int, ...]] | None:
    """Every input's whole shape, the spatial sizes the branch produced in place of the engine's."""
    shapes = []
    for tensor in node.inputs:
        if not tensor:
            continue
        shape = result.shape(tensor)
        if shape is None or not all(isinstance(d, int) for d in shape):
            return None
        if tensor in produced:
            if len(shape) != len(produced[tensor]) + 2:
                return None
            shape = (*shape[:2], *produced[tensor])
        shapes.append(tuple(int(d) for d in shape))
    return shapes


def _run_node(node: Node, sizes: list[tuple[int, ...]], result: Propagation,
              produced: dict[str, tuple[int, ...]] | None = None) -> tuple[int, ...]:
    """Execute one node with the kernel on zero probes of the given spatial sizes; its output's sizes."""
    import numpy as np

    from shapecheck import kernel

    spatial = sizes[0]
    attrs = dict(node.attrs)
    if node.op in ("Conv", "ConvTranspose"):
        group = int(attrs.get("group", 1))
        weight = result.shape(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
        k = attrs.get("kernel_shape") or (tuple(weight[2:]) if weight else None)
        x = np.zeros((1, group, *spatial), np.float32)
        w = np.zeros((group, 1, *k), np.float32)
        options = {key: attrs[key] for key in ("strides", "pads", "dilations", "auto_pad") if key in attrs}
        if node.op == "Conv":
            out = kernel.conv(x, w, group=group, kernel_shape=k, **options)
        else:
            extra = {key: attrs[key] for key in ("output_padding", "output_shape") if key in attrs}
            out = kernel.conv_transpose(x, w, group=group, kernel_shape=k, **options, **extra)
        return tuple(out.shape[2:])
    if node.op in ("MaxPool", "AveragePool", "LpPool"):
        x = np.zeros((1, 1, *spatial), np.float32)
        options = {key: attrs[key] for key in ("strides", "pads", "auto_pad", "ceil_mode") if key in attrs}
        if node.op == "MaxPool":
            out = kernel.max_pool(x, kernel_shape=attrs["kernel_shape"], dilations=attrs.get("dilations"),
                                  **options)
        else:
            out = kernel.average_pool(x, kernel_shape=attrs["kernel_shape"], **options)
        return tuple(out.shape[2:])
    if node.op in _SHAPE_PRESERVING:
        return spatial
    if node.op == "Slice" and node.attr("crop") and len(node.inputs) >= 4:
        # A crop inserted by a fix: constant starts/ends on spatial axes, executed as NumPy slicing.
        starts, ends, axes = (result.tensors[name].value for name in node.inputs[1:4])
        window = [slice(None)] * len(spatial)
        for start, end, axis in zip(starts.flat, ends.flat, axes.flat, strict=True):
            window[int(axis) - 2] = slice(int(start), int(end))
        return tuple(np.zeros(spatial, np.uint8)[tuple(window)].shape)
    if node.op in _BINARY:  # NumPy broadcasting, as ONNX's multidirectional broadcasting
        shapes = _full_shapes(node, result, produced or {})
        try:
            if shapes is None:  # a shape not known in full: the data inputs' spatial sizes
                return tuple(np.broadcast_shapes(*sizes))
            # Whole shapes, constants included: a constant of another rank aligns from the right
            broadcast = np.broadcast_shapes(*shapes)
        except ValueError:
            raise _BranchJoinMismatch(f"{node.name!r} inside the branch joins spatial sizes {sizes}") from None
        if len(broadcast) != len(spatial) + 2:
            raise NotImplementedError(f"{node.op} changes the rank")
        return tuple(broadcast[2:])
    if node.op == "Concat":
        axis = attrs.get("axis", 1)
        axis = axis + len(spatial) + 2 if isinstance(axis, int) and axis < 0 else axis
        along = axis - 2 if isinstance(axis, int) and 2 <= axis < len(spatial) + 2 else None
        rest = [tuple(v for i, v in enumerate(size) if i != along) for size in sizes]
        if any(len(size) != len(spatial) for size in sizes) or any(r != rest[0] for r in rest[1:]):
            raise _BranchJoinMismatch(f"{node.name!r} inside the branch joins spatial sizes {sizes}")
        if along is None:
            return spatial
        return tuple(sum(size[along] for size in sizes) if i == along else v for i, v in enumerate(spatial))
    raise NotImplementedError(node.op)


#: Default memory budget of the confirming execution (``--memory-budget``), in bytes.
MEMORY_BUDGET = 256 << 20
#: Python-level steps (kernel taps, transposed-conv output phases) one execution may take; each is a
#: NumPy call, so a 10**6-tap kernel would run for seconds even on a tiny probe.
MAX_PROBE_STEPS = 1 << 16
#: Multiply-adds one execution may take (about a second of NumPy time on one core).
MAX_PROBE_WORK = 1 << 31
#: Bytes per position of the largest extent that each op's kernel holds at once: input, padded input and
#: output (pools); plus the depthwise grid and its temporary (Conv); plus the int64 divisor and its float
#: copy (average pooling); output, its per-phase buffer, a polyphase window and its correlation (ConvTranspose).
_BYTES_PER_ELEMENT = {"MaxPool": 16, "AveragePool": 32, "LpPool": 32, "Conv": 24, "ConvTranspose": 24}
#: Ops the kernel executes on a probe (the others are shape-preserving or joins: no allocation).
_EXECUTED = frozenset(_BYTES_PER_ELEMENT)


@dataclass(frozen=True)
class ProbeCost:
    """An upper bound of what executing one node on its probe takes: peak bytes, Python-level steps, and
    multiply-adds. Worked out from the attributes alone, before anything is allocated."""

    bytes: int
    steps: int
    work: int


class _Unsized(Exception):
    """An attribute the estimate cannot read (wrong length or kind): the node is not executed."""


def _axis_ints(attrs: Mapping[str, Any], key: str, count: int, default: int) -> tuple[int, ...]:
    value = attrs.get(key)
    if value is None:
        return (default,) * count
    if not isinstance(value, (tuple, list)) or len(value) != count:
        raise _Unsized(key)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _Unsized(key)
    return tuple(abs(v) for v in value)


def probe_cost(node: Node, spatial: Sequence[int], kernel_shape: Sequence[int] | None) -> ProbeCost:
    """What executing ``node`` with :mod:`shapecheck.kernel` on a probe of ``spatial`` sizes (one channel
    per group) would take, as an upper bound over the kernel's code paths.

    Per spatial axis the largest array extent is the padded input (Conv, pools: input + pads + the ceil
    mode's void cells; SAME padding adds at most the window span plus a stride) or the transposed conv's
    canvas ``(n-1)s + d(k-1) + 1 + output_padding`` (or its ``output_shape``) plus its zero-insertion edges.
    The kernel holds a few float32 arrays of that size at once (:data:`_BYTES_PER_ELEMENT`), plus the
    weight and the scatter method's contributions (the kernel caps them at 2**24 values).
    """
    if node.op == "Slice" and node.attrs.get("crop"):  # a fix's crop: NumPy slicing of a uint8 probe
        return ProbeCost(math.prod(max(n, 1) for n in spatial) + (1 << 16), 1, 0)
    if node.op not in _EXECUTED:
        return ProbeCost(0, 0, 0)
    attrs, rank = node.attrs, len(spatial)
    if kernel_shape is None or len(kernel_shape) != rank or not all(isinstance(k, int) for k in kernel_shape):
        raise _Unsized("kernel_shape")
    group = attrs.get("group", 1)
    if not isinstance(group, int) or isinstance(group, bool):
        raise _Unsized("group")
    group = max(1, abs(group))
    kernel = tuple(max(1, abs(k)) for k in kernel_shape)
    strides = tuple(max(1, v) for v in _axis_ints(attrs, "strides", rank, 1))
    dilations = tuple(max(1, v) for v in _axis_ints(attrs, "dilations", rank, 1))
    pads = _axis_ints(attrs, "pads", 2 * rank, 0)
    extra = _axis_ints(attrs, "output_padding", rank, 0)
    auto = str(getattr(attrs.get("auto_pad"), "value", attrs.get("auto_pad")) or "NOTSET").upper()
    targets: tuple[int, ...] = (0,) * rank  # output_shape may reach up to a stride past the canvas
    if attrs.get("output_shape") is not None:
        shape = attrs["output_shape"]
        count = len(shape) if isinstance(shape, (tuple, list)) else -1
        if count not in (rank, rank + 2):
            raise _Unsized("output_shape")
        targets = tuple(t + s for t, s in zip(_axis_ints(attrs, "output_shape", count, 0)[-rank:], strides))
    ceil = bool(attrs.get("ceil_mode", 0))
    extents = []
    for axis, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilations)):
        span = d * (k - 1) + 1
        if node.op == "ConvTranspose":
            canvas = (max(n, 1) - 1) * s + span + extra[axis]
            extents.append(max(canvas, targets[axis]) + 2 * span)
        else:
            padding = pads[axis] + pads[rank + axis] if auto in ("NOTSET", "") else span + s
            extents.append(max(n, 1) + padding + (s - 1 if ceil else 0))
    elements = group * math.prod(extents)
    taps = math.prod(kernel)
    scatter = min(group * taps * math.prod(max(n, 1) for n in spatial), 1 << 24) if node.op == "ConvTranspose" else 0
    steps = taps + (math.prod(strides) if node.op == "ConvTranspose" else 0)
    # Plus NumPy/Python bookkeeping: array headers, tap tuples and views, a few hundred bytes per step.
    # Pools also count, per axis, the window taps that land on input (int64 arrays along one axis).
    size = (_BYTES_PER_ELEMENT[node.op] * elements + 32 * sum(extents) + 4 * (group * taps + scatter)
            + (1 << 16) + 512 * steps)
    return ProbeCost(size, steps, taps * elements)


def _kernel_of(node: Node, result: Propagation) -> tuple[int, ...] | None:
    """The kernel's spatial shape: ``kernel_shape``, else the weight's spatial dims (Conv, ConvTranspose)."""
    declared = node.attrs.get("kernel_shape")
    if declared:
        return tuple(declared)
    if node.op in ("Conv", "ConvTranspose") and len(node.inputs) > 1 and node.inputs[1]:
        weight = result.shape(node.inputs[1])
        if weight is not None and all(isinstance(d, int) for d in weight[2:]):
            return tuple(int(d) for d in weight[2:])
    return None


def _over_budget(node: Node, spatial: tuple[int, ...], result: Propagation, memory_budget: int) -> str:
    """Why executing ``node`` is skipped (its estimated memory or time is past the budget), or ``""``."""
    try:
        cost = probe_cost(node, spatial, _kernel_of(node, result))
    except _Unsized as unsized:
        return f"the size of executing {node.name!r} cannot be estimated (its {unsized} attribute)"
    if cost.bytes > memory_budget:
        return (f"executing {node.name!r} needs about {_megabytes(cost.bytes)} MB, above the memory budget "
                f"of {_megabytes(memory_budget)} MB (--memory-budget)")
    if cost.steps > MAX_PROBE_STEPS or cost.work > MAX_PROBE_WORK:
        return f"executing {node.name!r} would take too long ({cost.steps} kernel steps, {cost.work} multiply-adds)"
    return ""


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.0f}" if size >= 1 << 20 else f"{size / (1 << 20):.2f}"


def execute_branch(
    result: Propagation, nodes: Sequence[Node], *, memory_budget: int = MEMORY_BUDGET
) -> Execution:
    """Run ``nodes`` (a branch, in topological order) with the kernel, starting from the engine's sizes
    of the tensors that enter the branch, and compare every output size with the engine's."""
    produced: dict[str, tuple[int, ...]] = {}
    execution = Execution(confirmed=True)
    failing: dict[str | None, set[FactKind]] = {}
    for fact in result.facts:
        if fact.kind in FAILING_KINDS:
            failing.setdefault(fact.node, set()).add(fact.kind)
    # Past a node the engine reports failing, its sizes are a best-effort continuation (which input a
    # failing join goes on with), not a claim about a model that runs: the kernel's are not compared with
    # them, or a model broken upstream would read as a bug in shapecheck (SC901).
    past_failure = False
    for node in nodes:
        kinds = failing.get(node.name, set())
        unrunnable = sorted(kind.value for kind in kinds & _UNRUNNABLE)
        if unrunnable:
            return Execution(False, f"{node.name!r} cannot run ({', '.join(unrunnable)}, reported on its own)",
                             disagreements=execution.disagreements)
        data = [t for t in node.inputs[:1] if t] if node.op in ("Conv", "ConvTranspose") else \
            [t for t in node.inputs if t and not result.graph.is_constant(t)]
        sizes = []
        for tensor in data:
            size = produced.get(tensor) or _spatial(result.shape(tensor))
            if size is None:
                return Execution(False, f"the size entering {node.name!r} is not known")
            sizes.append(size)
        if not sizes:
            return Execution(False, f"{node.name!r} has no data input to execute")
        if any(d < 1 for size in sizes for d in size):  # the engine reports the empty tensor itself
            return Execution(False, f"a tensor entering {node.name!r} is empty", disagreements=execution.disagreements)
        skipped = _over_budget(node, sizes[0], result, memory_budget)
        if skipped:
            return Execution(False, skipped, skipped=skipped, disagreements=execution.disagreements)
        try:
            out = _run_node(node, sizes, result, produced)
        except NotImplementedError:
            return Execution(False, f"the kernel does not execute {node.op} ({node.name!r})",
                             disagreements=execution.disagreements)
        except _BranchJoinMismatch:
            out = sizes[0]  # a failing join inside the branch: go on with its first input, as the engine does
        except Exception as error:  # the kernel rejected what the engine accepted: report, don't hide
            engine = _spatial(result.shape(node.outputs[0]))
            if engine is not None and min(engine, default=1) > 0 and not kinds:  # both say it fails: agree
                execution.disagreements.append((node.name, engine, ()))
            return Execution(False, f"the kernel failed on {node.name!r}: {error}",
                             disagreements=execution.disagreements)
        past_failure = past_failure or FactKind.JOIN_MISMATCH in kinds
        for tensor in node.outputs[:1]:
            produced[tensor] = out
            engine = _spatial(result.shape(tensor))
            if engine is not None and engine != out and not past_failure:
                execution.disagreements.append((node.name, engine, out))
    execution.sizes = produced
    if execution.disagreements:
        execution.confirmed = False
        execution.reason = "the kernel produced other sizes than the engine"
    return execution
