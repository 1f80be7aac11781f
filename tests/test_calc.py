"""``shapecheck calc``: every printed size checked against runtimes that know nothing of shapecheck.

The oracles are onnxruntime running a single-node model built with ``onnx.helper`` (the shared helpers of
``tests/ort_oracle.py``), ``onnx.shape_inference`` (for the legacy ceil_mode rule) and PyTorch executing
the layer; no expected size below was produced by
shapecheck itself. The few literal expectations are the ones the task states (the ranking of the most
common transposed-conv settings) or runtime facts that the oracles re-measure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ort_oracle import DEFAULT_OPSET, infer_output_shape, run_single_node

from shapecheck.cli import main

ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------- helpers


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["calc", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def _weights(kernel) -> dict[str, np.ndarray] | None:
    if kernel is None:
        return None
    w = np.asarray(kernel, dtype=np.float32)
    return {"w": w.reshape(1, 1, *w.shape)}


def ort_run(op_type: str, x: np.ndarray, attrs: dict, kernel=None) -> np.ndarray:
    """Run one node in onnxruntime on ``x`` of shape (1, 1, *spatial); return the output array."""
    return run_single_node(op_type, {"x": x.astype(np.float32)}, attrs, _weights(kernel))[0]


def ort_shape(op_type: str, sizes, attrs: dict, kernel_shape=None) -> list[int]:
    """The spatial output shape onnxruntime produces for one node on a (1, 1, *sizes) input."""
    kernel = None if kernel_shape is None else np.ones(kernel_shape, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((1, 1, *sizes))
    return list(ort_run(op_type, x, attrs, kernel).shape[2:])


def _ort_size_or_none(op_type: str, n: int, attrs: dict, k: int) -> int | None:
    """1-D output size in onnxruntime, or None where it refuses the layer (a kernel wider than the input)."""
    if n < 1:
        return None
    try:
        return ort_shape(op_type, [n], attrs, [k])[0]
    except Exception:
        return None


def flat_pads(axes: list[dict]) -> list[int]:
    return [a["pads"][0] for a in axes] + [a["pads"][1] for a in axes]


# ------------------------------------------------------------------------------------------------ conv

CONV_CASES = [
    # argv, ONNX attributes of the same layer
    (["-i", "65", "-k", "3", "-s", "2", "-p", "1"], {"strides": [2], "pads": [1, 1]}),
    (["-i", "64", "-k", "3", "-s", "2", "-p", "1"], {"strides": [2], "pads": [1, 1]}),
    (["-i", "20", "-k", "5", "-s", "3"], {"strides": [3], "pads": [0, 0]}),
    (
        ["-i", "17", "-k", "3", "-s", "2", "-d", "3", "-p", "2"],
        {"strides": [2], "dilations": [3], "pads": [2, 2]},
    ),
    (["-i", "10", "-k", "4", "-s", "3", "-p", "1,2"], {"strides": [3], "pads": [1, 2]}),
    (["-i", "7", "-k", "7"], {"pads": [0, 0]}),
    (["-i", "65,64", "-k", "3", "-s", "2", "-p", "1:2,0:1"], {"strides": [2, 2], "pads": [1, 0, 2, 1]}),
    (["-i", "31,40", "-k", "3,5", "-s", "2,4", "-p", "1,2,0,1"], {"strides": [2, 4], "pads": [1, 2, 0, 1]}),
    (
        ["-i", "19", "-k", "3", "-s", "2", "--auto-pad", "SAME_UPPER"],
        {"strides": [2], "auto_pad": "SAME_UPPER"},
    ),
    (
        ["-i", "20", "-k", "4", "-s", "3", "--auto-pad", "same_lower"],
        {"strides": [3], "auto_pad": "SAME_LOWER"},
    ),
    (["-i", "20", "-k", "4", "-s", "3", "--auto-pad", "VALID"], {"strides": [3], "auto_pad": "VALID"}),
    (["-i", "9,12,11", "-k", "3", "-s", "2"], {"strides": [2, 2, 2], "pads": [0] * 6}),
]


def _kernel_shape(argv: list[str], rank: int) -> list[int]:
    values = [int(v) for v in argv[argv.index("-k") + 1].split(",")]
    return values * rank if len(values) == 1 else values


@pytest.mark.parametrize(("argv", "attrs"), CONV_CASES)
def test_conv_output_matches_onnxruntime(capsys, argv, attrs) -> None:
    result = run_json(capsys, "conv", *argv)
    sizes = [a["input"] for a in result["axes"]]
    kernel_shape = _kernel_shape(argv, len(sizes))
    assert result["output"] == ort_shape("Conv", sizes, attrs, kernel_shape)
    # The attributes the command prints describe the same layer.
    assert result["output"] == ort_shape("Conv", sizes, result["onnx_attributes"], kernel_shape)


@pytest.mark.parametrize(("argv", "attrs"), CONV_CASES[:8])
def test_conv_same_output_inputs_floor_remainder_and_mirror(capsys, argv, attrs) -> None:
    """Checked per axis on 1-D layers in onnxruntime: the preimage exactly, the remainder, the way back."""
    result = run_json(capsys, "conv", *argv)
    for a in result["axes"]:
        layer = {"strides": [a["stride"]], "dilations": [a["dilation"]], "pads": a["pads"]}
        low, high = a["same_output_inputs"]

        def out(n: int, layer=layer, k=a["kernel"]) -> int | None:
            return _ort_size_or_none("Conv", n, layer, k)

        for n in range(low - 3, high + 4):
            assert (out(n) == a["output"]) == (low <= n <= high), n
        # The last r positions of the padded input are unread: r fewer inputs keep the output, r+1 do not.
        r = a["floor_remainder"]
        assert out(a["input"] - r) == a["output"]
        assert out(a["input"] - r - 1) in (None, a["output"] - 1)
        # The ConvTranspose of the same layer with the printed output_padding restores the input size.
        back = {**layer, "output_padding": [a["mirror_output_padding"]]}
        assert ort_shape("ConvTranspose", [a["output"]], back, [a["kernel"]]) == [a["input"]]


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "d"), [(65, 3, 2, 1, 1), (64, 7, 2, 3, 1), (30, 3, 3, 0, 2), (9, 2, 1, 1, 4)]
)
def test_conv_output_matches_pytorch(capsys, n, k, s, p, d) -> None:
    torch = pytest.importorskip("torch")
    result = run_json(
        capsys, "conv", "-i", f"{n},{n + 1}", "-k", str(k), "-s", str(s), "-p", str(p), "-d", str(d)
    )
    y = torch.nn.functional.conv2d(
        torch.zeros(1, 1, n, n + 1), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d
    )
    assert result["output"] == list(y.shape[2:])


def test_conv_text_shows_output_remainder_and_preimage(capsys) -> None:
    code, out, err = run(capsys, "conv", "-i", "65", "-k", "3", "-s", "2", "-p", "1")
    assert code == 0 and err == ""
    o = ort_shape("Conv", [65], {"strides": [2], "pads": [1, 1]}, [3])[0]
    same = [n for n in range(60, 70) if ort_shape("Conv", [n], {"strides": [2], "pads": [1, 1]}, [3])[0] == o]
    rows = {
        line.split("  ")[1].strip(): line.split()[-1]
        for line in out.splitlines()
        if line.startswith("  ") and "  " in line.strip()
    }
    assert rows["output"] == str(o)
    assert "floor remainder" in rows
    assert f"{same[0]}, {same[-1]}" in out if len(same) == 2 else f"{same[0]}..{same[-1]}" in out


def test_text_table_is_aligned(capsys) -> None:
    _, out, _ = run(capsys, "conv", "-i", "65,64", "-k", "3", "-s", "2", "-p", "1")
    table = []
    for line in out.splitlines()[1:]:
        if not line.startswith("  "):
            break
        table.append(line)
    assert len(table) >= 8
    axis1 = table[0].index("axis 1")
    assert all(line[axis1 - 2 : axis1] == "  " and line[axis1] != " " for line in table[1:])


# -------------------------------------------------------------------------------------- conv transpose

CONV_T_CASES = [
    (
        ["-i", "33", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1"],
        {"strides": [2], "pads": [1, 1], "output_padding": [1]},
    ),
    (["-i", "32", "-k", "4", "-s", "2", "-p", "1"], {"strides": [2], "pads": [1, 1]}),
    (
        ["-i", "5", "-k", "3", "-s", "3", "-p", "0:2", "--output-padding", "2"],
        {"strides": [3], "pads": [0, 2], "output_padding": [2]},
    ),
    (
        ["-i", "6", "-k", "3", "-s", "2", "-d", "2", "-p", "5"],
        {"strides": [2], "dilations": [2], "pads": [5, 5]},
    ),
    (["-i", "4", "-k", "3", "-s", "2", "--output-shape", "8"], {"strides": [2], "output_shape": [8]}),
    (["-i", "4", "-k", "3", "-s", "2", "--output-shape", "5"], {"strides": [2], "output_shape": [5]}),
    (
        ["-i", "3", "-k", "3", "-s", "2", "--auto-pad", "SAME_UPPER"],
        {"strides": [2], "auto_pad": "SAME_UPPER"},
    ),
    (
        ["-i", "3", "-k", "4", "-s", "2", "--auto-pad", "SAME_LOWER"],
        {"strides": [2], "auto_pad": "SAME_LOWER"},
    ),
    (
        ["-i", "3", "-k", "3", "-s", "2", "--auto-pad", "SAME_UPPER", "--output-padding", "1"],
        {"strides": [2], "auto_pad": "SAME_UPPER", "output_padding": [1]},
    ),
    (
        ["-i", "16,9", "-k", "2,3", "-s", "2", "-p", "0:0,1:0", "--output-padding", "0,1"],
        {"strides": [2, 2], "pads": [0, 1, 0, 0], "output_padding": [0, 1]},
    ),
]


@pytest.mark.parametrize(("argv", "attrs"), CONV_T_CASES)
def test_conv_transpose_output_matches_onnxruntime(capsys, argv, attrs) -> None:
    result = run_json(capsys, "convtranspose", *argv)
    sizes = [a["input"] for a in result["axes"]]
    kernel_shape = _kernel_shape(argv, len(sizes))
    assert result["output"] == ort_shape("ConvTranspose", sizes, attrs, kernel_shape)
    assert result["output"] == ort_shape("ConvTranspose", sizes, result["onnx_attributes"], kernel_shape)
    # The pads in effect, given explicitly, describe the same layer.
    explicit = {
        "strides": attrs["strides"],
        "pads": flat_pads(result["axes"]),
        "dilations": [a["dilation"] for a in result["axes"]],
        "output_padding": [a["output_padding"] for a in result["axes"]],
    }
    assert result["output"] == ort_shape("ConvTranspose", sizes, explicit, kernel_shape)


@pytest.mark.parametrize(("argv", "attrs"), [c for c in CONV_T_CASES if "output_shape" not in c[1]][:4])
def test_conv_transpose_derivation_is_the_same_computation(capsys, argv, attrs) -> None:
    """Zero insertion + the printed edge pads + a stride-1 conv with the flipped kernel, in onnxruntime,
    reproduces onnxruntime's ConvTranspose value for value — the lecture notes' construction, executed."""
    result = run_json(capsys, "convtranspose", *argv)
    (a,) = result["axes"]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, a["input"])).astype(np.float32)
    w = rng.standard_normal(a["kernel"]).astype(np.float32)
    expected = ort_run("ConvTranspose", x, {**attrs, "dilations": [a["dilation"]]}, w)

    direct = a["as_conv"]
    z = np.zeros(direct["zero_inserted_size"], dtype=np.float32)
    z[:: direct["zeros_between"] + 1] = x[0, 0]
    begin, end = direct["pad_begin"], direct["pad_end"]
    padded = np.concatenate([np.zeros(max(begin, 0)), z, np.zeros(max(end, 0))])
    padded = padded[max(-begin, 0) : len(padded) - max(-end, 0)]
    assert len(padded) == direct["padded_size"]
    got = ort_run("Conv", padded.reshape(1, 1, -1), {"dilations": [direct["dilation"]]}, w[::-1].copy())
    assert got.shape[2] == direct["output"] == a["output"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # T' as the notes define it: the zeros inserted plus both edge pads.
    assert direct["total_padding"] == (direct["zero_inserted_size"] - a["input"]) + begin + end


def test_conv_transpose_conv_preimage_matches_onnxruntime(capsys) -> None:
    result = run_json(capsys, "convtranspose", "-i", "33", "-k", "3", "-s", "2", "-p", "1")
    (a,) = result["axes"]
    low, high = a["conv_preimage"]
    conv = {"strides": [2], "pads": [1, 1]}
    hits = [n for n in range(low - 3, high + 4) if ort_shape("Conv", [n], conv, [3]) == [33]]
    assert hits == list(range(low, high + 1))


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "d", "op"), [(33, 3, 2, 1, 1, 1), (5, 4, 3, 2, 1, 2), (7, 3, 1, 0, 3, 2)]
)
def test_conv_transpose_matches_pytorch(capsys, n, k, s, p, d, op) -> None:
    torch = pytest.importorskip("torch")
    result = run_json(
        capsys,
        "convtranspose",
        "-i",
        str(n),
        "-k",
        str(k),
        "-s",
        str(s),
        "-p",
        str(p),
        "-d",
        str(d),
        "--output-padding",
        str(op),
    )
    y = torch.nn.functional.conv_transpose1d(
        torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op, dilation=d
    )
    assert result["output"] == [y.shape[2]]


def test_output_padding_below_dilation_but_not_stride_is_noted_as_onnxruntime_rejects(capsys) -> None:
    """Runtime fact, re-measured: onnxruntime rejects output_padding >= stride even when < dilation."""
    code, out, _ = run(
        capsys, "convtranspose", "-i", "7", "-k", "3", "-s", "1", "-d", "2", "--output-padding", "1"
    )
    assert code == 0
    assert "onnxruntime rejects" in out
    with pytest.raises(Exception, match="output_padding"):
        ort_shape("ConvTranspose", [7], {"dilations": [2], "output_padding": [1]}, [3])


# ------------------------------------------------------------------------------------------------ pool

POOL_CASES = [
    (
        "MaxPool",
        ["-i", "5", "-k", "2", "-s", "2", "-p", "1", "--ceil-mode"],
        {"strides": [2], "pads": [1, 1], "ceil_mode": 1},
    ),
    ("MaxPool", ["-i", "6", "-k", "3", "-s", "2", "--ceil-mode"], {"strides": [2], "ceil_mode": 1}),
    ("MaxPool", ["-i", "6", "-k", "3", "-s", "2"], {"strides": [2]}),
    (
        "MaxPool",
        ["-i", "19", "-k", "3", "-s", "2", "--auto-pad", "SAME_LOWER"],
        {"strides": [2], "auto_pad": "SAME_LOWER"},
    ),
    (
        "MaxPool",
        ["-i", "6", "-k", "3", "-s", "2", "--auto-pad", "VALID", "--ceil-mode"],
        {"strides": [2], "auto_pad": "VALID", "ceil_mode": 1},
    ),
    (
        "MaxPool",
        ["-i", "13,10", "-k", "3", "-s", "2", "-d", "2", "-p", "1:2,0:0", "--ceil-mode"],
        {"strides": [2, 2], "dilations": [2, 2], "pads": [1, 0, 2, 0], "ceil_mode": 1},
    ),
    (
        "AveragePool",
        ["--kind", "avg", "-i", "11", "-k", "4", "-s", "3", "-p", "1:2", "--ceil-mode"],
        {"strides": [3], "pads": [1, 2], "ceil_mode": 1},
    ),
]


@pytest.mark.parametrize(("op_type", "argv", "attrs"), POOL_CASES)
def test_pool_output_matches_onnxruntime(capsys, op_type, argv, attrs) -> None:
    result = run_json(capsys, "pool", *argv)
    sizes = [a["input"] for a in result["axes"]]
    kernel_shape = _kernel_shape(argv, len(sizes))
    attrs = {**attrs, "kernel_shape": kernel_shape}
    assert result["output"] == ort_shape(op_type, sizes, attrs)
    assert result["output"] == ort_shape(
        op_type, sizes, {**result["onnx_attributes"], "kernel_shape": kernel_shape}
    )


def test_pool_shows_both_ceil_semantics_when_they_differ(capsys) -> None:
    """The runtime-facts case MaxPool(5, k2, s2, p1, ceil): ONNX inference below opset 22 says one more."""
    argv = ["pool", "-i", "5", "-k", "2", "-s", "2", "-p", "1", "--ceil-mode"]
    result = run_json(capsys, *argv)
    (a,) = result["axes"]
    attrs = {"kernel_shape": [2], "strides": [2], "pads": [1, 1], "ceil_mode": 1}
    for opset, key in ((19, "output_ceil_onnx_legacy"), (DEFAULT_OPSET, "output_ceil")):
        inferred = infer_output_shape("MaxPool", {"x": [1, 1, 5]}, attrs, opset=opset)
        assert inferred is not None and a[key] == inferred[2], opset
    assert a["output_ceil_onnx_legacy"] != a["output_ceil"]
    _, out, _ = run(capsys, *argv)
    assert "ONNX inference < opset 22" in out and "onnx.shape_inference below opset 22" in out


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "ceil"),
    [(5, 2, 2, 1, True), (6, 3, 2, 0, True), (28, 3, 2, 1, True), (28, 3, 2, 1, False)],
)
def test_pool_matches_pytorch(capsys, n, k, s, p, ceil) -> None:
    torch = pytest.importorskip("torch")
    result = run_json(
        capsys,
        "pool",
        "-i",
        str(n),
        "-k",
        str(k),
        "-s",
        str(s),
        "-p",
        str(p),
        *(["--ceil-mode"] if ceil else []),
    )
    y = torch.nn.functional.max_pool1d(torch.zeros(1, 1, n), k, stride=s, padding=p, ceil_mode=ceil)
    assert result["output"] == [y.shape[2]]


# ---------------------------------------------------------------------------------------------- target


def test_conv_transpose_target_lists_the_common_settings_first(capsys) -> None:
    result = run_json(capsys, "convtranspose", "-i", "32", "--target", "64")
    settings = result["axes"][0]["settings"]
    firsts = [(s["kernel"], s["stride"], s["pads"][0], s["output_padding"]) for s in settings[:3]]
    assert firsts == [(2, 2, 0, 0), (4, 2, 1, 0), (3, 2, 1, 1)]


def test_conv_target_lists_the_common_settings_first(capsys) -> None:
    result = run_json(capsys, "conv", "-i", "64", "--target", "32")
    firsts = [(s["kernel"], s["stride"], s["pads"][0]) for s in result["axes"][0]["settings"][:3]]
    assert firsts == [(3, 2, 1), (2, 2, 0), (4, 2, 1)]


@pytest.mark.parametrize(("n", "target"), [(32, 64), (17, 33), (10, 31), (64, 64)])
def test_conv_transpose_target_settings_reach_the_target_in_onnxruntime(capsys, n, target) -> None:
    result = run_json(capsys, "convtranspose", "-i", str(n), "--target", str(target), "--limit", "0")
    settings = result["axes"][0]["settings"]
    assert settings
    for s in settings:
        assert s["output_padding"] < s["stride"]  # runnable in onnxruntime as well as PyTorch
        attrs = {
            "strides": [s["stride"]],
            "pads": s["pads"],
            "dilations": [s["dilation"]],
            "output_padding": [s["output_padding"]],
        }
        assert ort_shape("ConvTranspose", [n], attrs, [s["kernel"]]) == [target], s


@pytest.mark.parametrize(("n", "target"), [(64, 32), (65, 33), (224, 56), (31, 31)])
def test_conv_target_settings_reach_the_target_in_onnxruntime(capsys, n, target) -> None:
    result = run_json(capsys, "conv", "-i", str(n), "--target", str(target), "--limit", "0")
    settings = result["axes"][0]["settings"]
    assert settings
    for s in settings:
        attrs = {"strides": [s["stride"]], "pads": s["pads"], "dilations": [s["dilation"]]}
        assert ort_shape("Conv", [n], attrs, [s["kernel"]]) == [target], s


@pytest.mark.parametrize(("n", "target"), [(32, 64), (10, 31)])
def test_conv_transpose_target_is_complete_within_its_box(capsys, n, target) -> None:
    """PyTorch, run over the whole documented box, finds exactly the listed settings."""
    torch = pytest.importorskip("torch")
    result = run_json(capsys, "convtranspose", "-i", str(n), "--target", str(target), "--limit", "0")
    listed = {
        (s["kernel"], s["stride"], s["pads"][0], s["output_padding"]) for s in result["axes"][0]["settings"]
    }
    assert result["axes"][0]["count"] == len(listed)
    search = result["search"]
    expected = set()
    for k in search["kernel"]:
        for s in search["stride"]:
            for p in {p[0] for p in search["pads"]}:
                for op in range(s):
                    if p > k - 1:  # the documented pruning: pads wider than the kernel span crop real outputs
                        continue
                    y = torch.nn.functional.conv_transpose1d(
                        torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op
                    )
                    if y.shape[2] == target:
                        expected.add((k, s, p, op))
    assert listed == expected


def test_conv_target_is_complete_within_its_box(capsys) -> None:
    torch = pytest.importorskip("torch")
    result = run_json(capsys, "conv", "-i", "64", "--target", "32", "--limit", "0")
    listed = {(s["kernel"], s["stride"], s["pads"][0]) for s in result["axes"][0]["settings"]}
    expected = set()
    for k in result["search"]["kernel"]:
        for s in result["search"]["stride"]:
            for p in {p[0] for p in result["search"]["pads"]}:
                if p > k - 1 or 64 + 2 * p < k:
                    continue
                y = torch.nn.functional.conv1d(
                    torch.zeros(1, 1, 64), torch.zeros(1, 1, k), stride=s, padding=p
                )
                if y.shape[2] == 32:
                    expected.add((k, s, p))
    assert listed == expected


def test_target_respects_fixed_options_and_axes(capsys) -> None:
    result = run_json(capsys, "convtranspose", "-i", "32,31", "--target", "64,62", "-s", "2")
    assert [a["target"] for a in result["axes"]] == [64, 62]
    for n, a in zip((32, 31), result["axes"]):
        assert a["settings"] and all(s["stride"] == 2 for s in a["settings"])
        for s in a["settings"][:3]:
            attrs = {"strides": [2], "pads": s["pads"], "output_padding": [s["output_padding"]]}
            assert ort_shape("ConvTranspose", [n], attrs, [s["kernel"]]) == [a["target"]]


def test_target_text_and_limit(capsys) -> None:
    code, out, _ = run(capsys, "convtranspose", "-i", "32", "--target", "64", "--limit", "2")
    assert code == 0
    assert "settings that take 32 to 64" in out
    assert "showing the first 2" in out


def test_target_without_solution_says_so(capsys) -> None:
    code, out, _ = run(capsys, "conv", "-i", "8", "--target", "100")
    assert code == 0 and "none found" in out


# --------------------------------------------------------------------------------------------- confirm


def _kernel():
    try:
        from shapecheck import kernel
    except ImportError:
        pytest.skip("shapecheck.kernel is not available")
    return kernel


@pytest.mark.parametrize(
    "argv",
    [
        ["conv", "-i", "65,64", "-k", "3", "-s", "2", "-p", "1:2,0:1"],
        ["conv", "-i", "19", "-k", "3", "-s", "2", "--auto-pad", "SAME_LOWER"],
        ["convtranspose", "-i", "33", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1"],
        ["convtranspose", "-i", "4", "-k", "3", "-s", "2", "--output-shape", "8"],
        ["convtranspose", "-i", "6", "-k", "3", "-s", "2", "-d", "2", "-p", "5"],
        ["pool", "-i", "5", "-k", "2", "-s", "2", "-p", "1", "--ceil-mode"],
        ["pool", "--kind", "avg", "-i", "11,9", "-k", "4,3", "-s", "3", "-p", "1:2,1", "--ceil-mode"],
    ],
)
def test_confirm_agrees_with_the_kernel_and_onnxruntime(capsys, argv) -> None:
    _kernel()
    code, out, err = run(capsys, *argv, "--confirm", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["confirm"] == {"kernel_output": result["output"], "agrees": True}
    code, out, _ = run(capsys, *argv, "--confirm")
    assert code == 0 and "agrees" in out


def test_confirm_target_runs_every_listed_setting(capsys) -> None:
    _kernel()
    code, out, err = run(capsys, "convtranspose", "-i", "32", "--target", "64", "--confirm", "--json")
    assert code == 0, err
    settings = json.loads(out)["axes"][0]["settings"]
    assert settings and all(s["confirmed"] is True for s in settings)


def test_confirm_mismatch_is_loud_and_exit_1(capsys, monkeypatch) -> None:
    kernel = _kernel()
    real = kernel.conv
    monkeypatch.setattr(kernel, "conv", lambda x, w, **kw: real(x, w, **kw)[..., :-1])
    code, out, err = run(capsys, "conv", "-i", "65", "-k", "3", "-s", "2", "-p", "1", "--confirm")
    assert code == 1
    assert "DISAGREES" in out
    assert "INTERNAL DISAGREEMENT" in err and "bug" in err


# ------------------------------------------------------------------------------------------ bad input

BAD_INPUT = [
    (["conv", "-i", "0", "-k", "3"], "--input"),
    (["conv", "-i", "-5", "-k", "3"], "--input"),
    (["conv", "-i", "10", "-k", "0"], "--kernel"),
    (["conv", "-i", "10", "-k", "3", "-s", "0"], "--stride"),
    (["conv", "-i", "10", "-k", "3", "-d", "0"], "--dilation"),
    (["conv", "-i", "3", "-k", "7", "-p", "1"], "--kernel"),
    (["conv", "-i", "6x", "-k", "3"], "--input"),
    (["conv", "-i", "3,,4", "-k", "3"], "--input"),
    (["conv", "-i", "65,64", "-k", "3,3,3"], "--kernel"),
    (["conv", "-i", "10", "-k", "3", "-p", "1,2,3"], "--pads"),
    (["conv", "-i", "10,10", "-k", "3", "-p", "1:2,3:4,5"], "--pads"),
    (["conv", "-i", "10", "-k", "3", "-p", "a:b"], "--pads"),
    (["conv", "-i", "10", "-k", "3", "-p=-1"], "--pads"),
    (["conv", "-i", "10", "-k", "3", "-p", "1", "--auto-pad", "SAME_UPPER"], "--pads"),
    (["conv", "-i", "10"], "--kernel"),
    (["convtranspose", "-i", "4", "-k", "3", "-s", "2", "--output-padding", "2"], "--output-padding"),
    (
        ["convtranspose", "-i", "4", "-k", "3", "-s", "1", "-d", "2", "--output-padding", "2"],
        "--output-padding",
    ),
    (["convtranspose", "-i", "4", "-k", "3", "-s", "2", "--output-shape", "20"], "--output-shape"),
    (["convtranspose", "-i", "2", "-k", "1", "-p", "3"], "--pads"),
    (["convtranspose", "-i", "4", "-k", "3", "-p", "1", "--output-shape", "8"], "--pads"),
    (["pool", "-i", "5", "-k", "2", "-p", "2"], "--pads"),
    (["pool", "-i", "5", "-k", "7"], "--kernel"),
]


@pytest.mark.parametrize(("argv", "option"), BAD_INPUT)
def test_bad_input_is_one_line_naming_the_option_and_range(capsys, argv, option) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert option in lines[0] and "legal" in lines[0], lines[0]


def test_illegal_output_padding_is_rejected_by_onnxruntime_too() -> None:
    with pytest.raises(Exception, match="output_padding"):
        ort_shape("ConvTranspose", [4], {"strides": [2], "output_padding": [2]}, [3])


def _subprocess(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "shapecheck", "calc", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["convtranspose", "-i", "33", "-k", "3", "-s", "2", "--output-padding", "2"],
        ["conv", "-i", "65,64", "-k", "3,3,3"],
        ["conv", "-i", "0", "-k", "3"],
        ["conv", "-i", "10", "-k", "3", "--auto-pad", "SIDEWAYS"],
        ["pool"],
    ],
)
def test_subprocess_bad_input_exit_2_one_line_no_traceback(argv) -> None:
    done = _subprocess(*argv)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_subprocess_success_and_json() -> None:
    done = _subprocess(
        "convtranspose", "-i", "33", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1", "--json"
    )
    assert done.returncode == 0 and done.stderr == ""
    result = json.loads(done.stdout)
    attrs = {"strides": [2], "pads": [1, 1], "output_padding": [1]}
    assert result["output"] == ort_shape("ConvTranspose", [33], attrs, [3])


def test_command_module_import_is_cheap() -> None:
    heavy = "('numpy', 'onnx', 'rich')"
    code = f"import sys, shapecheck.commands.calc; sys.exit(any(m in sys.modules for m in {heavy}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_help_documents_the_pads_syntax(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["calc", "conv", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "1:2,0:1" in out and "ONNX order" in out


def test_calc_without_operator_prints_help_and_exit_2(capsys) -> None:
    assert main(["calc"]) == 2
    assert "convtranspose" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- json

COMMON_TOP = {"op", "mode", "auto_pad", "output", "axes", "onnx_attributes", "notes", "confirm"}
COMMON_AXIS = {"input", "kernel", "stride", "dilation", "pads", "output"}


def test_json_keys_are_the_documented_ones(capsys) -> None:
    conv = run_json(capsys, "conv", "-i", "65,64", "-k", "3", "-s", "2", "-p", "1")
    assert set(conv) == COMMON_TOP
    assert set(conv["axes"][0]) == COMMON_AXIS | {
        "floor_remainder",
        "same_output_inputs",
        "mirror_output_padding",
        "mirror_reason",
    }
    convt = run_json(
        capsys, "convtranspose", "-i", "33", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1"
    )
    assert set(convt) == COMMON_TOP
    assert set(convt["axes"][0]) == COMMON_AXIS | {
        "output_padding",
        "output_shape",
        "as_conv",
        "conv_preimage",
    }
    assert set(convt["axes"][0]["as_conv"]) == {
        "zeros_between",
        "zero_inserted_size",
        "pad_begin",
        "pad_end",
        "total_padding",
        "padded_size",
        "kernel",
        "dilation",
        "output",
    }
    pool = run_json(capsys, "pool", "-i", "5", "-k", "2", "-s", "2", "-p", "1", "--ceil-mode")
    assert set(pool) == COMMON_TOP | {"kind", "ceil_mode"}
    assert set(pool["axes"][0]) == COMMON_AXIS | {
        "floor_remainder",
        "same_output_inputs",
        "output_floor",
        "output_ceil",
        "output_ceil_onnx_legacy",
    }
    target = run_json(capsys, "convtranspose", "-i", "32", "--target", "64")
    assert set(target) == {"op", "mode", "auto_pad", "search", "axes"}
    assert set(target["search"]) == {"kernel", "stride", "pads", "dilation", "output_padding"}
    assert set(target["axes"][0]) == {"input", "target", "count", "settings"}
    assert set(target["axes"][0]["settings"][0]) == {
        "kernel",
        "stride",
        "dilation",
        "pads",
        "output_padding",
        "output",
        "floor_remainder",
        "pattern",
        "notes",
        "confirmed",
    }
    assert target["mode"] == "target" and conv["mode"] == "compute"


def test_json_notes_carry_the_runtime_disagreements(capsys) -> None:
    result = run_json(capsys, "conv", "-i", "19", "-k", "3", "-s", "2", "-d", "2", "--auto-pad", "SAME_UPPER")
    assert any("dilation" in note for note in result["notes"])
    with pytest.raises(Exception, match=r"[Dd]ilation"):
        ort_shape("Conv", [19], {"strides": [2], "dilations": [2], "auto_pad": "SAME_UPPER"}, [3])


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_same_output_inputs_follow_auto_pad_in_onnxruntime(capsys, auto_pad) -> None:
    """With auto_pad the pads move with the input size, so the preimage is checked with auto_pad itself."""
    for op, op_type in (("conv", "Conv"), ("pool", "MaxPool")):
        result = run_json(capsys, op, "-i", "19", "-k", "3", "-s", "3", "--auto-pad", auto_pad)
        (a,) = result["axes"]
        low, high = a["same_output_inputs"]
        attrs = {"strides": [3], "auto_pad": auto_pad}
        if op_type == "MaxPool":
            attrs["kernel_shape"] = [3]
        sizes = {}
        for n in range(max(1, low - 4), high + 5):
            try:
                sizes[n] = ort_shape(op_type, [n], attrs, [3] if op_type == "Conv" else None)[0]
            except Exception:
                sizes[n] = None
        assert [n for n, o in sizes.items() if o == a["output"]] == list(range(low, high + 1)), op


def test_pool_floor_same_output_inputs_match_onnxruntime(capsys) -> None:
    result = run_json(capsys, "pool", "-i", "28", "-k", "3", "-s", "2", "-p", "1")
    (a,) = result["axes"]
    low, high = a["same_output_inputs"]
    attrs = {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}
    hits = [n for n in range(low - 4, high + 5) if ort_shape("MaxPool", [n], attrs) == [a["output"]]]
    assert hits == list(range(low, high + 1))


def test_pool_pad_above_half_kernel_is_noted_for_pytorch_only(capsys) -> None:
    """Runtime facts, re-measured: onnxruntime runs pads 2 with k3; PyTorch refuses pad > kernel/2."""
    torch = pytest.importorskip("torch")
    result = run_json(capsys, "pool", "-i", "9", "-k", "3", "-s", "2", "-p", "2")
    assert any("PyTorch" in note for note in result["notes"])
    assert result["output"] == ort_shape(
        "MaxPool", [9], {"kernel_shape": [3], "strides": [2], "pads": [2, 2]}
    )
    with pytest.raises(RuntimeError):
        torch.nn.functional.max_pool1d(torch.zeros(1, 1, 9), 3, stride=2, padding=2)


def test_same_upper_with_output_padding_notes_shape_inference_disagreement(capsys) -> None:
    """Runtime facts, re-measured: ONNX shape inference and onnxruntime differ; calc follows onnxruntime."""
    argv = ["-i", "3", "-k", "3", "-s", "2", "--auto-pad", "SAME_UPPER", "--output-padding", "1"]
    result = run_json(capsys, "convtranspose", *argv)
    attrs = {"kernel_shape": [3], "strides": [2], "auto_pad": "SAME_UPPER", "output_padding": [1]}
    inferred = infer_output_shape("ConvTranspose", {"x": [1, 1, 3]}, attrs, _weights(np.ones(3)))
    runtime = ort_shape("ConvTranspose", [3], attrs, [3])
    assert inferred is not None and inferred[2] != runtime[0]
    assert result["output"] == runtime
    assert any("shape inference" in note for note in result["notes"])


@pytest.mark.parametrize(("op", "op_type"), [("conv", "Conv"), ("convtranspose", "ConvTranspose")])
def test_target_with_auto_pad_settings_reach_the_target_in_onnxruntime(capsys, op, op_type) -> None:
    n, target = (64, 32) if op == "conv" else (32, 64)
    result = run_json(
        capsys, op, "-i", str(n), "--target", str(target), "--auto-pad", "SAME_LOWER", "--limit", "0"
    )
    settings = result["axes"][0]["settings"]
    assert settings
    for s in settings:
        attrs = {"strides": [s["stride"]], "auto_pad": "SAME_LOWER"}
        if op == "convtranspose":
            attrs["output_padding"] = [s["output_padding"]]
        assert ort_shape(op_type, [n], attrs, [s["kernel"]]) == [target], s
