"""The ONNX loader's promises: local functions inlined, subgraphs and unknown ops reported (never dropped
silently), initializers that are also graph inputs treated as constants."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from shapecheck.check import check_graph
from shapecheck.load.onnx import graph_from_model
from shapecheck.propagate import propagate

ort = pytest.importorskip("onnxruntime")


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_model_local_functions_are_inlined() -> None:
    body = [helper.make_node("Conv", ["a", "w"], ["b"], kernel_shape=[3, 3], strides=[2, 2]),
            helper.make_node("Relu", ["b"], ["c"])]
    function = helper.make_function("local", "ConvRelu", ["a", "w"], ["c"], body,
                                    [helper.make_opsetid("", 17)])
    node = helper.make_node("ConvRelu", ["x", "w"], ["y"], domain="local", name="block")
    weight = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, functions=[function],
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    expected = _run(model, np.ones((1, 1, 9, 9), np.float32)).shape
    result = propagate(graph_from_model(model))
    assert result.shape("y") == expected
    assert not result.facts


def test_if_bodies_are_reported_not_dropped() -> None:
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "branch", [],
                               [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("If", ["cond"], ["y"], name="choose", then_branch=branch, else_branch=branch)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2]),
                                           helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    report = check_graph(graph_from_model(model))
    notes = [f for f in report.findings if f.code == "SC103"]
    assert any("choose" in f.message and "not checked" in f.message for f in notes)
    assert any(f.code == "SC101" and "If" in f.message for f in report.findings)


def test_unknown_op_falls_back_to_value_info_and_is_reported_once() -> None:
    nodes = [helper.make_node("Mystery", ["x"], ["a"], domain="vendor", name="m1"),
             helper.make_node("Mystery", ["a"], ["b"], domain="vendor", name="m2"),
             helper.make_node("Relu", ["b"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              value_info=[helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("vendor", 1)])
    report = check_graph(graph_from_model(model))
    unsupported = [f for f in report.findings if f.code == "SC101"]
    assert len(unsupported) == 1 and "2 node(s)" in unsupported[0].message
    not_checked = [f for f in report.findings if f.code == "SC103"]
    assert [(f.node, f.message.split(" node(s)")[0]) for f in not_checked] == [("m2", "1")]
    result = propagate(graph_from_model(model))
    assert result.shape("a") == (1, 4) and result.shape("y") is None


def test_graph_inputs_that_are_initializers_are_constants() -> None:
    weight = numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8]),
                                            helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 1, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    loaded = graph_from_model(model)
    assert list(loaded.inputs) == ["x"] and "w" in loaded.constants
    assert propagate(loaded).shape("y") == _run(model, np.ones((1, 1, 8, 8), np.float32)).shape


def _closes_over_a_model(function: object) -> bool:
    cells = getattr(function, "__closure__", None) or ()
    return any(isinstance(c.cell_contents, onnx.ModelProto) or _closes_over_a_model(c.cell_contents) for c in cells)


def test_a_loaded_file_falls_back_to_onnx_shape_inference_without_keeping_the_parsed_model(tmp_path) -> None:
    """The graph keeps the file's bytes, not the ModelProto (ten times larger in memory), and parses them
    again only when an op without a rule needs ONNX's shape inference."""
    from shapecheck.load import load_model

    node = helper.make_node("Einsum", ["x"], ["y"], equation="ij->ji", name="swap")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "einsum.onnx"
    path.write_bytes(model.SerializeToString())
    parses: list[int] = []
    original = onnx.load_from_string
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onnx, "load_from_string", lambda data: parses.append(len(data)) or original(data))
        loaded = load_model(str(path))
        assert len(parses) == 1 and not _closes_over_a_model(loaded._fallback_shapes)
        assert propagate(loaded).shape("y") == (3, 2)  # Einsum has no rule: ONNX's inference, from the bytes
        assert parses[1] == parses[0]  # the file's bytes again (infer_shapes then parses its own result)
    assert _closes_over_a_model(graph_from_model(model)._fallback_shapes)  # an in-memory model is the caller's
