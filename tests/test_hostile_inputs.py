"""Regression tests for the crashes the fuzzer (``tests/fuzz/fuzz_inputs.py``) found: each input here once
escaped ``check_file`` as an uncaught exception. Every one must now end in a report or a one-line load
error, and the report must render in every format."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from shapecheck.check import FileReport, check_file
from shapecheck.report.formats import renderers
from shapecheck.rules import selected_codes

ALL = frozenset(selected_codes(["ALL"]))


def _check(path, **options) -> FileReport:
    report = check_file(str(path), codes=ALL, **options)
    for render in renderers().values():  # a report that cannot be rendered is a crash all the same
        render([report], io.StringIO(), color=False)
    return report


def _one_line_error(report: FileReport, *fragments: str) -> None:
    assert report.error is not None and "\n" not in report.error, report
    for fragment in fragments:
        assert fragment in report.error


def _conv_model(*, weight: TensorProto | None = None, **conv_attrs) -> onnx.ModelProto:
    weight = weight or numpy_helper.from_array(np.zeros((2, 1, 3, 3), np.float32), "w")
    conv = helper.make_node("Conv", ["x", weight.name], ["y"], name="conv", **conv_attrs)
    graph = helper.make_graph([conv], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# -- ONNX -------------------------------------------------------------------------------------------------


def test_a_name_that_is_not_utf8_is_read_with_a_replacement_character(tmp_path) -> None:
    """protobuf returns ``bytes`` for a string field that is not UTF-8; the JSON report choked on it."""
    model = _conv_model(pads=[1, 1, 1, 1])
    model.graph.node.append(helper.make_node("Relu", ["y"], ["z"], name="relu"))
    data = model.SerializeToString().replace(b"Relu", b"R\xffl\xfe")  # the op type, and only it
    path = tmp_path / "bad_utf8.onnx"
    path.write_bytes(data)
    report = _check(path)
    assert report.error is None
    assert [f.code for f in report.findings if f.code == "SC101"] == ["SC101"]
    assert "R\ufffdl\ufffd" in next(f.message for f in report.findings if f.code == "SC101")


@pytest.mark.parametrize("values", [np.zeros(5, np.float32), np.zeros(40, np.float32)])
def test_a_small_tensor_whose_data_does_not_match_its_dims_is_a_load_error(tmp_path, values) -> None:
    weight = numpy_helper.from_array(values, "w")
    weight.ClearField("dims")
    weight.dims.extend([2, 1, 3, 3])  # 18 values declared
    path = tmp_path / "short_weight.onnx"
    path.write_bytes(_conv_model(weight=weight).SerializeToString())
    _one_line_error(_check(path), "tensor 'w'", "does not match its dims")


def test_a_negative_tensor_dim_is_a_load_error(tmp_path) -> None:
    weight = numpy_helper.from_array(np.zeros((2, 1, 3, 3), np.float32), "w")
    weight.dims[0] = -2
    path = tmp_path / "negative.onnx"
    path.write_bytes(_conv_model(weight=weight).SerializeToString())
    _one_line_error(_check(path), "tensor 'w'", "negative dim")


def test_dims_whose_product_wraps_around_in_int64_are_not_read_as_values(tmp_path) -> None:
    """``np.prod([2**62, 4])`` is 0 in int64: the tensor looked small enough to read."""
    weight = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    weight.ClearField("dims")
    weight.dims.extend([2, 1, 2**62, 4])
    path = tmp_path / "wrap.onnx"
    path.write_bytes(_conv_model(weight=weight).SerializeToString())
    report = _check(path)
    assert report.error is None or "Traceback" not in report.error


@pytest.mark.parametrize(("attribute", "kinds"), [
    (helper.make_attribute("strides", 2), ("'strides' is INT", "declares it INTS")),
    (helper.make_attribute("auto_pad", [1, 2]), ("'auto_pad' is INTS", "declares it STRING")),
    (helper.make_attribute("group", [1]), ("'group' is INTS", "declares it INT")),
    (helper.make_attribute("kernel_shape", helper.make_graph([], "body", [], [])), ("is GRAPH",)),
])
def test_an_attribute_of_another_kind_than_the_schema_declares_is_a_load_error(tmp_path, attribute, kinds) -> None:
    """The op rules (and the kernel confirmation) took ``len()`` of an INT or ``.upper()`` of a tuple."""
    model = _conv_model()
    model.graph.node[0].attribute.append(attribute)
    path = tmp_path / "kind.onnx"
    path.write_bytes(model.SerializeToString())
    _one_line_error(_check(path, dims={}, confirm=True), "node 'conv' (Conv)", *kinds)


def test_an_attribute_only_older_opsets_declare_is_checked_against_them(tmp_path) -> None:
    """Unsqueeze lost its ``axes`` attribute at opset 13, but the rule still reads it: a FLOAT there
    raised TypeError inside the rule (SC901)."""
    model = _conv_model(pads=[1, 1, 1, 1])
    model.graph.node.append(helper.make_node("Unsqueeze", ["y"], ["z"], name="unsq", axes=-1.0))
    model.graph.output[0].name = "z"
    path = tmp_path / "unsqueeze.onnx"
    path.write_bytes(model.SerializeToString())
    _one_line_error(_check(path), "node 'unsq' (Unsqueeze)", "'axes' is FLOAT", "declares it INTS")


@pytest.mark.parametrize(("inputs", "fragment"), [
    ([], "required input 'X' (number 1) is missing"),
    (["", "w"], "required input 'X' (number 1) is missing"),
    (["x", "w", "b", "extra"], "has 4 inputs; Conv takes at most 3"),
])
def test_a_node_without_its_required_inputs_is_a_load_error(tmp_path, inputs, fragment) -> None:
    """A Conv or MaxPool node without inputs made the op rule index an empty list (SC901)."""
    model = _conv_model()
    del model.graph.node[0].input[:]
    model.graph.node[0].input.extend(inputs)
    path = tmp_path / "inputs.onnx"
    path.write_bytes(model.SerializeToString())
    _one_line_error(_check(path), "node 'conv' (Conv)", fragment)


@pytest.mark.parametrize("second_inputs", [["", "w"], ["y"], ["y", "w", "", "w"]])
def test_a_malformed_node_after_a_well_formed_one_with_the_same_op_and_attributes_is_caught(
        tmp_path, second_inputs) -> None:
    """The loader remembers each structure signature's verdict; a second Conv with the same attributes
    but an omitted, missing or extra input must get its own verdict, not the first node's. onnxruntime
    refuses each of these models too (the oracle that they are malformed)."""
    import onnxruntime

    model = _conv_model(pads=[1, 1, 1, 1])
    model.graph.node.append(helper.make_node("Conv", second_inputs, ["z"], name="second", pads=[1, 1, 1, 1]))
    model.graph.output[0].name = "z"
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime raises its own exception types
        onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    path = tmp_path / "second.onnx"
    path.write_bytes(model.SerializeToString())
    _one_line_error(_check(path), "node 'second' (Conv)")


def test_a_node_without_its_output_is_a_load_error(tmp_path) -> None:
    """A ConvTranspose without outputs made the fixer index ``node.outputs[0]`` (IndexError escaped)."""
    model = _conv_model()
    del model.graph.node[0].output[:]
    path = tmp_path / "no_output.onnx"
    path.write_bytes(model.SerializeToString())
    _one_line_error(_check(path), "node 'conv' (Conv)", "output 'Y' is missing")


def test_attributes_of_ops_onnx_does_not_know_are_not_checked(tmp_path) -> None:
    model = _conv_model()
    model.graph.node.append(helper.make_node("FusedThing", ["y"], ["z"], name="fused", domain="", strides=2))
    model.graph.output[0].name = "z"
    path = tmp_path / "custom.onnx"
    path.write_bytes(model.SerializeToString())
    assert _check(path).error is None
    assert AttributeProto.INT  # the kind the unknown op used: not refused


# -- YAML -------------------------------------------------------------------------------------------------


def test_a_control_character_in_yaml_is_a_load_error_with_its_position(tmp_path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_text("shapecheck: 1\ninputs: {x: [1, 1\x00, 8, 8]}\n", encoding="utf-8")
    report = _check(path)
    _one_line_error(report, ":2:18:", "#x0000")


def test_a_malformed_tagged_scalar_is_a_load_error(tmp_path) -> None:
    """PyYAML's timestamp constructor raises AttributeError on a date its regex does not match."""
    path = tmp_path / "timestamp.yaml"
    path.write_text("shapecheck: 1\ninputs: {x: [1, 1, 8, 8]}\nlayers:\n"
                    "  - {op: relu, expect: [1, !!timestamp 2001-12-143, 8, 8]}\n", encoding="utf-8")
    _one_line_error(_check(path), ":4:", "2001-12-143", "timestamp")


