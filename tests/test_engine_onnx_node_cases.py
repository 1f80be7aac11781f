"""The ONNX project's own Conv / ConvTranspose / pooling node cases, run through the engine.

Each case in ``onnx.backend.test.case.node`` carries a model and the outputs the ONNX project computed
for it; the engine's output shape must equal the stored output's shape. onnxruntime is checked on the
same case, so a case where the two references disagree is visible rather than silently followed.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from shapecheck.load.onnx import graph_from_model
from shapecheck.propagate import propagate

ort = pytest.importorskip("onnxruntime")

OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
       "GlobalLpPool"}


def _cases() -> list:
    from onnx.backend.test.case import node

    with np.errstate(all="ignore"):
        cases = node.collect_testcases(None)
    return [c for c in cases if {n.op_type for n in c.model.graph.node} & OPS and c.data_sets]


CASES = _cases()


def test_enough_cases_were_found() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case_shapes(case) -> None:
    inputs, outputs = case.data_sets[0]
    model: onnx.ModelProto = case.model
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    shapes = {name: tuple(array.shape) for name, array in zip(names, inputs)}
    result = propagate(graph_from_model(model, case.name), input_shapes=shapes)
    for value_info, expected in zip(model.graph.output, outputs):
        assert result.shape(value_info.name) == tuple(np.asarray(expected).shape), value_info.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case_shapes_equal_onnxruntime(case) -> None:
    inputs, _ = case.data_sets[0]
    model: onnx.ModelProto = case.model
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        produced = session.run(None, dict(zip(names, inputs)))
    except Exception as error:  # an op or opset this onnxruntime does not implement
        pytest.skip(f"onnxruntime cannot run this case: {str(error).splitlines()[0][:120]}")
    result = propagate(graph_from_model(model, case.name),
                       input_shapes={n: tuple(a.shape) for n, a in zip(names, inputs)})
    for value_info, array in zip(session.get_outputs(), produced):
        assert result.shape(value_info.name) == tuple(array.shape), value_info.name
