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

__all__ = ["Execution", "Patch", "apply_patches", "execute_branch", "repropagate"]

#: Facts that mean a runtime would fail; a verified fix must not add any.
FAILING_KINDS = (FactKind.JOIN_MISMATCH, FactKind.NON_POSITIVE, FactKind.CHANNEL_MISMATCH,
                 FactKind.BAD_ATTRIBUTE, FactKind.RANK_MISMATCH, FactKind.EXPECT_MISMATCH)

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
    sizes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    disagreements: list[tuple[str, tuple[Any, ...], tuple[int, ...]]] = field(default_factory=list)


class _BranchJoinMismatch(Exception):
    """A join inside the executed branch fails too (the engine reports it separately)."""


def _spatial(shape: Sequence[Any] | None) -> tuple[int, ...] | None:
    if shape is None or len(shape) < 3 or not all(isinstance(d, int) for d in shape[2:]):
        return None
    return tuple(int(d) for d in shape[2:])


def _run_node(node: Node, sizes: list[tuple[int, ...]], result: Propagation) -> tuple[int, ...]:
    """Execute one node with the kernel on zero probes of the given spatial sizes; its output's sizes."""
    import numpy as np

    from shapecheck import kernel

    spatial = sizes[0]
    attrs = dict(node.attrs)
    group = int(attrs.get("group", 1))
    if node.op in ("Conv", "ConvTranspose"):
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
    if node.op in _BINARY or node.op == "Concat":
        if any(s != spatial for s in sizes[1:]):
            raise _BranchJoinMismatch(f"{node.name!r} inside the branch joins spatial sizes {sizes}")
        return spatial
    raise NotImplementedError(node.op)


def _probe_bytes(node: Node, spatial: tuple[int, ...]) -> int:
    kernel_shape = node.attrs.get("kernel_shape") or ()
    group = int(node.attrs.get("group", 1))
    strides = node.attrs.get("strides") or (1,) * len(spatial)
    grown = [n * s for n, s in zip(spatial, strides)] if node.op == "ConvTranspose" else list(spatial)
    return 4 * group * math.prod(grown) * max(1, math.prod(kernel_shape)) * 2


def execute_branch(
    result: Propagation, nodes: Sequence[Node], *, memory_budget: int = 256 << 20
) -> Execution:
    """Run ``nodes`` (a branch, in topological order) with the kernel, starting from the engine's sizes
    of the tensors that enter the branch, and compare every output size with the engine's."""
    produced: dict[str, tuple[int, ...]] = {}
    execution = Execution(confirmed=True)
    for node in nodes:
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
        if _probe_bytes(node, sizes[0]) > memory_budget:
            return Execution(False, f"executing {node.name!r} would exceed the memory budget "
                                    f"of {memory_budget >> 20} MB")
        try:
            out = _run_node(node, sizes, result)
        except NotImplementedError:
            return Execution(False, f"the kernel does not execute {node.op} ({node.name!r})",
                             disagreements=execution.disagreements)
        except _BranchJoinMismatch:
            out = sizes[0]  # a failing join inside the branch: go on with its first input, as the engine does
        except Exception as error:  # the kernel rejected what the engine accepted: report, don't hide
            engine = _spatial(result.shape(node.outputs[0]))
            if engine is not None and min(engine, default=1) > 0:
                execution.disagreements.append((node.name, engine, ()))
            return Execution(False, f"the kernel failed on {node.name!r}: {error}",
                             disagreements=execution.disagreements)
        for tensor in node.outputs[:1]:
            produced[tensor] = out
            engine = _spatial(result.shape(tensor))
            if engine is not None and engine != out:
                execution.disagreements.append((node.name, engine, out))
    execution.sizes = produced
    if execution.disagreements:
        execution.confirmed = False
        execution.reason = "the kernel produced other sizes than the engine"
    return execution