def test_a_join_that_fails_on_the_batch_axis_after_a_floor_loss(tmp_path) -> None:
    """The root-cause and fix search indexed per-spatial-axis tuples with ``axis - 2`` = -2."""
    path = tmp_path / "batch.yaml"
    path.write_text(
        "shapecheck: 1\ninputs: {x: [N, 3, 9], y: [3, 3, 4]}\ndims: {N: 2}\nlayers:\n"
        "  - {name: pool, op: maxpool, input: x, kernel_size: 2}\n"
        "  - {name: sum, op: add, inputs: [pool, y]}\n", encoding="utf-8")
    report = _check(path, confirm=True)
    assert report.error is None
    assert "SC201" in {f.code for f in report.findings}


def test_a_huge_value_echoed_in_an_error_is_clipped_to_a_readable_line(tmp_path) -> None:
    """The fuzzer found 5,000-character load errors (an op name of 5,000 'H's echoed back in full)."""
    path = tmp_path / "long.yaml"
    path.write_text("shapecheck: 1\ninputs: {x: [1, 1, 8, 8]}\nlayers:\n  - {op: conv" + "H" * 5000 + "}\n")
    report = _check(path)
    _one_line_error(report, "unknown op 'convHHH", "characters] …", "known")
    assert len(report.error) < 1000 + len(str(path)) + 20


