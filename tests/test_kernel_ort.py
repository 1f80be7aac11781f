"""shapecheck.kernel against onnxruntime: values and shapes of random single-node models, to 1e-4.

Configurations are drawn at random: 1-D to 3-D, groups and depthwise, dilation, asymmetric pads, every
auto_pad mode, output_padding and output_shape, MaxPool/AveragePool with ceil_mode and
count_include_pad. Where onnxruntime is known to reject or bend what ONNX allows (runtime-facts.md:
Conv SAME_* with dilation > 1, output_padding >= stride, pool pads >= kernel; also SAME_* pools with
dilation > 1, padded as if undilated) those configurations are not drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ort_oracle import run_single_node

from shapecheck import kernel
from shapecheck.errors import SpecError

pytest.importorskip("onnxruntime")

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AUTO_PADS = ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]
LARGEST = {1: 14, 2: 9, 3: 6}


def _close(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def _flat(pairs: list[tuple[int, int]]) -> list[int]:
    return [b for b, _ in pairs] + [e for _, e in pairs]


@st.composite
def conv_configs(draw: st.DrawFn) -> dict[str, Any]:
    rank = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    group = draw(st.integers(2, 4)) if depthwise else draw(st.integers(1, 3))
    cg = 1 if depthwise else draw(st.integers(1, 3))
    mg = draw(st.integers(1, 3))
    auto_pad = draw(st.sampled_from(AUTO_PADS))
    axes = []
    for _ in range(rank):
        k = draw(st.integers(1, 4))
        d = 1 if auto_pad.startswith("SAME") else draw(st.integers(1, 3))
        axes.append(
            {
                "n": draw(st.integers(1, LARGEST[rank])),
                "k": k,
                "s": draw(st.integers(1, 3)),
                "d": d,
                "pads": (draw(st.integers(0, 3)), draw(st.integers(0, 3))) if auto_pad == "NOTSET" else (0, 0),
            }
        )
    return {
        "n_batch": draw(st.integers(1, 2)),
        "group": group,
        "cg": cg,
        "mg": mg,
        "auto_pad": auto_pad,
        "axes": axes,
        "bias": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


@SETTINGS
@given(conv_configs())
def test_conv_equals_onnxruntime(cfg: dict[str, Any]) -> None:
    axes = cfg["axes"]
    for a in axes:  # the dilated kernel must fit the (padded) input for either side to run
        assume(a["d"] * (a["k"] - 1) + 1 <= a["n"] + sum(a["pads"]))
    rng = np.random.default_rng(cfg["seed"])
    channels = cfg["group"] * cfg["cg"]
    x = rng.standard_normal((cfg["n_batch"], channels, *(a["n"] for a in axes))).astype(np.float32)
    w = rng.standard_normal((cfg["group"] * cfg["mg"], cfg["cg"], *(a["k"] for a in axes))).astype(np.float32)
    b = rng.standard_normal(cfg["group"] * cfg["mg"]).astype(np.float32) if cfg["bias"] else None
    attrs = {
        "strides": [a["s"] for a in axes],
        "dilations": [a["d"] for a in axes],
        "group": cfg["group"],
        "auto_pad": cfg["auto_pad"],
        "kernel_shape": [a["k"] for a in axes],
    }
    if cfg["auto_pad"] == "NOTSET":
        attrs["pads"] = _flat([a["pads"] for a in axes])
    initializers = {"w": w} if b is None else {"w": w, "b": b}
    (expected,) = run_single_node("Conv", {"x": x}, attrs, initializers)
    _close(kernel.conv(x, w, b, **attrs), expected)


@st.composite
def conv_transpose_configs(draw: st.DrawFn) -> dict[str, Any]:
    rank = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    group = draw(st.integers(2, 4)) if depthwise else draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["pads", "output_shape", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    axes = []
    for _ in range(rank):
        s = draw(st.integers(1, 3))
        d = 1 if mode.startswith("SAME") else draw(st.integers(1, 3))
        k = draw(st.integers(1, 4))
        n = draw(st.integers(1, LARGEST[rank]))
        extent = s * (n - 1) + d * (k - 1) + 1  # test-side arithmetic, only to draw sensible targets
        axes.append(
            {
                "n": n,
                "k": k,
                "s": s,
                "d": d,
                "op": draw(st.integers(0, s - 1)),  # onnxruntime: output_padding < stride
                "pads": (draw(st.integers(0, 3)), draw(st.integers(0, 3))),
                "target": draw(st.integers(max(1, extent - 4), extent + s)),
            }
        )
    return {
        "n_batch": draw(st.integers(1, 2)),
        "group": group,
        "cg": 1 if depthwise else draw(st.integers(1, 3)),
        "mg": draw(st.integers(1, 3)),
        "mode": mode,
        "axes": axes,
        "bias": draw(st.booleans()),
        "method": draw(st.sampled_from(kernel.TRANSPOSE_METHODS)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


@SETTINGS
@given(conv_transpose_configs())
def test_conv_transpose_equals_onnxruntime(cfg: dict[str, Any]) -> None:
    axes, mode = cfg["axes"], cfg["mode"]
    rng = np.random.default_rng(cfg["seed"])
    channels = cfg["group"] * cfg["cg"]
    x = rng.standard_normal((cfg["n_batch"], channels, *(a["n"] for a in axes))).astype(np.float32)
    w = rng.standard_normal((channels, cfg["mg"], *(a["k"] for a in axes))).astype(np.float32)
    b = rng.standard_normal(cfg["group"] * cfg["mg"]).astype(np.float32) if cfg["bias"] else None
    attrs: dict[str, Any] = {
        "strides": [a["s"] for a in axes],
        "dilations": [a["d"] for a in axes],
        "group": cfg["group"],
        "output_padding": [a["op"] for a in axes],
    }
    if mode == "pads":
        attrs["pads"] = _flat([a["pads"] for a in axes])
    elif mode == "output_shape":
        attrs["output_shape"] = [a["target"] for a in axes]
    else:
        attrs["auto_pad"] = mode
    initializers = {"w": w} if b is None else {"w": w, "b": b}
    try:
        (expected,) = run_single_node("ConvTranspose", {"x": x}, attrs, initializers)
    except Exception as error:  # onnxruntime rejected it: so must we (no empty output, no far target)
        if "onnxruntime" not in type(error).__module__:
            raise
        with pytest.raises(SpecError):
            kernel.conv_transpose(x, w, b, method=cfg["method"], **attrs)
        return
    assume(expected.size > 0)  # onnxruntime runs zero-sized outputs, which the kernel rejects
    _close(kernel.conv_transpose(x, w, b, method=cfg["method"], **attrs), expected)


@st.composite
def pool_configs(draw: st.DrawFn) -> dict[str, Any]:
    rank = draw(st.integers(1, 3))
    auto_pad = draw(st.sampled_from(AUTO_PADS))
    axes = []
    for _ in range(rank):
        s = draw(st.integers(1, 3))
        # SAME_* with kernel < stride can ask for a negative total pad: onnxruntime rejects (MaxPool) or
        # shifts the window (AveragePool) where ONNX clamps to 0 (test_kernel_runtime_facts.py)
        k = draw(st.integers(s if auto_pad.startswith("SAME") else 1, 4))
        axes.append(
            {
                "n": draw(st.integers(1, LARGEST[rank])),
                "k": k,
                "s": s,
                # onnxruntime pads SAME_* pools as if undilated (test_kernel_runtime_facts.py)
                "d": 1 if auto_pad.startswith("SAME") else draw(st.integers(1, 3)),
                # onnxruntime: pads < kernel
                "pads": (draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))) if auto_pad == "NOTSET" else (0, 0),
            }
        )
    return {
        "n_batch": draw(st.integers(1, 2)),
        "channels": draw(st.integers(1, 3)),
        "auto_pad": auto_pad,
        "ceil_mode": draw(st.integers(0, 1)),
        "count_include_pad": draw(st.integers(0, 1)),
        "axes": axes,
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def _pool_case(cfg: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    axes = cfg["axes"]
    if not cfg["ceil_mode"]:  # onnxruntime truncates toward 0 and runs a window wider than the input
        assume(all(a["d"] * (a["k"] - 1) + 1 <= a["n"] + sum(a["pads"]) for a in axes))
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n_batch"], cfg["channels"], *(a["n"] for a in axes))).astype(np.float32)
    attrs: dict[str, Any] = {
        "kernel_shape": [a["k"] for a in axes],
        "strides": [a["s"] for a in axes],
        "dilations": [a["d"] for a in axes],
        "ceil_mode": cfg["ceil_mode"],
        "auto_pad": cfg["auto_pad"],
    }
    if cfg["auto_pad"] == "NOTSET":
        attrs["pads"] = _flat([a["pads"] for a in axes])
    return x, attrs


def _compare_pool(op: str, ours: Any, x: np.ndarray, attrs: dict[str, Any]) -> None:
    try:
        (expected,) = run_single_node(op, {"x": x}, attrs)
    except Exception as error:
        if "onnxruntime" not in type(error).__module__:
            raise
        with pytest.raises(SpecError):
            ours(x, **attrs)
        return
    if expected.size == 0 or not np.isfinite(expected).all():  # windows on padding only: we refuse them
        with pytest.raises(SpecError):
            ours(x, **attrs)
        return
    try:
        got = ours(x, **attrs)
    except SpecError as error:
        # a dilated window that skips the whole input: onnxruntime averages nothing into a number, we
        # refuse (test_kernel_properties checks that condition by brute force)
        assume("covers only padding" not in str(error))
        raise
    _close(got, expected)


@SETTINGS
@given(pool_configs())
def test_max_pool_equals_onnxruntime(cfg: dict[str, Any]) -> None:
    x, attrs = _pool_case(cfg)
    _compare_pool("MaxPool", kernel.max_pool, x, attrs)


@SETTINGS
@given(pool_configs())
def test_average_pool_equals_onnxruntime(cfg: dict[str, Any]) -> None:
    x, attrs = _pool_case(cfg)
    attrs["count_include_pad"] = cfg["count_include_pad"]
    _compare_pool("AveragePool", kernel.average_pool, x, attrs)


# ----------------------------------------------------------------------------------------------------
# Fixed cases worth keeping in view
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("output_padding", [0, 1])
@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER"])
def test_conv_transpose_output_shape_split(target: int, output_padding: int, auto_pad: str) -> None:
    """in 3, k3, s2: odd totals go to the begin unless SAME_UPPER; a target past the canvas gets zeros."""
    x = np.arange(1, 4, dtype=np.float32).reshape(1, 1, 3)
    w = np.array([[[1.0, 10.0, 100.0]]], np.float32)
    attrs = {
        "strides": [2],
        "output_shape": [target],
        "output_padding": [output_padding],
        "auto_pad": auto_pad,
    }
    (expected,) = run_single_node("ConvTranspose", {"x": x}, attrs, {"w": w})
    for method in kernel.TRANSPOSE_METHODS:
        _close(kernel.conv_transpose(x, w, method=method, **attrs), expected)


def test_u_net_decoder_shapes_equal_onnxruntime() -> None:
    """The benchmark's shapes, scaled down: values equal onnxruntime for every method."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    for k, pads, op in [(3, [1, 1, 1, 1], [1, 1]), (2, [0, 0, 0, 0], [0, 0]), (4, [1, 1, 1, 1], [0, 0])]:
        w = rng.standard_normal((16, 8, k, k)).astype(np.float32)
        attrs = {"strides": [2, 2], "pads": pads, "output_padding": op}
        (expected,) = run_single_node("ConvTranspose", {"x": x}, attrs, {"w": w})
        assert expected.shape == (1, 8, 24, 24)
        for method in kernel.TRANSPOSE_METHODS:
            _close(kernel.conv_transpose(x, w, method=method, **attrs), expected)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    for attrs in [{"pads": [1, 1, 1, 1]}, {"pads": [2, 2, 2, 2], "dilations": [2, 2]}]:
        (expected,) = run_single_node("Conv", {"x": x}, attrs, {"w": w})
        _close(kernel.conv(x, w, **attrs), expected)
    wd = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    (expected,) = run_single_node("Conv", {"x": x}, {"pads": [1, 1, 1, 1], "group": 16}, {"w": wd})
    _close(kernel.conv(x, wd, pads=[1, 1, 1, 1], group=16), expected)
