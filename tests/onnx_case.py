"""Multi-node ONNX test cases: build a model with :mod:`onnx.helper`, read it into a ``ModelGraph`` the way
the ONNX loader does (attributes as plain values, small constants with their values), propagate, and
compare every intermediate tensor — shape and, for shape tensors, value — with what onnxruntime computes.

The model is the oracle's input and the engine's input at once, so both see the same nodes and attributes.
Symbolic dims (``"H"``) are checked twice: bound to the run's size (concrete propagation) and left
symbolic, the resulting expression evaluated at that size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from ort_models import expose_every_tensor

from shapecheck.facts import Fact, FactKind
from shapecheck.graph import ModelGraph
from shapecheck.load.onnx import graph_from_model
from shapecheck.propagate import Propagation, propagate
from shapecheck.symbolic import Expr, evaluate

IR_VERSION = 10

#: Fact kinds a well-formed test model must not produce.
PROBLEMS = (
    FactKind.UNRESOLVED,
    FactKind.BAD_ATTRIBUTE,
    FactKind.RANK_MISMATCH,
    FactKind.JOIN_MISMATCH,
    FactKind.CHANNEL_MISMATCH,
    FactKind.NON_POSITIVE,
    FactKind.UNSUPPORTED_OP,
)


def node(op: str, inputs: Sequence[str], outputs: Sequence[str] | str, **attrs: Any) -> onnx.NodeProto:
    """``helper.make_node`` with a single output given as a string; attributes set to None are dropped,
    NumPy arrays become TENSOR attributes."""
    outs = [outputs] if isinstance(outputs, str) else list(outputs)
    given = {
        k: numpy_helper.from_array(v) if isinstance(v, np.ndarray) else v
        for k, v in attrs.items()
        if v is not None
    }
    return helper.make_node(op, list(inputs), outs, **given)


def build(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, Sequence[int | str]],
    initializers: Mapping[str, Any] | None = None,
    *,
    opset: int = 18,
    input_types: Mapping[str, int] | None = None,
) -> onnx.ModelProto:
    """A model whose outputs are the last node's outputs; ``inputs`` maps names to (symbolic) shapes."""
    types = dict(input_types or {})
    graph_inputs = [
        helper.make_tensor_value_info(name, types.get(name, onnx.TensorProto.FLOAT), list(shape))
        for name, shape in inputs.items()
    ]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    outputs = [helper.make_empty_tensor_value_info(o) for o in nodes[-1].output if o]
    graph = helper.make_graph(list(nodes), "case", graph_inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = IR_VERSION
    return model


def _dims(value_info: onnx.ValueInfoProto) -> tuple[int | str | None, ...]:
    return tuple(
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
        for d in value_info.type.tensor_type.shape.dim
    )


def to_graph(model: onnx.ModelProto) -> ModelGraph:
    """The graph as the project's ONNX loader reads it (Constant nodes become constants)."""
    return graph_from_model(model, "<test>")


def run_all(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every node output as onnxruntime computes it (intermediates exposed, no graph optimisation)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        expose_every_tensor(model).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds))))