# -- engine and kernel agree on what the fuzzer found -------------------------------------------------------


def _transpose_model(target: int) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.ones((1, 1, 2), np.float32), "w")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[2], strides=[2],
                            output_shape=[target])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("target", "rejected"), [(12, False), (13, False), (14, True), (20, True)])
def test_an_output_shape_the_input_cannot_reach_is_a_runtime_rejection(tmp_path, target, rejected) -> None:
    """6 inputs, k2 s2 reach 12 positions; onnxruntime pads up to stride-1 more with zeros and rejects
    the rest. The engine took any output_shape, and the kernel's refusal showed as SC901."""
    path = tmp_path / "up.onnx"
    path.write_bytes(_transpose_model(target).SerializeToString())
    codes = [f.code for f in _check(path, confirm=True).findings]
    assert ("SC503" in codes) is rejected and "SC901" not in codes
    ort = pytest.importorskip("onnxruntime")
    ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(_transpose_model(target).SerializeToString(), providers=["CPUExecutionProvider"])
        session.run(None, {"x": np.ones((1, 1, 6), np.float32)})
        ran = True
    except Exception:
        ran = False
    assert ran is not rejected


def _branch(nodes, inputs):
    from shapecheck.graph import ModelGraph, TensorSpec
    from shapecheck.propagate import propagate

    graph = ModelGraph(path="m", format="onnx", nodes=nodes, outputs=[nodes[-1].outputs[0]],
                       inputs={name: TensorSpec(shape) for name, shape in inputs.items()})
    return propagate(graph)


