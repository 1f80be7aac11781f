"""Oracles from outside the project: run one ONNX node in onnxruntime, in ONNX shape inference, or in
``onnx.reference.ReferenceEvaluator``.

Tests use these to check shapecheck's own arithmetic and kernel against the runtimes that models really
run on. Every helper builds a single-node model with :mod:`onnx.helper`; graph inputs are the arrays of
``inputs`` (fed at run time), ``initializers`` become constants. The node reads its inputs in the order
``node_inputs`` (default: ``inputs`` then ``initializers``; ``""`` marks an omitted optional input).

Example::

    y, = run_single_node("Conv", {"x": x}, {"pads": [1, 1, 1, 1]}, initializers={"w": w})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

DEFAULT_OPSET = 22
IR_VERSION = 10  # accepted by onnxruntime 1.17+ for opset <= 22

__all__ = [
    "DEFAULT_OPSET",
    "infer_output_shape",
    "make_session",
    "make_single_node_model",
    "ort_output_shape",
    "run_reference",
    "run_single_node",
]


def _attrs(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop attributes whose value is None (the ONNX default applies)."""
    return {k: v for k, v in (attrs or {}).items() if v is not None}


def make_single_node_model(
    op_type: str,
    inputs: Mapping[str, np.ndarray | Sequence[int | None]],
    attrs: Mapping[str, Any] | None = None,
    initializers: Mapping[str, np.ndarray] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    n_outputs: int = 1,
    node_inputs: Sequence[str] | None = None,
    elem_type: int = onnx.TensorProto.FLOAT,
) -> onnx.ModelProto:
    """A model holding one node. ``inputs`` maps names to arrays, or to shapes (for shape inference)."""
    initializers = dict(initializers or {})
    graph_inputs = []
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            etype = helper.np_dtype_to_tensor_dtype(value.dtype)
            shape: Sequence[int | None] = value.shape
        else:
            etype, shape = elem_type, value
        graph_inputs.append(helper.make_tensor_value_info(name, etype, list(shape)))
    outputs = [f"y{i}" for i in range(n_outputs)]
    graph_outputs = [helper.make_tensor_value_info(name, elem_type, None) for name in outputs]
    order = list(node_inputs) if node_inputs is not None else [*inputs, *initializers]
    node = helper.make_node(op_type, order, outputs, **_attrs(attrs))
    graph = helper.make_graph(
        [node],
        f"single_{op_type}",
        graph_inputs,
        graph_outputs,
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = IR_VERSION
    return model


def make_session(model: onnx.ModelProto, *, threads: int | None = None) -> Any:
    """An onnxruntime CPU session, quiet (log_severity_level=3), optionally with a fixed thread count."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run_single_node(
    op_type: str,
    inputs: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any] | None = None,
    initializers: Mapping[str, np.ndarray] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    n_outputs: int = 1,
    node_inputs: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Run one node in onnxruntime and return its outputs (raises what onnxruntime raises)."""
    model = make_single_node_model(
        op_type, inputs, attrs, initializers, opset=opset, n_outputs=n_outputs, node_inputs=node_inputs
    )
    return make_session(model).run(None, dict(inputs))


def ort_output_shape(
    op_type: str,
    inputs: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any] | None = None,
    initializers: Mapping[str, np.ndarray] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    node_inputs: Sequence[str] | None = None,
) -> tuple[int, ...]:
    """The shape of the first output as onnxruntime actually produces it."""
    outputs = run_single_node(op_type, inputs, attrs, initializers, opset=opset, node_inputs=node_inputs)
    return tuple(outputs[0].shape)


def infer_output_shape(
    op_type: str,
    input_shapes: Mapping[str, Sequence[int | None]],
    attrs: Mapping[str, Any] | None = None,
    initializers: Mapping[str, np.ndarray] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    node_inputs: Sequence[str] | None = None,
) -> tuple[int | None, ...] | None:
    """The first output's shape according to ``onnx.shape_inference`` (strict); None if it infers none."""
    model = make_single_node_model(op_type, input_shapes, attrs, initializers, opset=opset, node_inputs=node_inputs)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    for value in inferred.graph.output:
        if value.name == "y0" and value.type.tensor_type.HasField("shape"):
            dims = value.type.tensor_type.shape.dim
            return tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return None


def run_reference(
    op_type: str,
    inputs: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any] | None = None,
    initializers: Mapping[str, np.ndarray] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    n_outputs: int = 1,
    node_inputs: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Run one node in ``onnx.reference.ReferenceEvaluator`` (the ONNX Python reference)."""
    from onnx.reference import ReferenceEvaluator

    model = make_single_node_model(
        op_type, inputs, attrs, initializers, opset=opset, n_outputs=n_outputs, node_inputs=node_inputs
    )
    return list(ReferenceEvaluator(model).run(None, dict(inputs)))
