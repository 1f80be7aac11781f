"""The ONNX project's own node cases for the shape-computation, resize and linear families.

Each case in ``onnx.backend.test.case.node`` is a model with inputs and the outputs the ONNX project
computed. Parameter inputs (shapes, axes, pads, scales, indices — every input but the data tensor) are
made constants holding the case's data, as an exported model would have them; the engine's output shapes
must then equal the stored outputs' shapes, and any value it computed must equal the stored value.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from shapecheck.load.onnx import graph_from_model
from shapecheck.ops import lookup
from shapecheck.propagate import propagate

FAMILIES = ("shapecheck.ops.shape", "shapecheck.ops.resize", "shapecheck.ops.linear")
#: Ops whose first input is a parameter too.
ALL_PARAMETERS = {"Range", "ConstantOfShape"}


def _ours(op: str) -> bool:
    rule = lookup(op)
    return rule is not None and rule.__module__ in FAMILIES


def _cases() -> list:
    from onnx.backend.test.case import node

    with np.errstate(all="ignore"):
        cases = node.collect_testcases(None)
    return [c for c in cases if c.data_sets and all(_ours(n.op_type) for n in c.model.graph.node)]


CASES = _cases()


def test_enough_cases_were_found() -> None:
    assert len(CASES) >= 300


def _with_constant_parameters(case) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, _ = case.data_sets[0]
    graph_inputs = list(model.graph.input)
    ops = {n.op_type for n in model.graph.node}
    keep = []
    for index, (info, data) in enumerate(zip(graph_inputs, inputs)):
        array = np.asarray(data)
        parameter = index > 0 or array.dtype.kind in "iub" or ops & ALL_PARAMETERS
        if parameter and array.dtype.kind in "iubf":
            model.graph.initializer.append(numpy_helper.from_array(array, info.name))
        else:
            keep.append(info)
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case(case) -> None:
    _, outputs = case.data_sets[0]
    model = _with_constant_parameters(case)
    result = propagate(graph_from_model(model, case.name))
    internal = [f for f in result.facts if f.data.get("internal")]
    assert not internal, internal
    for info, expected in zip(model.graph.output, outputs):
        expected = np.asarray(expected)
        tensor = result.tensors[info.name]
        assert tensor.shape == expected.shape, (info.name, result.facts)
        if tensor.value is not None and expected.dtype.kind in "iub":
            assert np.asarray(tensor.value, dtype=object).tolist() == expected.tolist(), info.name
