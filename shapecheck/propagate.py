"""The propagation engine: walk the graph in topological order and compute every tensor's shape.

The driver knows no op by name: each node's rule comes from :func:`shapecheck.ops.lookup`. A problem met
on the way is recorded as a :class:`~shapecheck.facts.Fact` and the walk goes on. A node whose shape
cannot be computed (unsupported op, unresolved value) yields an unknown shape; the nodes downstream that
could not be checked because of it are counted and reported once, at their cause.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shapecheck.errors import SpecError
from shapecheck.facts import Fact, FactKind
from shapecheck.graph import ModelGraph, Node
from shapecheck.ops import lookup
from shapecheck.ops.base import UNKNOWN, Tensor
from shapecheck.symbolic import Dim, evaluate

__all__ = ["Propagation", "propagate"]

#: Dims given on the command line are bounded: a size this large is a typo, not a model.
MAX_DIM = 1 << 24


@dataclass
class Propagation:
    """Every tensor's shape, the facts met, and per-node resolved attributes (for ``inspect``)."""

    graph: ModelGraph
    bindings: dict[str, int]
    tensors: dict[str, Tensor]
    facts: list[Fact] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def shape(self, tensor: str) -> tuple[Dim, ...] | None:
        """The shape of ``tensor``, ``None`` when unknown."""
        return self.tensors.get(tensor, UNKNOWN).shape

    def facts_of(self, kind: FactKind) -> list[Fact]:
        return [f for f in self.facts if f.kind is kind]


class _Context:
    """The :class:`~shapecheck.ops.base.Context` handed to rules, bound to one node at a time."""

    def __init__(self, opset: int, facts: list[Fact], details: dict[str, dict[str, Any]]) -> None:
        self.opset = opset
        self.node: Node | None = None
        self._facts = facts
        self._details = details

    def fact(self, kind: FactKind, message: str, **data: Any) -> None:
        assert self.node is not None  # set by the driver before every rule call
        self._facts.append(Fact(kind, self.node.name, message, data))

    def detail(self, **values: Any) -> None:
        assert self.node is not None
        self._details.setdefault(self.node.name, {}).update(values)


def _input_tensors(
    graph: ModelGraph, bindings: Mapping[str, int], overrides: Mapping[str, tuple[int, ...]]
) -> dict[str, Tensor]:
    unknown = set(overrides) - set(graph.inputs)
    if unknown:
        names = ", ".join(sorted(graph.inputs)) or "none"
        raise SpecError(f"--input-shape names {sorted(unknown)[0]!r}, not an input of the model (inputs: {names})",
                        path=graph.path)
    tensors: dict[str, Tensor] = {}
    for name, spec in graph.inputs.items():
        if name in overrides:
            shape: tuple[Dim, ...] | None = tuple(overrides[name])
        elif spec.shape is None:
            shape = None
        else:
            shape = tuple(evaluate(d, bindings) for d in spec.shape)
        tensors[name] = Tensor(shape, dtype=spec.dtype)
    for name, spec in graph.constants.items():
        tensors[name] = Tensor(spec.shape, spec.value, spec.dtype)
    return tensors


def _check_bindings(graph: ModelGraph, dims: Mapping[str, int]) -> None:
    known = set(graph.symbols())
    for name, value in dims.items():
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise SpecError(f"--dim {name}: the model has no symbolic dim {name!r} (it has: {listed})",
                            path=graph.path)
        if not isinstance(value, int) or not 1 <= value <= MAX_DIM:
            raise SpecError(f"--dim {name}={value}: a size must be an integer from 1 to {MAX_DIM}",
                            path=graph.path)