def test_the_kernel_broadcasts_and_concatenates_along_spatial_axes_as_the_engine_does() -> None:
    """A Div joining 1x1 and 2x2 broadcasts to 2x2, a Concat on axis 3 adds the widths: the branch
    execution treated every join as an equal-size Concat and reported the engine wrong (SC901)."""
    from shapecheck.graph import Node
    from shapecheck.verify import execute_branch

    div = Node("div", "Div", ("a", "b"), ("c",), {})
    cat = Node("cat", "Concat", ("c", "b"), ("d",), {"axis": -1})
    result = _branch([div, cat], {"a": (1, 1, 1, 1), "b": (1, 1, 2, 2)})
    run = execute_branch(result, [div, cat])
    assert run.confirmed and not run.disagreements
    assert run.sizes == {"c": (2, 2), "d": (2, 4)} and result.shape("d") == (1, 1, 2, 4)


def test_an_empty_tensor_is_not_executed() -> None:
    """An input of size 0 (a floor to nothing upstream) gave the kernel and the engine two different
    meaningless sizes for the transposed conv after it; the engine reports the empty tensor itself."""
    from shapecheck.graph import Node
    from shapecheck.verify import execute_branch

    up = Node("up", "ConvTranspose", ("x", "w"), ("y",), {"kernel_shape": (8,), "strides": (4,), "pads": (2, 2),
                                                           "output_padding": (1,)})
    result = _branch([up], {"x": (1, 1, 0), "w": (1, 1, 8)})
    run = execute_branch(result, [up])
    assert not run.confirmed and not run.disagreements and "empty" in run.reason


def test_an_escape_beyond_unicode_in_a_quoted_yaml_string_is_a_load_error(tmp_path) -> None:
    """PyYAML's scanner calls chr() on a ``\\U`` escape without a range check: ValueError escaped."""
    path = tmp_path / "escape.yaml"
    path.write_text('shapecheck: 1\ninputs: {x: [1, 1, 8, 8]}\nname: "\\U0011ffff"\nlayers: [{op: relu}]\n')
    _one_line_error(_check(path), ":3:", "chr() arg not in range")


def test_a_constant_with_64_dims_is_propagated(tmp_path) -> None:
    """The walk's memo key (and the value rules, and the HTML view) iterate values with ``.flat``, which
    NumPy limits to 32 dims: RuntimeError. Such a constant keeps its shape but is not read as a value."""
    constant = numpy_helper.from_array(np.ones((1,) * 64, np.int64), "c")
    node = helper.make_node("Identity", ["c"], ["y"], name="same")
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
                              [constant])
    path = tmp_path / "deep.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    assert _check(path).error is None


@pytest.mark.parametrize("attrs", [
    {"output_shape": [12]},                           # one value for two spatial axes: IndexError in the rule
    {"output_padding": [-4, 0]},                      # negative: reported, then SpecError from the arithmetic
    {"output_padding": [-4, 0], "output_shape": [12, 12]},
])
def test_malformed_conv_transpose_attributes_are_findings_not_internal_errors(tmp_path, attrs) -> None:
    weight = numpy_helper.from_array(np.ones((1, 1, 2, 2), np.float32), "w")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[2, 2], strides=[2, 2],
                            **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    path = tmp_path / "up.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    findings = _check(path).findings
    assert "SC901" not in {f.code for f in findings}, [f.message for f in findings]


def test_a_zero_stride_after_a_ceil_mode_pool_does_not_make_a_zero_period(tmp_path) -> None:
    """The size analysis bounds the period by the product of strides after a size that is not an expression
    (a ceil-mode pool); a stride of 0 made that period 0 and ``size % 0`` raised ZeroDivisionError."""
    ceil = helper.make_node("MaxPool", ["x"], ["a"], name="ceil", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    zero = helper.make_node("MaxPool", ["a"], ["y"], name="zero", kernel_shape=[2, 2], strides=[0, 2])
    graph = helper.make_graph([ceil, zero], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "zero.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    findings = _check(path).findings
    assert "SC503" in {f.code for f in findings}  # the stride itself is reported
    assert "SC901" not in {f.code for f in findings}