def feeds_for(model: onnx.ModelProto, sizes: Mapping[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs with the declared shapes, symbolic dims set from ``sizes``."""
    rng = np.random.default_rng(seed)
    feeds = {}
    initialized = {i.name for i in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in initialized:
            continue
        shape = tuple(sizes[d] if isinstance(d, str) else d for d in _dims(vi))
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        feeds[vi.name] = (
            rng.standard_normal(shape) if dtype.kind == "f" else rng.integers(0, 5, shape)
        ).astype(dtype)
    return feeds


@dataclass
class Comparison:
    """What differs between shapecheck and onnxruntime, per tensor, for one propagation mode."""

    propagation: Propagation
    mismatches: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def facts(self, *kinds: FactKind) -> list[Fact]:
        return [f for f in self.propagation.facts if f.kind in (kinds or PROBLEMS)]


def _entry(item: Any, sizes: Mapping[str, int]) -> Any:
    return item.value(sizes) if isinstance(item, Expr) else item


def compare(
    model: onnx.ModelProto,
    sizes: Mapping[str, int] | None = None,
    *,
    symbolic: bool = False,
    seed: int = 0,
    actual: Mapping[str, np.ndarray] | None = None,
) -> Comparison:
    """Propagate ``model`` and compare every node output with onnxruntime at ``sizes``.

    ``symbolic=True`` leaves the symbols unbound and evaluates the resulting expressions at ``sizes``.
    """
    sizes = dict(sizes or {})
    graph = to_graph(model)
    result = propagate(graph, dims={} if symbolic else sizes)
    if actual is None:
        actual = run_all(model, feeds_for(model, sizes, seed))
    comparison = Comparison(result)
    for name, array in actual.items():
        tensor = result.tensors.get(name)
        if tensor is None or tensor.shape is None:
            comparison.unknown.append(name)
            continue
        shape = tuple(evaluate(d, sizes) for d in tensor.shape)
        if shape != array.shape:
            comparison.mismatches.append(
                f"{name}: shapecheck {tensor.shape} -> {shape}, onnxruntime {array.shape}"
            )
            continue
        if tensor.value is not None:
            mine = np.asarray(tensor.value, dtype=object)
            entries = [_entry(v, sizes) for v in mine.reshape(-1)]
            want = array.reshape(-1).tolist()
            same = len(entries) == len(want) and all(
                isinstance(a, (int, float)) and abs(a - b) <= 1e-6 * max(1.0, abs(b))
                for a, b in zip(entries, want)
            )
            if not same:
                comparison.mismatches.append(f"{name}: value {entries} vs onnxruntime {want}")
    return comparison


def check(
    model: onnx.ModelProto,
    sizes: Mapping[str, int] | None = None,
    *,
    modes: Sequence[bool] = (False, True),
    allow_unknown: Sequence[str] = (),
    allow_facts: bool = False,
) -> list[Comparison]:
    """Assert that every tensor matches onnxruntime in each mode (concrete, symbolic); return comparisons."""
    actual = run_all(model, feeds_for(model, dict(sizes or {})))
    results = []
    for symbolic in modes:
        comparison = compare(model, sizes, symbolic=symbolic, actual=actual)
        label = "symbolic" if symbolic else "concrete"
        assert not comparison.mismatches, f"{label}: {comparison.mismatches}"
        unknown = [t for t in comparison.unknown if t not in allow_unknown]
        assert not unknown, f"{label}: unknown shapes for {unknown}; facts: {comparison.propagation.facts}"
        if not allow_facts:
            assert not comparison.facts(), f"{label}: {comparison.facts()}"
        results.append(comparison)
    return results


def scalar_arithmetic_works() -> bool:
    """Whether ``Sub`` of two 0-d shape values keeps its value (``Shape → Gather → Sub`` chains need it).

    ``elementwise._values`` once returned NumPy's bare scalar for 0-d inputs, which lost the value.
    """
    model = build(
        [node("Sub", ["a", "b"], "c")], {}, {"a": np.array(3, np.int64), "b": np.array(1, np.int64)}
    )
    tensor = propagate(to_graph(model)).tensors.get("c")
    return tensor is not None and tensor.value is not None


def direct(
    op: str,
    inputs: Sequence[Any],
    attrs: Mapping[str, Any] | None = None,
    *,
    opset: int = 18,
    n_outputs: int = 1,
) -> tuple[list[Any], list[Fact]]:
    """Run one rule on hand-made :class:`Tensor` inputs (cases onnxruntime refuses to run).

    ``inputs`` holds Tensors or ``None``; returns the output Tensors and the facts recorded.
    """
    from shapecheck.graph import Node
    from shapecheck.ops import lookup
    from shapecheck.propagate import _Context

    facts: list[Fact] = []
    ctx = _Context(opset, facts, {})
    ctx.node = Node(
        name="n",
        op=op,
        inputs=tuple(f"in{i}" for i in range(len(inputs))),
        outputs=tuple(f"out{i}" for i in range(n_outputs)),
        attrs=dict(attrs or {}),
    )
    rule = lookup(op)
    assert rule is not None, op
    return list(rule(ctx.node, list(inputs), ctx)), facts
