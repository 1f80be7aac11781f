"""Property tests: shapecheck.kernel and shapecheck.arith confirm each other.

The kernel sizes its outputs from its own construction and never imports arith, so agreement between
the two over random sizes, kernels, strides, begin/end pads, dilations, groups and output_padding in
1-D, 2-D and 3-D is evidence that both are right. The transposed-conv methods must agree with each
other, and conv_transpose must be the adjoint of conv: <conv(x, w), y> = <x, conv_transpose(y, w)>.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shapecheck import arith, kernel
from shapecheck.errors import SpecError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
METHODS = [m for m in kernel.TRANSPOSE_METHODS if m != "auto"]


@dataclass(frozen=True)
class Axis:
    n: int
    k: int
    s: int
    d: int
    pb: int
    pe: int
    op: int  # output_padding (transposed conv), < max(s, d)

    @property
    def pads(self) -> tuple[int, int]:
        return (self.pb, self.pe)


@dataclass(frozen=True)
class Geometry:
    axes: tuple[Axis, ...]
    n_batch: int
    group: int
    cg: int  # input channels per group
    mg: int  # output channels per group

    def attr(self, field: str) -> list[int]:
        return [getattr(a, field) for a in self.axes]

    @property
    def flat_pads(self) -> list[int]:
        return self.attr("pb") + self.attr("pe")

    def arrays(self, seed: int, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (N, C, n...), conv weight (M, C/g, k...), bias (M,)."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((self.n_batch, self.group * self.cg, *self.attr("n"))).astype(dtype)
        w = rng.standard_normal((self.group * self.mg, self.cg, *self.attr("k"))).astype(dtype)
        b = rng.standard_normal(self.group * self.mg).astype(dtype)
        return x, w, b


@st.composite
def geometries(draw: st.DrawFn, max_rank: int = 3) -> Geometry:
    rank = draw(st.integers(1, max_rank))
    largest = {1: 12, 2: 8, 3: 5}[rank]
    axes = []
    for _ in range(rank):
        s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        axes.append(
            Axis(
                n=draw(st.integers(1, largest)),
                k=draw(st.integers(1, 4)),
                s=s,
                d=d,
                pb=draw(st.integers(0, 3)),
                pe=draw(st.integers(0, 3)),
                op=draw(st.integers(0, max(s, d) - 1)),
            )
        )
    return Geometry(
        axes=tuple(axes),
        n_batch=draw(st.integers(1, 2)),
        group=draw(st.integers(1, 3)),
        cg=draw(st.integers(1, 3)),
        mg=draw(st.integers(1, 3)),
    )


def test_kernel_does_not_import_arith() -> None:
    """The kernel may import only shapecheck.errors from shapecheck (the no-arith rule)."""
    tree = ast.parse(inspect.getsource(kernel))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    ours = {name for name in imported if name.startswith("shapecheck")}
    assert ours <= {"shapecheck.errors", "shapecheck.errors.SpecError"}, ours


# ----------------------------------------------------------------------------------------------------
# Sizes: kernel == arith
# ----------------------------------------------------------------------------------------------------


@SETTINGS
@given(geometries())
def test_conv_shape_equals_arith(g: Geometry) -> None:
    x, w, b = g.arrays(0, np.float32)
    sizes = [arith.conv_out(a.n, a.k, stride=a.s, pads=a.pads, dilation=a.d) for a in g.axes]
    call = lambda: kernel.conv(  # noqa: E731
        x, w, b, strides=g.attr("s"), pads=g.flat_pads, dilations=g.attr("d"), group=g.group
    )
    if min(sizes) < 1:
        with pytest.raises(SpecError, match="kernel_shape"):
            call()
        return
    out = call()
    assert out.shape == (g.n_batch, g.group * g.mg, *sizes)
    assert out.dtype == np.float32


@SETTINGS
@given(geometries(), st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID"]))
def test_conv_auto_pad_equals_arith(g: Geometry, mode: str) -> None:
    """auto_pad: the kernel's own padding equals arith.auto_pads (same values as explicit pads)."""
    x, w, _ = g.arrays(1)
    auto = arith.AutoPad(mode)
    pads = [arith.auto_pads(a.n, a.k, auto, stride=a.s, dilation=a.d) for a in g.axes]
    sizes = [arith.conv_out(a.n, a.k, stride=a.s, pads=p, dilation=a.d) for a, p in zip(g.axes, pads)]
    common = {"strides": g.attr("s"), "dilations": g.attr("d"), "group": g.group}
    if min(sizes) < 1:
        with pytest.raises(SpecError):
            kernel.conv(x, w, auto_pad=mode, **common)
        return
    out = kernel.conv(x, w, auto_pad=mode, **common)
    assert out.shape[2:] == tuple(sizes)
    if mode != "VALID":
        assert sizes == [-(-a.n // a.s) for a in g.axes]  # SAME keeps ceil(n / s)
    explicit = kernel.conv(x, w, pads=[p[0] for p in pads] + [p[1] for p in pads], **common)
    np.testing.assert_allclose(out, explicit, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(geometries(), st.booleans(), st.booleans())
def test_pool_shapes_equal_arith(g: Geometry, ceil_mode: bool, include_pad: bool) -> None:
    x, _, _ = g.arrays(2, np.float32)
    sizes = [arith.pool_out(a.n, a.k, stride=a.s, pads=a.pads, dilation=a.d, ceil_mode=ceil_mode) for a in g.axes]
    common = {
        "kernel_shape": g.attr("k"),
        "strides": g.attr("s"),
        "pads": g.flat_pads,
        "ceil_mode": int(ceil_mode),
    }
    calls = [
        lambda: kernel.max_pool(x, dilations=g.attr("d"), **common),
        lambda: kernel.average_pool(x, dilations=g.attr("d"), count_include_pad=int(include_pad), **common),
    ]
    if min(sizes) < 1 or not all(_windows_touch_input(a, o, ceil_mode) for a, o in zip(g.axes, sizes)):
        for call in calls:
            with pytest.raises(SpecError):
                call()
        return
    for call in calls:
        out = call()
        assert out.shape == (g.n_batch, g.group * g.cg, *sizes)
        assert np.isfinite(out).all()


def _windows_touch_input(a: Axis, count: int, ceil_mode: bool) -> bool:
    """Brute force: does every one of ``count`` windows read at least one input position?"""
    return all(any(a.pb <= o * a.s + j * a.d < a.pb + a.n for j in range(a.k)) for o in range(count))


@SETTINGS
@given(geometries(), st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID"]), st.booleans())
def test_pool_auto_pad_equals_arith(g: Geometry, mode: str, ceil_mode: bool) -> None:
    x, _, _ = g.arrays(3)
    auto = arith.AutoPad(mode)
    pads = [arith.auto_pads(a.n, a.k, auto, stride=a.s, dilation=a.d) for a in g.axes]
    sizes = [
        arith.pool_out(a.n, a.k, stride=a.s, pads=p, dilation=a.d, ceil_mode=ceil_mode) for a, p in zip(g.axes, pads)
    ]
    common = {
        "kernel_shape": g.attr("k"),
        "strides": g.attr("s"),
        "dilations": g.attr("d"),
        "ceil_mode": int(ceil_mode),
    }
    explicit_pads = [p[0] for p in pads] + [p[1] for p in pads]
    try:
        expected = kernel.max_pool(x, pads=explicit_pads, **common)
    except SpecError:
        with pytest.raises(SpecError):
            kernel.max_pool(x, auto_pad=mode, **common)
        return
    out = kernel.max_pool(x, auto_pad=mode, **common)
    assert out.shape[2:] == tuple(sizes)
    np.testing.assert_array_equal(out, expected)


@SETTINGS
@given(geometries())
def test_conv_transpose_shape_equals_arith_and_methods_agree(g: Geometry) -> None:
    x, w, b = g.arrays(4)  # x doubles as the transposed conv's input: C = group * cg channels
    wt = np.ascontiguousarray(np.swapaxes(w.reshape(g.group, g.mg, g.cg, *w.shape[2:]), 1, 2))
    wt = wt.reshape(g.group * g.cg, g.mg, *w.shape[2:])  # (C, M/g, k...)
    bias = b[: g.group * g.mg]
    sizes = [
        arith.conv_transpose_out(a.n, a.k, stride=a.s, pads=a.pads, dilation=a.d, output_padding=a.op) for a in g.axes
    ]
    attrs = {
        "strides": g.attr("s"),
        "pads": g.flat_pads,
        "dilations": g.attr("d"),
        "output_padding": g.attr("op"),
        "group": g.group,
    }
    if min(sizes) < 1:
        for method in METHODS:
            with pytest.raises(SpecError, match="pads"):
                kernel.conv_transpose(x, wt, bias, method=method, **attrs)
        return
    results = {m: kernel.conv_transpose(x, wt, bias, method=m, **attrs) for m in kernel.TRANSPOSE_METHODS}
    for method, out in results.items():
        assert out.shape == (g.n_batch, g.group * g.mg, *sizes), method
    for method in METHODS[1:]:
        np.testing.assert_allclose(results[method], results[METHODS[0]], rtol=1e-5, atol=1e-5, err_msg=method)
    np.testing.assert_allclose(results["auto"], results[METHODS[0]], rtol=1e-5, atol=1e-5)


@SETTINGS
@given(geometries(), st.sampled_from(["SAME_UPPER", "SAME_LOWER", "NOTSET"]), st.data())
def test_conv_transpose_auto_pads_equal_arith(g: Geometry, mode: str, data: st.DataObject) -> None:
    """SAME_* and output_shape: the kernel's pad split equals arith.conv_transpose_auto_pads."""
    x, w, _ = g.arrays(5)
    wt = w.reshape(g.group * g.mg, g.cg, *w.shape[2:])  # any (C', M/g, k) weight will do
    x = x[:, :1].repeat(g.group * g.mg, axis=1)
    full = [arith.conv_transpose_out(a.n, a.k, stride=a.s, dilation=a.d, output_padding=a.op) for a in g.axes]
    # the kernel extends the end past the canvas as onnxruntime does; arith clamps: compare inside it
    target = [data.draw(st.integers(1, f), label="output_shape") for f in full] if mode == "NOTSET" else None
    auto = arith.AutoPad(mode)
    pads = [
        arith.conv_transpose_auto_pads(
            a.n,
            a.k,
            auto,
            stride=a.s,
            dilation=a.d,
            output_padding=a.op,
            output_shape=None if target is None else t,
        )
        for a, t in zip(g.axes, target or [None] * len(g.axes))
    ]
    common = {
        "strides": g.attr("s"),
        "dilations": g.attr("d"),
        "output_padding": g.attr("op"),
        "group": g.group,
    }
    explicit_pads = [p[0] for p in pads] + [p[1] for p in pads]
    assume(all(f - p[0] - p[1] >= 1 for f, p in zip(full, pads)))
    expected = kernel.conv_transpose(x, wt, pads=explicit_pads, **common)
    for method in kernel.TRANSPOSE_METHODS:
        out = kernel.conv_transpose(x, wt, auto_pad=mode, output_shape=target, method=method, **common)
        if target is not None:
            assert list(out.shape[2:]) == target
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12, err_msg=method)


# ----------------------------------------------------------------------------------------------------
# Adjoint: conv_transpose is the transpose of conv
# ----------------------------------------------------------------------------------------------------


@SETTINGS
@given(geometries(), st.integers(0, 2**31 - 1))
def test_adjoint_identity(g: Geometry, seed: int) -> None:
    """<conv(x, w), y> == <x, conv_transpose(y, w)> when conv_transpose maps back to x's size.

    The conv weight (M, C/g, k) read as a ConvTranspose weight has M input channels and C/g outputs per
    group; output_padding is the floor remainder that conv dropped.
    """
    sizes = [arith.conv_out(a.n, a.k, stride=a.s, pads=a.pads, dilation=a.d) for a in g.axes]
    assume(min(sizes) >= 1)
    x, w, _ = g.arrays(seed)
    conv_attrs = {"strides": g.attr("s"), "pads": g.flat_pads, "dilations": g.attr("d"), "group": g.group}
    y_shape = (g.n_batch, g.group * g.mg, *sizes)
    y = np.random.default_rng(seed + 1).standard_normal(y_shape)
    remainders = [arith.floor_remainder(a.n, a.k, stride=a.s, pads=a.pads, dilation=a.d) for a in g.axes]
    forward = float(np.vdot(kernel.conv(x, w, **conv_attrs), y))
    for method in kernel.TRANSPOSE_METHODS:
        back = kernel.conv_transpose(y, w, output_padding=remainders, method=method, **conv_attrs)
        assert back.shape == x.shape, method
        np.testing.assert_allclose(float(np.vdot(x, back)), forward, rtol=1e-9, atol=1e-9, err_msg=method)


# ----------------------------------------------------------------------------------------------------
# Parameter errors
# ----------------------------------------------------------------------------------------------------

X2 = np.zeros((1, 4, 5, 5), np.float32)
W2 = np.zeros((6, 2, 3, 3), np.float32)


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: kernel.conv(X2, W2, group=3), "group"),
        (lambda: kernel.conv(X2, W2[:5], group=2), "group"),
        (lambda: kernel.conv(X2, W2, group=0), "group"),
        (lambda: kernel.conv(X2, np.zeros((6, 2, 7, 3), np.float32), group=2), "kernel_shape"),
        (lambda: kernel.conv(X2, W2, group=2, strides=[1]), "strides"),
        (lambda: kernel.conv(X2, W2, group=2, strides=[1, 0]), "strides"),
        (lambda: kernel.conv(X2, W2, group=2, dilations=[1, 1, 1]), "dilations"),
        (lambda: kernel.conv(X2, W2, group=2, pads=[1, 1]), "pads"),
        (lambda: kernel.conv(X2, W2, group=2, pads=[1, 1, -1, 1]), "pads"),
        (lambda: kernel.conv(X2, W2, group=2, pads=[1, 1, 1, 1], auto_pad="SAME_UPPER"), "pads"),
        (lambda: kernel.conv(X2, W2, group=2, auto_pad="SAME"), "auto_pad"),
        (lambda: kernel.conv(X2, W2, group=2, kernel_shape=[3, 2]), "kernel_shape"),
        (lambda: kernel.conv(X2, W2, np.zeros(5, np.float32), group=2), "b"),
        (lambda: kernel.conv(X2[0, 0], W2[0], group=2), "x"),
        (lambda: kernel.conv(X2, W2[..., 0], group=2), "w"),
        (lambda: kernel.conv_transpose(X2, W2[:3]), "w"),
        (lambda: kernel.conv_transpose(X2, W2[:4], group=3), "group"),
        (lambda: kernel.conv_transpose(X2, W2[:4], method="fft"), "method"),
        (lambda: kernel.conv_transpose(X2, W2[:4], output_padding=[1, -1]), "output_padding"),
        (lambda: kernel.conv_transpose(X2, W2[:4], pads=[4, 0, 4, 0]), "pads"),
        (lambda: kernel.conv_transpose(X2, W2[:4], output_shape=[7]), "output_shape"),
        (lambda: kernel.conv_transpose(X2, W2[:4], strides=[2, 2], output_shape=[13, 11]), "output_shape"),
        (lambda: kernel.max_pool(X2, kernel_shape=[6, 1]), "kernel_shape"),
        (lambda: kernel.max_pool(X2, kernel_shape=[2]), "kernel_shape"),
        (lambda: kernel.max_pool(X2, kernel_shape=[2, 2], pads=[2, 0, 0, 0]), "pads"),
        (lambda: kernel.average_pool(X2, kernel_shape=[2, 2], strides=[1, 1, 1]), "strides"),
    ],
)
def test_bad_parameters_raise_spec_error_naming_the_parameter(call: object, parameter: str) -> None:
    with pytest.raises(SpecError) as info:
        call()  # type: ignore[operator]
    assert str(info.value).startswith(parameter), str(info.value)
