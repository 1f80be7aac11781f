"""Acceptance of the engine on models we did not write: every tensor's shape equals onnxruntime's.

The light models shipped in the onnx wheel (resnet50, densenet121, inception, shufflenet, squeezenet,
vgg19, alexnet, zfnet512) take their weights from ConstantOfShape, so value propagation is exercised.
Each model is copied with every intermediate tensor made a graph output and run once in onnxruntime;
the shapes it returns are the oracle. ``onnx.shape_inference`` is compared wherever it infers a shape.
"""

from __future__ import annotations

import glob
import os

import onnx
import pytest
from ort_models import feeds_for, run_every_tensor

from shapecheck.load.onnx import load_onnx
from shapecheck.propagate import propagate

ort = pytest.importorskip("onnxruntime")

LIGHT = sorted(glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light/*.onnx")))

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
