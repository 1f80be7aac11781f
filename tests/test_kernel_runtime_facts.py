"""Runtime disagreements, pinned by running the real tools (see /work/shared/runtime-facts.md).

Each test computes every runtime's answer (ONNX shape inference, onnxruntime, the ONNX reference
evaluator) by actually running it, asserts the facts as measured for onnx 1.23.2 / onnxruntime 1.32.0,
and asserts which one shapecheck.kernel follows. If a runtime changes its mind, the fact test fails and
the table needs updating — that is the point.
"""

from __future__ import annotations

import numpy as np
import pytest
from ort_oracle import infer_output_shape, ort_output_shape, run_reference, run_single_node

from shapecheck import arith, kernel
from shapecheck.errors import SpecError

pytest.importorskip("onnxruntime")


def _ort_rejects(op_type: str, inputs: dict[str, np.ndarray], attrs: dict, initializers: dict | None = None) -> str:
    """Run in onnxruntime and return its error message; fail if it does not refuse."""
    try:
        run_single_node(op_type, inputs, attrs, initializers)
    except Exception as error:  # onnxruntime raises its own exception types
        assert "onnxruntime" in type(error).__module__, error
        return str(error)
    pytest.fail(f"onnxruntime accepted {op_type} {attrs}")


def test_conv_transpose_same_upper_with_output_padding() -> None:
    """in 3, k3, s2, output_padding 1, SAME_UPPER: shape inference 7, onnxruntime 6, reference 6."""
    x = np.ones((1, 1, 3), np.float32)
    w = np.ones((1, 1, 3), np.float32)
    attrs = {"strides": [2], "output_padding": [1], "auto_pad": "SAME_UPPER"}
    inferred = infer_output_shape("ConvTranspose", {"x": [1, 1, 3]}, attrs, {"w": w})
    ort = ort_output_shape("ConvTranspose", {"x": x}, attrs, {"w": w})
    (reference,) = run_reference("ConvTranspose", {"x": x}, attrs, {"w": w})
    assert inferred[2] == 7
    assert ort[2] == 6
    assert reference.shape[2] == 6
    ours = kernel.conv_transpose(x, w, **attrs)
    assert ours.shape == ort  # the kernel follows onnxruntime
    np.testing.assert_allclose(ours, run_single_node("ConvTranspose", {"x": x}, attrs, {"w": w})[0])


@pytest.mark.parametrize(("opset", "inferred_size"), [(17, 4), (19, 4), (22, 3)])
def test_max_pool_ceil_mode_last_window_in_padding(opset: int, inferred_size: int) -> None:
    """in 5, k2, s2, p1, ceil_mode: inference keeps the window that starts in the padding before opset 22."""
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 5)
    attrs = {"kernel_shape": [2], "strides": [2], "pads": [1, 1], "ceil_mode": 1}
    inferred = infer_output_shape("MaxPool", {"x": [1, 1, 5]}, attrs, opset=opset)
    assert inferred[2] == inferred_size
    ort = run_single_node("MaxPool", {"x": x}, attrs, opset=opset)[0]
    assert ort.shape[2] == 3
    ours = kernel.max_pool(x, **attrs)
    assert ours.shape == ort.shape  # the kernel follows onnxruntime (and ONNX opset >= 22)
    np.testing.assert_array_equal(ours, ort)
    semantics = arith.PoolSemantics.RUNTIME if opset >= 22 else arith.PoolSemantics.ONNX_LEGACY_INFERENCE
    assert arith.pool_out(5, 2, stride=2, pads=(1, 1), ceil_mode=True, semantics=semantics) == inferred_size


def test_max_pool_same_lower_reference_evaluator_differs() -> None:
    """SAME_LOWER, k3, s2, in 19: onnxruntime 10 (= ceil(19/2)), ReferenceEvaluator 9."""
    x = np.random.default_rng(0).standard_normal((1, 1, 19)).astype(np.float32)
    attrs = {"kernel_shape": [3], "strides": [2], "auto_pad": "SAME_LOWER"}
    (ort,) = run_single_node("MaxPool", {"x": x}, attrs)
    (reference,) = run_reference("MaxPool", {"x": x}, attrs)
    assert ort.shape[2] == 10
    assert reference.shape[2] == 9
    assert infer_output_shape("MaxPool", {"x": [1, 1, 19]}, attrs)[2] == 10
    ours = kernel.max_pool(x, **attrs)
    assert ours.shape == ort.shape  # the kernel follows onnxruntime
    np.testing.assert_array_equal(ours, ort)


