"""``shapecheck inspect``: output formats and bad input (exit 2, one line naming the file and place)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from shapecheck.cli import main

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shapecheck", *argv], capture_output=True, text=True)


def _one_line_error(process: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert "Traceback" not in process.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def _conv_model(tmp_path, *, pads: list[int], name: str = "bad.onnx") -> str:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", pads=pads)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3, 3], [0.0] * 9)],
    )
    path = str(tmp_path / name)
    onnx.save(helper.make_model(graph), path)
    return path


def test_json_document(capsys) -> None:
    path = os.path.join(FIXTURES, "unet_k2s2_odd_breaks.onnx")
    assert main(["inspect", path, "--dim", "H=37", "--dim", "W=40", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1 and document["format"] == "onnx" and document["dims"] == {"H": 37, "W": 40}
    first = document["nodes"][0]
    assert set(first) == {"name", "op", "attributes", "inputs", "outputs"}
    assert first["inputs"][0] == {"tensor": "input", "shape": [1, 1, 37, 40]}


def test_symbolic_dims_stay_symbolic_in_json(capsys) -> None:
    path = os.path.join(FIXTURES, "unet_k2s2_odd_breaks.onnx")
    assert main(["inspect", path, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    pools = [n for n in document["nodes"] if n["op"] == "MaxPool"]
    assert pools[0]["outputs"][0]["shape"][2] == "floor(H/2)"


def test_text_table_when_piped() -> None:
    process = _run("inspect", os.path.join(FIXTURES, "unet_k2s2_odd_breaks.onnx"), "--dim", "H=37", "--dim",
                   "W=37")
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert lines[1].split()[:3] == ["node", "op", "attributes"]
    pool = next(line for line in lines if "MaxPool" in line)
    assert "1x4x37x37" in pool or "x37x37" in pool
    assert pool.rstrip().endswith("1,1")  # 37 = 2*18 + 1: one row and one column dropped by the floor


def test_not_an_onnx_file(tmp_path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00\x01garbage" * 50)
    _one_line_error(_run("inspect", str(path)), "junk.onnx")


def test_truncated_onnx_file(tmp_path) -> None:
    with open(os.path.join(FIXTURES, "unet_k2s2_odd_breaks.onnx"), "rb") as model:
        data = model.read()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 3])
    _one_line_error(_run("inspect", str(path)), "cut.onnx")


def test_missing_file(tmp_path) -> None:
    _one_line_error(_run("inspect", str(tmp_path / "nope.onnx")), "nope.onnx")


def test_unknown_dim(tmp_path) -> None:
    _one_line_error(_run("inspect", _conv_model(tmp_path, pads=[1, 1, 1, 1]), "--dim", "Q=3"), "Q", "H")


@pytest.mark.parametrize("value", ["H=0", "H=-4", "H=two", "H", "H=99999999999"])
def test_bad_dim_values(tmp_path, value: str) -> None:
    _one_line_error(_run("inspect", _conv_model(tmp_path, pads=[1, 1, 1, 1]), "--dim", value), "--dim")


def test_attribute_length_does_not_match_rank(tmp_path) -> None:
    _one_line_error(_run("inspect", _conv_model(tmp_path, pads=[1, 1]), "--dim", "H=8", "--dim", "W=8"),
                    "bad.onnx", "conv0", "pads")


def test_cycle(tmp_path) -> None:
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"],
                                                                                    name="second")]
    graph = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    path = str(tmp_path / "cycle.onnx")
    onnx.save(helper.make_model(graph), path)
    _one_line_error(_run("inspect", path), "cycle.onnx", "cycle", "first", "second")


def test_unknown_suffix(tmp_path) -> None:
    path = tmp_path / "model.txt"
    path.write_text("hello")
    _one_line_error(_run("inspect", str(path)), "model.txt")
