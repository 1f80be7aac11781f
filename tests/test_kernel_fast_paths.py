"""The kernel's fast paths against onnxruntime.

``tests/test_kernel_ort.py`` draws small arrays, which the kernel computes with the plain paths. The
fast paths start at larger sizes, so they are checked here, each against onnxruntime (never against
the kernel's own other paths):

* Winograd F(4x4, 3x3) for 3x3 stride-1 2-D convs with many channels (dilated ones split into
  undilated phases; also the zero-insertion transposed conv with a 3x3 kernel, whose inner conv is
  one). Its size thresholds are speed tuning, so most tests lower them (to 16 channels and 8x8
  outputs) to run the path on small arrays; one test checks the default thresholds;
* the unit-stride im2col whose columns are shifts of the flattened padded input (any rank, dilation);
* the unit-stride depthwise conv in cache-sized pieces (blocks of planes or bands of rows).

Each path works in chunks (bands of tile rows, channel blocks, row chunks, pieces); the tests shrink
the chunk sizes so that every boundary case (a short last chunk, a band that lies in the padding, a
single-row band) runs on small arrays. Winograd reassociates the sums of a 3x3 window through its
transforms, so its float32 results are compared to 1e-4 relative and 1e-3 absolute, the benchmark's
tolerance; the other paths keep the 1e-4 of the other kernel tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ort_oracle import run_single_node

from shapecheck import kernel

pytest.importorskip("onnxruntime")

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WINOGRAD_TOL = {"rtol": 1e-4, "atol": 1e-3}
PLAIN_TOL = {"rtol": 1e-4, "atol": 1e-4}


@pytest.fixture
def small_winograd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Winograd from 16 channels each way and 8x8 outputs, so that small arrays take it."""
    monkeypatch.setattr(kernel, "_WINOGRAD_MIN_CHANNELS", 16)
    monkeypatch.setattr(kernel, "_WINOGRAD_MIN_PRODUCT", 1)
    monkeypatch.setattr(kernel, "_WINOGRAD_MIN_OUTPUT", 8)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts the calls of each fast path, so that a test knows it ran the path it is about."""
    counts = {"winograd": 0, "shifted": 0, "depthwise": 0}
    for name, attribute in [
        ("winograd", "_correlate_winograd"),
        ("shifted", "_correlate_shifted"),
        ("depthwise", "_correlate_depthwise"),
    ]:
        original = getattr(kernel, attribute)

        def counted(*args: Any, _original: Callable[..., Any] = original, _name: str = name) -> Any:
            counts[_name] += 1
            return _original(*args)

        monkeypatch.setattr(kernel, attribute, counted)
    yield counts


def _arrays(seed: int, x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: int | None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(bias).astype(np.float32) if bias else None
    return x, w, b


def _conv_case(seed: int, x_shape, w_shape, attrs: dict[str, Any], bias: bool, tol: dict[str, float]) -> None:
    x, w, b = _arrays(seed, x_shape, w_shape, w_shape[0] if bias else None)
    initializers = {"w": w} if b is None else {"w": w, "b": b}
    (expected,) = run_single_node("Conv", {"x": x}, attrs, initializers)
    ours = kernel.conv(x, w, b, **attrs)
    assert ours.shape == expected.shape
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, **tol)


# ----------------------------------------------------------------------------------------------------
# Winograd F(4x4, 3x3)
# ----------------------------------------------------------------------------------------------------

WINOGRAD_CASES = [
    # (x shape, w shape, attrs): the smallest output it takes, odd sizes (partial last tiles on both
    # axes), asymmetric and large pads (whole bands of padding), groups, batch > 1, auto_pad
    ((1, 16, 8, 8), (16, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 16, 10, 10), (16, 16, 3, 3), {}),
    ((2, 17, 37, 21), (19, 17, 3, 3), {"pads": [1, 0, 2, 1]}),
    ((1, 20, 9, 30), (16, 20, 3, 3), {"pads": [4, 5, 0, 3]}),
    ((3, 16, 13, 14), (32, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 64, 19, 23), (48, 32, 3, 3), {"pads": [1, 1, 1, 1], "group": 2}),
    ((2, 48, 11, 12), (48, 16, 3, 3), {"auto_pad": "SAME_UPPER", "group": 3}),
    ((1, 16, 12, 17), (16, 16, 3, 3), {"auto_pad": "VALID"}),
    ((1, 16, 40, 33), (24, 16, 3, 3), {"pads": [1, 1, 1, 1], "strides": [1, 1], "dilations": [1, 1]}),
]


@pytest.mark.usefixtures("small_winograd")
@pytest.mark.parametrize(("x_shape", "w_shape", "attrs"), WINOGRAD_CASES)
@pytest.mark.parametrize("chunks", ["default", "small", "one matmul"])
def test_winograd_equals_onnxruntime(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    attrs: dict[str, Any],
    chunks: str,
    calls: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if chunks == "small":  # bands of 1-2 tile rows; blocks of 1-3 channels; matmuls of 7 tiles (short last ones)
        monkeypatch.setattr(kernel, "_WINOGRAD_BAND_ELEMENTS", 36 * 16 * 8 * 2)
        monkeypatch.setattr(kernel, "_WINOGRAD_BLOCK_ELEMENTS", 300)
        monkeypatch.setattr(kernel, "_WINOGRAD_OUTPUT_BLOCK", 300)
        group = attrs.get("group", 1)
        monkeypatch.setattr(kernel, "_BLAS_SERIAL_WORK", 7 * w_shape[0] // group * w_shape[1])
        monkeypatch.setattr(kernel, "_WINOGRAD_MIN_CHUNK", 1)
    if chunks == "one matmul":  # the channel-mixing matmuls in one call (BLAS threads them)
        monkeypatch.setattr(kernel, "_WINOGRAD_MIN_CHUNK", 10**9)
    _conv_case(sum(x_shape), x_shape, w_shape, attrs, bias=True, tol=WINOGRAD_TOL)
    assert calls["winograd"] == 1


@pytest.mark.usefixtures("small_winograd")
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs", "phases"),
    [
        ((1, 16, 20, 20), (16, 16, 3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2]}, 4),
        ((2, 17, 29, 31), (18, 17, 3, 3), {"pads": [1, 3, 0, 2], "dilations": [3, 2]}, 6),
        ((1, 32, 27, 22), (32, 16, 3, 3), {"pads": [0, 0, 4, 1], "dilations": [1, 2], "group": 2}, 2),
    ],
)
def test_dilated_winograd_phases_equal_onnxruntime(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], attrs: dict[str, Any], phases: int, calls: dict[str, int]
) -> None:
    """A dilated 3x3 conv split into its d1 * d2 undilated phases (unequal sizes when d does not divide
    the padded size), each by Winograd."""
    _conv_case(5, x_shape, w_shape, attrs, bias=True, tol=WINOGRAD_TOL)
    assert calls["winograd"] == phases


@pytest.mark.usefixtures("small_winograd")
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs"),
    [
        ((1, 15, 12, 12), (16, 15, 3, 3), {"pads": [1, 1, 1, 1]}),  # too few input channels
        ((1, 16, 12, 12), (15, 16, 3, 3), {"pads": [1, 1, 1, 1]}),  # too few output channels
        ((1, 16, 7, 12), (16, 16, 3, 3), {"pads": [0, 1, 0, 1]}),  # too few output rows
        ((1, 16, 12, 12), (16, 16, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 1]}),
        ((1, 16, 12, 12), (16, 16, 3, 3), {"pads": [1, 1, 1, 1], "dilations": [1, 2]}),  # phases of 5 columns
        ((1, 16, 12, 12), (16, 16, 3, 2), {"pads": [1, 1, 1, 1]}),
        ((1, 16, 12, 12, 12), (16, 16, 3, 3, 3), {}),
    ],
)
def test_winograd_only_where_it_applies(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], attrs: dict[str, Any], calls: dict[str, int]
) -> None:
    _conv_case(1, x_shape, w_shape, attrs, bias=False, tol=PLAIN_TOL)
    assert calls["winograd"] == 0


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs", "taken"),
    [
        ((1, 64, 32, 32), (64, 64, 3, 3), {"pads": [1, 1, 1, 1]}, True),
        ((1, 64, 68, 34), (64, 64, 3, 3), {"pads": [0, 0, 0, 0], "dilations": [2, 1]}, True),  # 2 phases
        ((1, 32, 64, 64), (32, 32, 3, 3), {"pads": [1, 1, 1, 1]}, False),  # 32 x 32 channels: im2col is faster
        ((1, 128, 31, 40), (128, 128, 3, 3), {"pads": [0, 0, 0, 0]}, False),  # 29 output rows
    ],
)
def test_winograd_default_thresholds(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], attrs: dict[str, Any], taken: bool, calls: dict[str, int]
) -> None:
    _conv_case(4, x_shape, w_shape, attrs, bias=False, tol=WINOGRAD_TOL)
    assert calls["winograd"] == (2 if "dilations" in attrs else 1 if taken else 0)


@pytest.mark.usefixtures("small_winograd")
def test_winograd_float64_keeps_float64(calls: dict[str, int]) -> None:
    """float64 stays float64 through the transforms: the result matches onnxruntime's float32 run on the
    same (float32-representable) values to float32 accuracy, and the adjoint identity to 1e-9."""
    x32, w32, _ = _arrays(7, (2, 24, 21, 18), (20, 24, 3, 3), None)
    x, w = x32.astype(np.float64), w32.astype(np.float64)
    attrs = {"pads": [1, 2, 1, 0]}
    ours = kernel.conv(x, w, **attrs)
    assert ours.dtype == np.float64
    (expected,) = run_single_node("Conv", {"x": x32}, attrs, {"w": w32})
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    y = np.random.default_rng(8).standard_normal(ours.shape)
    back = kernel.conv_transpose(y, w, pads=attrs["pads"], method="zero_insertion")
    assert back.shape == x.shape
    np.testing.assert_allclose(float(np.vdot(x, back)), float(np.vdot(ours, y)), rtol=1e-9)
    assert calls["winograd"] == 2  # the conv, and the zero-insertion transposed conv's inner conv


@pytest.mark.usefixtures("small_winograd")
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs"),
    [
        ((1, 16, 12, 10), (16, 16, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
        ((2, 32, 7, 9), (32, 16, 3, 3), {"strides": [2, 3], "pads": [0, 2, 1, 0], "group": 2}),
        ((1, 16, 10, 10), (16, 20, 3, 3), {"pads": [1, 1, 1, 1]}),
    ],
)
def test_zero_insertion_through_winograd_equals_onnxruntime(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], attrs: dict[str, Any], calls: dict[str, int]
) -> None:
    """The lecture-notes method with a 3x3 kernel: zero insertion, then Winograd for its stride-1 conv."""
    group = attrs.get("group", 1)
    x, w, b = _arrays(3, x_shape, w_shape, w_shape[1] * group)
    (expected,) = run_single_node("ConvTranspose", {"x": x}, attrs, {"w": w, "b": b})
    ours = kernel.conv_transpose(x, w, b, method="zero_insertion", **attrs)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, **WINOGRAD_TOL)
    assert calls["winograd"] == 1


# ----------------------------------------------------------------------------------------------------
# Unit-stride im2col from shifts, and unit-stride depthwise
# ----------------------------------------------------------------------------------------------------


@st.composite
def unit_stride_configs(draw: st.DrawFn, depthwise: bool) -> dict[str, Any]:
    rank = draw(st.integers(1, 3))
    largest = {1: 40, 2: 14, 3: 7}[rank]
    axes = []
    for _ in range(rank):
        k = draw(st.integers(1, 4))
        d = draw(st.integers(1, 3))
        pads = (draw(st.integers(0, 4)), draw(st.integers(0, 4)))
        least = max(1, d * (k - 1) + 1 - sum(pads))  # the dilated kernel fits the padded input
        n = draw(st.integers(least, max(least, largest)))
        axes.append((n, k, d, pads))
    group = draw(st.integers(1, 5))
    return {
        "n_batch": draw(st.integers(1, 3)),
        "group": group,
        "cg": 1 if depthwise else draw(st.integers(2, 5)),
        "mg": draw(st.integers(1, 3)),
        "axes": axes,
        "chunk": draw(st.sampled_from([1, 7, 50, 1000])),  # elements per chunk/piece: 1 makes single rows
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def _unit_stride_case(cfg: dict[str, Any]) -> None:
    axes = cfg["axes"]
    x_shape = (cfg["n_batch"], cfg["group"] * cfg["cg"], *(n for n, *_ in axes))
    w_shape = (cfg["group"] * cfg["mg"], cfg["cg"], *(k for _, k, *_ in axes))
    attrs = {
        "dilations": [d for *_, d, _ in axes],
        "pads": [p[0] for *_, p in axes] + [p[1] for *_, p in axes],
        "group": cfg["group"],
    }
    _conv_case(cfg["seed"], x_shape, w_shape, attrs, bias=True, tol=PLAIN_TOL)


@SETTINGS
@given(unit_stride_configs(depthwise=False))
def test_shifted_im2col_equals_onnxruntime(cfg: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernel, "_CHUNK_ELEMENTS", cfg["chunk"])
        _unit_stride_case(cfg)


@SETTINGS
@given(unit_stride_configs(depthwise=True))
def test_depthwise_pieces_equal_onnxruntime(cfg: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernel, "_DEPTHWISE_BLOCK_ELEMENTS", cfg["chunk"])
        _unit_stride_case(cfg)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs", "path"),
    [
        ((1, 8, 30, 31), (8, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 8}, "depthwise"),
        ((2, 3, 5, 6, 7), (6, 1, 2, 3, 2), {"pads": [1, 0, 1, 0, 1, 2], "group": 3}, "depthwise"),
        ((1, 6, 30, 31), (6, 3, 3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2], "group": 2}, "shifted"),
        ((2, 4, 50), (6, 4, 5), {"pads": [0, 3]}, "shifted"),
    ],
)
def test_unit_stride_paths_taken(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], attrs: dict[str, Any], path: str, calls: dict[str, int]
) -> None:
    _conv_case(2, x_shape, w_shape, attrs, bias=True, tol=PLAIN_TOL)
    assert calls[path] == 1
    assert sum(calls.values()) == 1


@pytest.mark.parametrize("k", [2, 4])
def test_zero_insertion_through_shifted_im2col_equals_onnxruntime(k: int, calls: dict[str, int]) -> None:
    attrs = {"strides": [2, 2], "pads": [1, 0, 1, 1]}
    x, w, b = _arrays(k, (2, 6, 9, 7), (6, 4, k, k), 4)
    (expected,) = run_single_node("ConvTranspose", {"x": x}, attrs, {"w": w, "b": b})
    ours = kernel.conv_transpose(x, w, b, method="zero_insertion", **attrs)
    np.testing.assert_allclose(ours, expected, **PLAIN_TOL)
    assert calls["shifted"] == 1
