"""``shapecheck fix``: YAML text edits keep everything else, ONNX edits keep the weights, both re-check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import onnx
import pytest
from ort_models import feeds_for

from shapecheck.check import check_file
from shapecheck.cli import main
from shapecheck.findings import Severity

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def test_yaml_fix_changes_only_the_fixed_layer(tmp_path, capsys) -> None:
    source = os.path.join(FIXTURES, "yaml", "tiny_unet_odd.yaml")
    out = tmp_path / "fixed.yaml"
    assert main(["fix", source, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "re-checked: 0 error(s)" in printed
    with open(source, encoding="utf-8") as original:
        before = original.read().splitlines()
    after = out.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and "name: up1" in changed[0][0]
    assert changed[0][1].endswith("output_padding: 1}")
    assert before[0].startswith("#") and after[0] == before[0]  # comments survive
    assert not [f for f in check_file(str(out)).findings if f.severity is Severity.ERROR]


def test_yaml_fix_in_block_style(tmp_path) -> None:
    text = """shapecheck: 1
inputs: {x: [1, 3, 65, 65]}
layers:
  - name: enc   # the skip
    op: conv
    input: x
    out_channels: 8
    kernel_size: 3
    padding: 1
  - {name: pool, op: maxpool, kernel_size: 2, stride: 2}
  - name: up
    op: conv_transpose
    out_channels: 8
    kernel_size: 2
    stride: 2
  - {name: cat, op: concat, inputs: [up, enc], axis: 1}
"""
    source = tmp_path / "block.yaml"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "block_fixed.yaml"
    assert main(["fix", str(source), "-o", str(out)]) == 0
    fixed = out.read_text(encoding="utf-8")
    assert "    stride: 2\n    output_padding: 1\n" in fixed
    assert "# the skip" in fixed
    assert fixed.replace("    output_padding: 1\n", "", 1) == text


def test_diff_writes_nothing(tmp_path, capsys) -> None:
    source = tmp_path / "model.yaml"
    shutil.copy(os.path.join(FIXTURES, "yaml", "tiny_unet_odd.yaml"), source)
    before = source.read_text(encoding="utf-8")
    assert main(["fix", str(source), "--diff"]) == 0
    diff = capsys.readouterr().out
    assert "+  - {name: up1" in diff and "output_padding: 1}" in diff
    assert source.read_text(encoding="utf-8") == before


def test_onnx_fix_runs_in_onnxruntime(tmp_path, capsys) -> None:
    ort = pytest.importorskip("onnxruntime")
    source = os.path.join(FIXTURES, "onnx", "unet_twin.onnx")
    out = str(tmp_path / "fixed.onnx")
    assert main(["fix", source, "--dim", "H=37", "--dim", "W=37", "-o", out]) == 0
    model = onnx.load(out)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    result = session.run(None, feeds_for(model, {"H": 37, "W": 37}))[0]
    assert result.shape == (1, 2, 37, 37)


def test_fix_without_output_is_a_usage_error() -> None:
    process = subprocess.run([sys.executable, "-m", "shapecheck", "fix",
                              os.path.join(FIXTURES, "yaml", "tiny_unet_odd.yaml")], capture_output=True, text=True)
    assert process.returncode == 2 and len(process.stderr.strip().splitlines()) == 1
