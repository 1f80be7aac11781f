"""Acceptance of the engine on models we did not write: every tensor's shape equals onnxruntime's.

The light models shipped in the onnx wheel (resnet50, densenet121, inception, shufflenet, squeezenet,
vgg19, alexnet, zfnet512) take their weights from ConstantOfShape, so value propagation is exercised.
Each model is copied with every intermediate tensor made a graph output and run once in onnxruntime;
the shapes it returns are the oracle. ``onnx.shape_inference`` is compared wherever it infers a shape.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import pytest

from shapecheck.load.onnx import load_onnx
from shapecheck.propagate import propagate

ort = pytest.importorskip("onnxruntime")

LIGHT = sorted(glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light/*.onnx")))

_NUMPY_TYPES = {1: np.float32, 7: np.int64, 6: np.int32, 11: np.float64, 9: np.bool_}


def run_every_tensor(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Run ``model`` in onnxruntime with every node output exposed; returns tensor name -> shape."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    declared = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in declared:
                exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                declared.add(name)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return {name: tuple(value.shape) for name, value in zip(names, session.run(names, feeds), strict=True)}


def feeds_for(model: onnx.ModelProto, dims: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    initializers = {t.name for t in model.graph.initializer}
    feeds = {}
    rng = np.random.default_rng(0)
    for value_info in model.graph.input:
        if value_info.name in initializers:
            continue
        shape = []
        for dim in value_info.type.tensor_type.shape.dim:
            shape.append(dim.dim_value if dim.HasField("dim_value") else (dims or {})[dim.dim_param])
        dtype = _NUMPY_TYPES[value_info.type.tensor_type.elem_type]
        feeds[value_info.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for info in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = info.type.tensor_type.shape.dim
        if info.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = tuple(d.dim_value for d in dims)
    return shapes


@pytest.mark.parametrize("path", LIGHT, ids=[os.path.basename(p)[:-5] for p in LIGHT])
def test_light_model_shapes_equal_onnxruntime(path: str) -> None:
    model = onnx.load(path)
    actual = run_every_tensor(model, feeds_for(model))
    result = propagate(load_onnx(path))
    assert not [f for f in result.facts if f.kind.value in ("unsupported-op", "unresolved")], result.facts
    mismatches = {t: (result.shape(t), s) for t, s in actual.items() if result.shape(t) != s}
    assert not mismatches
    assert len(actual) >= len(model.graph.node) - sum(n.op_type == "Constant" for n in model.graph.node)


@pytest.mark.parametrize("path", LIGHT, ids=[os.path.basename(p)[:-5] for p in LIGHT])
def test_light_model_shapes_equal_onnx_shape_inference(path: str) -> None:
    expected = inferred_shapes(onnx.load(path))
    result = propagate(load_onnx(path))
    mismatches = {t: (result.shape(t), s) for t, s in expected.items() if result.shape(t) != s}
    assert not mismatches
    assert expected, "shape inference inferred nothing: the comparison would be empty"