def propagate(
    graph: ModelGraph,
    *,
    dims: Mapping[str, int] | None = None,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Propagation:
    """Compute every tensor's shape. ``dims`` binds symbols; ``input_shapes`` replaces input shapes.

    Unbound symbols stay symbolic: sizes become expressions such as ``floor((H + 1)/2)``.
    """
    bindings = dict(dims or {})
    _check_bindings(graph, bindings)
    tensors = _input_tensors(graph, bindings, input_shapes or {})
    result = Propagation(graph, bindings, tensors, input_shapes=dict(input_shapes or {}))
    ctx = _Context(graph.opset, result.facts, result.details)
    unknown_cause: dict[str, str] = {}  # tensor -> node whose failure made it unknown
    blocked: dict[str, list[str]] = {}  # cause node -> nodes downstream that it left unchecked

    # Propagation allocates many small, acyclic objects: the cyclic collector only costs time here
    # (about 45% of a 100k-node walk), so it is paused and restored afterwards.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _walk(graph, result, ctx, tensors, bindings, unknown_cause, blocked)
    finally:
        if collecting:
            gc.enable()
    for cause, nodes in blocked.items():
        affected = list(dict.fromkeys(nodes))
        result.facts.append(
            Fact(
                FactKind.NOT_CHECKED,
                cause,
                f"{len(affected)} node(s) after {cause!r} could not be checked because its output shape is "
                "unknown",
                {"nodes": affected},
            )
        )
    return result


def _walk(
    graph: ModelGraph,
    result: Propagation,
    ctx: _Context,
    tensors: dict[str, Tensor],
    bindings: dict[str, int],
    unknown_cause: dict[str, str],
    blocked: dict[str, list[str]],
) -> None:
    """The topological walk itself: each node's rule (or a remembered result), then its outputs."""
    memo: dict[Hashable, tuple[list[Tensor], dict[str, Any] | None]] = {}
    for node in graph.topological_order():
        ctx.node = node
        inputs: list[Tensor | None] = [tensors.get(t, UNKNOWN) if t else None for t in node.inputs]
        causes = {unknown_cause[t] for t in node.inputs if t in unknown_cause} if unknown_cause else ()
        key: Hashable | None = _memo_key(node, inputs)
        try:
            remembered = memo.get(key)
        except TypeError:  # an attribute holding an array: not hashable, never remembered
            key, remembered = None, None
        if remembered is not None:
            outputs, details = remembered
            if details is not None:
                result.details[node.name] = details
        else:
            facts_before = len(result.facts)
            outputs = _run_rule(node, inputs, ctx, graph)
            if key is not None and len(result.facts) == facts_before:
                memo[key] = (outputs, result.details.get(node.name))
        for tensor_name, tensor in zip(node.outputs, outputs):
            if not tensor_name:
                continue
            if tensor.shape is None:
                fallback = graph.fallback_shape(tensor_name)
                if fallback is not None:
                    tensor = Tensor(tuple(evaluate(d, bindings) for d in fallback), dtype=tensor.dtype)
            tensors[tensor_name] = tensor
            if tensor.shape is None:
                cause = min(causes) if causes else node.name
                unknown_cause[tensor_name] = cause
                if cause != node.name:
                    blocked.setdefault(cause, []).append(node.name)


def _memo_key(node: Node, inputs: list[Tensor | None]) -> Hashable:
    """Identical op, attributes and inputs give identical outputs: real networks repeat their blocks,
    so a rule runs once per distinct configuration. A rule call that records a fact (facts name the
    node) is never remembered. The key may be unhashable (an attribute holding an array): the caller
    finds out when it looks the key up, which hashes it anyway."""
    shapes: list[Hashable] = []
    for tensor in inputs:
        if tensor is None:
            shapes.append(None)
        elif tensor.value is not None:
            # reshape, not .flat: NumPy's flat iterator stops at 32 dims, a hostile constant has 64
            shapes.append((tensor.shape, tuple(tensor.value.reshape(-1))))
        else:
            shapes.append(tensor.shape)
    attrs = node.attrs
    return (node.op, node.domain, len(node.outputs), tuple(attrs.items()) if attrs else (), tuple(shapes))


def _run_rule(node: Node, inputs: list[Tensor | None], ctx: _Context, graph: ModelGraph) -> list[Tensor]:
    rule = lookup(node.op) if not node.domain or node.domain in ("ai.onnx", "") else None
    if rule is None:
        op_name = f"{node.domain}::{node.op}" if node.domain else node.op
        ctx.fact(FactKind.UNSUPPORTED_OP, f"shapecheck has no shape rule for {op_name}", op=op_name)
        return [UNKNOWN] * len(node.outputs)
    try:
        outputs = list(rule(node, inputs, ctx))
    except Exception as error:  # a bug in a rule must not hide the rest of the model
        ctx.fact(
            FactKind.UNRESOLVED,
            f"internal error in shapecheck's {node.op} rule: {type(error).__name__}: {error}",
            internal=True,
        )
        return [UNKNOWN] * len(node.outputs)
    if len(outputs) < len(node.outputs):
        outputs += [UNKNOWN] * (len(node.outputs) - len(outputs))
    return outputs