def test_conv_same_with_dilation_rejected_by_onnxruntime() -> None:
    """Conv SAME_* with dilation > 1: shape inference infers, onnxruntime refuses, the kernel runs."""
    x = np.ones((1, 1, 9), np.float32)
    w = np.ones((1, 1, 3), np.float32)
    attrs = {"dilations": [2], "auto_pad": "SAME_UPPER"}
    assert "Dilation not supported" in _ort_rejects("Conv", {"x": x}, attrs, {"w": w})
    assert infer_output_shape("Conv", {"x": [1, 1, 9]}, attrs, {"w": w})[2] == 9
    assert kernel.conv(x, w, **attrs).shape[2] == 9


def test_output_padding_not_below_stride_rejected_by_onnxruntime() -> None:
    """output_padding 1, stride 1, dilation 2: onnxruntime refuses; PyTorch (< max(s, d)) allows."""
    x = np.ones((1, 1, 3), np.float32)
    w = np.ones((1, 1, 3), np.float32)
    attrs = {"dilations": [2], "output_padding": [1]}
    _ort_rejects("ConvTranspose", {"x": x}, attrs, {"w": w})
    assert arith.output_padding_limit(1, 2, runtime="onnxruntime") == 1
    assert arith.output_padding_limit(1, 2, runtime="pytorch") == 2
    assert kernel.conv_transpose(x, w, **attrs).shape[2] == 3 + 4 + 1  # the kernel computes the definition


def test_conv_transpose_output_shape_past_the_canvas() -> None:
    """in 3, k3, s2 (canvas 7): onnxruntime appends a zero for output_shape 8, refuses 9 (canvas + s)."""
    x = np.arange(1, 4, dtype=np.float32).reshape(1, 1, 3)
    w = np.ones((1, 1, 3), np.float32)
    (ort,) = run_single_node("ConvTranspose", {"x": x}, {"strides": [2], "output_shape": [8]}, {"w": w})
    assert ort.shape[2] == 8 and ort[0, 0, -1] == 0
    np.testing.assert_array_equal(kernel.conv_transpose(x, w, strides=[2], output_shape=[8]), ort)
    _ort_rejects("ConvTranspose", {"x": x}, {"strides": [2], "output_shape": [9]}, {"w": w})
    with pytest.raises(SpecError, match="output_shape"):
        kernel.conv_transpose(x, w, strides=[2], output_shape=[9])


def test_same_pool_with_kernel_below_stride() -> None:
    """SAME_UPPER, k1, s3, in 3: ONNX asks for total pad -2, clamped to 0 by shape inference and the kernel;
    onnxruntime's MaxPool refuses the negative pad and its AveragePool shifts the window to x[1]."""
    x = np.array([[[1.0, 2.0, 3.0]]], np.float32)
    attrs = {"kernel_shape": [1], "strides": [3], "auto_pad": "SAME_UPPER"}
    assert "non-negative" in _ort_rejects("MaxPool", {"x": x}, attrs)
    (ort,) = run_single_node("AveragePool", {"x": x}, attrs)
    assert ort.ravel().tolist() == [2.0]
    assert infer_output_shape("AveragePool", {"x": [1, 1, 3]}, attrs)[2] == 1
    assert arith.auto_pads(3, 1, arith.AutoPad.SAME_UPPER, stride=3) == (0, 0)
    assert kernel.average_pool(x, **attrs).ravel().tolist() == [1.0]
    assert kernel.max_pool(x, **attrs).ravel().tolist() == [1.0]


def test_same_pool_with_dilation_padded_as_if_undilated() -> None:
    """MaxPool SAME_UPPER, k2, d2, in 2: shape inference and the kernel give ceil(2/1) = 2, onnxruntime 1."""
    x = np.array([[[1.0, 2.0]]], np.float32)
    attrs = {"kernel_shape": [2], "dilations": [2], "auto_pad": "SAME_UPPER"}
    assert ort_output_shape("MaxPool", {"x": x}, attrs)[2] == 1
    assert infer_output_shape("MaxPool", {"x": [1, 1, 2]}, attrs)[2] == 2
    assert kernel.max_pool(x, **attrs).shape[2] == 2


def test_pool_window_wider_than_input_truncates_in_runtimes() -> None:
    """k2, s2, in 1, floor mode: ONNX's floor((1-2)/2)+1 = 0 windows; onnxruntime and shape inference
    truncate toward zero and give 1; the kernel and arith agree on 0 (the kernel refuses)."""
    x = np.array([[[3.0]]], np.float32)
    attrs = {"kernel_shape": [2], "strides": [2]}
    assert ort_output_shape("AveragePool", {"x": x}, attrs)[2] == 1
    assert infer_output_shape("AveragePool", {"x": [1, 1, 1]}, attrs)[2] == 1
    assert arith.pool_out(1, 2, stride=2) == 0
    with pytest.raises(SpecError, match="kernel_shape"):
        kernel.average_pool(x, **attrs)
