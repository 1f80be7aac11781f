"""Running whole models in onnxruntime with every intermediate tensor exposed — the engine's oracle."""

from __future__ import annotations

import numpy as np
import onnx

_NUMPY_TYPES = {1: np.float32, 7: np.int64, 6: np.int32, 11: np.float64, 9: np.bool_}


def expose_every_tensor(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose graph outputs include every node output."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    declared = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in declared:
                exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                declared.add(name)
    return exposed


def run_every_tensor(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Run ``model`` in onnxruntime (no graph optimisation) and return tensor name -> shape."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(expose_every_tensor(model).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return {name: tuple(value.shape) for name, value in zip(names, session.run(names, feeds), strict=True)}


def feeds_for(model: onnx.ModelProto, dims: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Random inputs for every graph input, symbolic dims taken from ``dims``."""
    initializers = {t.name for t in model.graph.initializer}
    feeds = {}
    rng = np.random.default_rng(0)
    for value_info in model.graph.input:
        if value_info.name in initializers:
            continue
        shape = [d.dim_value if d.HasField("dim_value") else (dims or {})[d.dim_param]
                 for d in value_info.type.tensor_type.shape.dim]
        dtype = _NUMPY_TYPES[value_info.type.tensor_type.elem_type]
        feeds[value_info.name] = rng.standard_normal(shape).astype(dtype)
    return feeds
