"""Two things the full fuzz run showed (each once reported as SC901, "shapecheck contradicted itself"):

* a node with an input or weight of the wrong rank was a fact no rule reported — now SC207, and
  onnxruntime is the oracle that such a model does not run;
* the confirming execution of a branch compared its sizes with the engine's past a node the engine
  already reports failing, and ignored constants in broadcasting ops.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from shapecheck.check import check_file
from shapecheck.load import load_model
from shapecheck.propagate import propagate
from shapecheck.verify import execute_branch

ort = pytest.importorskip("onnxruntime")
from ort_models import feeds_for, run_every_tensor  # noqa: E402


def _save(tmp_path, nodes, inputs, initializers, name="m.onnx", value_info=()) -> str:
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(nodes[-1].output[0],
                                                                                  TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in initializers.items()],
                              value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def _runs_in_onnxruntime(path: str, dims: dict[str, int] | None = None) -> bool:
    model = onnx.load(path)
    try:
        run_every_tensor(model, feeds_for(model, dims))
    except Exception:  # onnxruntime refuses the model at load or at run time
        return False
    return True


@pytest.mark.parametrize(("nodes", "x_shape", "initializers", "fragment"), [
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [1, 1, 16],
     {"w": np.ones((4, 1, 3, 3), np.float32)}, "weight has rank 4 but the input has rank 3"),
    ([helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2])], [1, 16], {},
     "needs an input of rank >= 3"),
    ([helper.make_node("Flatten", ["x"], ["f"], name="flat"),
      helper.make_node("Concat", ["x", "f"], ["y"], name="cat", axis=1)], [1, 2, 4, 4], {},
     "different ranks"),
])
def test_a_rank_mismatch_is_reported_and_onnxruntime_refuses_the_model(tmp_path, nodes, x_shape, initializers,
                                                                       fragment) -> None:
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)], initializers)
    assert not _runs_in_onnxruntime(path)
    findings = [f for f in check_file(path).findings if f.code == "SC207"]
    assert len(findings) == 1 and fragment in findings[0].message and findings[0].severity.value == "error"


def test_a_model_that_runs_has_no_rank_finding(tmp_path) -> None:
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    path = _save(tmp_path, [conv], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 16])],
                 {"w": np.ones((4, 1, 3), np.float32)})
    assert _runs_in_onnxruntime(path)
    assert not [f for f in check_file(path).findings if f.code == "SC207"]


def test_a_branch_broadcasts_with_constants_of_another_rank_as_onnxruntime_does(tmp_path) -> None:
    """``Add(const (4, 1, 8), conv (1, 4, 1))`` broadcasts to ``(4, 4, 8)``: the constant counts."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[8], strides=[4], pads=[2, 2]),
             helper.make_node("Add", ["k", "c"], ["y"], name="add")]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 7])],
                 {"w": np.ones((4, 1, 8), np.float32), "k": np.ones((4, 1, 8), np.float32)})
    expected = run_every_tensor(onnx.load(path), feeds_for(onnx.load(path)))["y"]
    graph = load_model(path)
    result = propagate(graph)
    execution = execute_branch(result, [graph.nodes["conv"], graph.nodes["add"]])
    assert execution.confirmed and not execution.disagreements, execution
    assert execution.sizes["y"] == expected[2:] == result.shape("y")[2:]


def test_no_internal_disagreement_past_a_node_the_engine_reports_failing(tmp_path) -> None:
    """The audio U-Net of the fuzz case onnx:7:11648: a 4-D weight on the inner 1-D conv. The engine
    goes on past it with what the model declares; the kernel's sizes there prove nothing either way."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["down0"], name="down0", kernel_shape=[8], pads=[2, 2], strides=[4]),
        helper.make_node("Conv", ["down0", "w1"], ["down1"], name="down1", kernel_shape=[8], pads=[2, 2],
                         strides=[4]),
        helper.make_node("ConvTranspose", ["down1", "u1"], ["up1"], name="up1", kernel_shape=[8], pads=[2, 2],
                         strides=[4]),
        helper.make_node("Add", ["up1", "down0"], ["skip1"], name="skip1"),
        helper.make_node("ConvTranspose", ["skip1", "u0"], ["up0"], name="up0", kernel_shape=[8], pads=[2, 2],
                         strides=[4]),
        helper.make_node("Add", ["up0", "x"], ["skip0"], name="skip0"),
    ]
    weights = {"w0": np.ones((4, 1, 8), np.float32), "w1": np.ones((8, 4, 8, 3), np.float32),
               "u1": np.ones((8, 4, 8), np.float32), "u0": np.ones((4, 1, 8), np.float32)}
    declared = [helper.make_tensor_value_info("down1", TensorProto.FLOAT, [1, 8, None])]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "L"])], weights,
                 value_info=declared)
    assert not _runs_in_onnxruntime(path, {"L": 31})
    codes = [f.code for f in check_file(path, dims={"L": 31}, confirm=True).findings]
    assert "SC207" in codes and "SC901" not in codes, codes
