"""The YAML model format: refused inputs point at their line:col and field; good models load, translate
and propagate to the shapes PyTorch and onnxruntime actually produce.

Oracles from outside the project: every layer of a set of YAML models is run in PyTorch (the format's
semantics: parameter names are passed to ``torch.nn`` unchanged), and a few models are rebuilt by hand as
ONNX graphs with :mod:`onnx.helper` and run in onnxruntime with every intermediate tensor as an output.
Expected error positions are found by searching the YAML text, not by asking the YAML parser.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from shapecheck.errors import LoadError
from shapecheck.expect import check_expectations
from shapecheck.facts import FactKind
from shapecheck.graph import ModelGraph, SourceLocation
from shapecheck.load import load_model
from shapecheck.load import yaml as yaml_format
from shapecheck.load.yaml import LAYERS, load_yaml, reference_markdown
from shapecheck.propagate import Propagation, propagate
from shapecheck.symbolic import symbol

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "yaml"
DOC = ROOT / "docs" / "yaml-format.md"
HEADER = "shapecheck: 1\ninputs:\n  x: [1, 3, H, W]\ndims: {H: 32, W: 32}\n"


# -- helpers -----------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "model.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _layers(*lines: str, header: str = HEADER, tail: str = "") -> str:
    return header + "layers:\n" + "".join(f"  {line}\n" for line in lines) + tail


def _at(text: str, needle: str, *, value: bool = False, occurrence: int = 1) -> str:
    """1-based ``line:col`` of ``needle`` in ``text``; with ``value``, of the value after ``key: ``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    if value:
        index += needle.index(": ") + 2
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


def _load(tmp_path: Path, text: str) -> ModelGraph:
    return load_yaml(_write(tmp_path, text))


def _error(tmp_path: Path, text: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        _load(tmp_path, text)
    return caught.value


def _shapes(result: Propagation) -> dict[str, tuple[Any, ...] | None]:
    return {name: result.shape(name) for name in result.tensors}


# -- refused inputs: the error's line:col and field path ----------------------------------------------------

_BLOCK_LAYER = "- name: c1\n    op: conv\n    out_channels: 8\n    kernel_size: 3\n"

BAD = [
    # id, text, where (needle, value?, occurrence), field path, words in the message
    ("unknown-op", _layers("- {name: c1, op: convv, out_channels: 8, kernel_size: 3}"),
     ("convv", False, 1), "layers[0].op", "did you mean 'conv'"),
    ("unknown-key", _layers(_BLOCK_LAYER + "    strides: 2"),
     ("strides", False, 1), "layers[0].strides", "unknown key 'strides' (did you mean 'stride'?)"),
    ("unknown-top-level-key", HEADER + "layer:\n  - {name: c1, op: relu}\n",
     ("layer:", False, 1), "layer", "did you mean 'layers'"),
    ("duplicate-name", _layers("- {name: c1, op: relu}", "- {name: c1, op: relu}"),
     ("c1", False, 2), "layers[1].name", "duplicate name 'c1' (first defined at 6:12)"),
    ("name-of-an-input", _layers("- {name: x, op: relu}"),
     ("x, op", False, 1), "layers[0].name", "duplicate name 'x'"),
    ("undefined-input", _layers("- {name: c1, op: relu, input: y}"),
     ("input: y", True, 1), "layers[0].input", "'y' is not an input or an earlier layer"),
    ("forward-reference", _layers("- {name: c1, op: relu, input: c2}", "- {name: c2, op: relu}"),
     ("input: c2", True, 1), "layers[0].input", "defined later, at layers[1]"),
    ("undefined-in-inputs", _layers("- {name: c1, op: relu}", "- {name: j, op: concat, inputs: [c1, enc]}"),
     ("enc]", False, 1), "layers[1].inputs[1]", "'enc' is not an input"),
    ("stride-two", _layers("- {name: c1, op: conv, out_channels: 8, kernel_size: 3, stride: two}"),
     ("stride: two", True, 1), "layers[0].stride", "got 'two'"),
    ("kernel-size-zero", _layers("- {name: c1, op: conv, out_channels: 8, kernel_size: 0}"),
     ("kernel_size: 0", True, 1), "layers[0].kernel_size", "integer >= 1"),
    ("negative-channels", _layers("- {name: c1, op: conv, out_channels: -8, kernel_size: 3}"),
     ("out_channels: -8", True, 1), "layers[0].out_channels", "got -8"),
    ("negative-padding", _layers("- {name: c1, op: conv, out_channels: 8, kernel_size: 3, padding: -1}"),
     ("padding: -1", True, 1), "layers[0].padding", "got -1"),
    ("negative-in-a-list", _layers("- {name: p, op: maxpool, kernel_size: [2, -2]}"),
     ("kernel_size: [", True, 1), "layers[0].kernel_size", "got [2, -2]"),
    ("bool-is-not-an-int", _layers("- {name: c1, op: conv, out_channels: true, kernel_size: 3}"),
     ("out_channels: true", True, 1), "layers[0].out_channels", "got True"),
    ("wrong-version", "shapecheck: 2\n" + HEADER.split("\n", 1)[1] + "layers:\n  - {name: c1, op: relu}\n",
     ("shapecheck: 2", True, 1), "shapecheck", "reads format version 1, the file says 2"),
    ("missing-version", HEADER.split("\n", 1)[1] + "layers:\n  - {name: c1, op: relu}\n",
     ("inputs", False, 1), "", "missing the format version"),
    ("kernel-list-vs-rank", _layers("- {name: c1, op: conv, out_channels: 8, kernel_size: [3, 3, 3]}"),
     ("kernel_size: [", True, 1), "layers[0].kernel_size",
     "has 3 values but input 'x' (rank 4) has 2 spatial axes"),
    ("padding-pairs-vs-rank", _layers("- {name: c1, op: conv, out_channels: 8, kernel_size: 3, "
                                      "padding: [[0, 1]]}"),
     ("padding: [", True, 1), "layers[0].padding", "padding has 1 values"),
    ("stride-list-vs-rank-1d", _layers("- {name: c1, op: maxpool, kernel_size: 2, stride: [2, 2]}",
                                       header="shapecheck: 1\ninputs:\n  x: [1, 3, 16]\n"),
     ("stride: [", True, 1), "layers[0].stride", "has 1 spatial axis"),
    ("missing-required-key", _layers(_BLOCK_LAYER.replace("    out_channels: 8\n", "").rstrip()),
     ("name: c1", False, 1), "layers[0].out_channels", "missing required key 'out_channels'"),
    ("empty-layers", HEADER + "layers: []\n", ("layers: []", True, 1), "layers", "at least 1"),
    ("layer-not-a-mapping", _layers("- conv"), ("conv", False, 1), "layers[0]", "a layer is a mapping"),
    ("duplicate-key", _layers("- {name: c1, op: relu, name: c2}"),
     ("name", False, 2), "", "duplicate key 'name'"),
    ("unknown-dims-symbol",
     HEADER.replace("{H: 32, W: 32}", "{H: 32, Q: 3}") + "layers:\n  - {name: c, op: relu}\n",
     ("Q: 3", False, 1), "dims.Q", "not a symbol of any input shape"),
    ("expect-unknown-symbol", _layers("- {name: c1, op: relu, expect: [1, 3, Q, W]}"),
     ("expect: [", True, 1), "layers[0].expect", "'Q'"),
    ("expect-bad-expression", _layers("- {name: c1, op: relu, expect: [1, 3, H/2, W]}"),
     ("expect: [", True, 1), "layers[0].expect", "only integers, symbols, + - * //"),
    ("same-padding-with-stride", _layers("- {name: c, op: conv, out_channels: 8, kernel_size: 3, stride: 2, "
                                         "padding: same}"),
     ("padding: same", True, 1), "layers[0].padding", "needs stride 1"),
    ("groups-do-not-divide", _layers("- {name: c, op: conv, out_channels: 8, kernel_size: 3, groups: 3}"),
     ("groups: 3", True, 1), "layers[0].groups", "out_channels 8 is not divisible by groups 3"),
    ("upsample-scale-and-size", _layers("- {name: u, op: upsample, scale_factor: 2, size: 64}"),
     ("{name: u", False, 1), "layers[0]", "exactly one of scale_factor and size"),
    ("upsample-mode-vs-rank", _layers("- {name: u, op: upsample, scale_factor: 2, mode: trilinear}"),
     ("mode: trilinear", True, 1), "layers[0].mode", "needs an input of rank 5"),
    ("concat-ranks", _layers("- {name: c, op: concat, inputs: [x, y]}",
                             header="shapecheck: 1\ninputs:\n  x: [1, 3, 8, 8]\n  y: [1, 3, 8]\n"),
     ("inputs: [", True, 1), "layers[0].inputs", "cannot concatenate 'x' (rank 4) with 'y' (rank 3)"),
    ("concat-one-input", _layers("- {name: c, op: concat, inputs: [x]}"),
     ("inputs: [", True, 1), "layers[0].inputs", "at least 2"),
    ("conv-on-rank-2", _layers("- {name: c, op: conv, out_channels: 8, kernel_size: 3}",
                               header="shapecheck: 1\ninputs:\n  x: [1, 3]\n"),
     ("{name: c", False, 1), "layers[0]", "needs an input of rank >= 3"),
    ("undefined-output", _layers("- {name: c1, op: relu}", tail="outputs: [c2]\n"),
     ("c2", False, 1), "outputs[0]", "'c2' is not an input or a layer"),
    ("implied-input-ambiguous",
     _layers("- {name: c, op: relu}", header="shapecheck: 1\ninputs:\n  x: [1, 3, 8, 8]\n  y: [1, 3, 8]\n"),
     ("{name: c", False, 1), "layers[0]", "needs `input:` because the model has 2 inputs"),
    ("zero-input-dim", "shapecheck: 1\ninputs:\n  x: [1, 3, 0, W]\nlayers:\n  - {name: c, op: relu}\n",
     ("x: [", True, 1), "inputs.x", "a dim is an integer >= 1 or a symbol name"),
    ("flatten-axes", _layers("- {name: f, op: flatten, start_dim: 2, end_dim: 1}"),
     ("end_dim: 1", True, 1), "layers[0].end_dim", "comes before start_dim"),
    ("syntax-error", _layers("- {name: c1, op: relu", "- {name: c2, op: relu}"),
     ("{name: c2", False, 1), "", "YAML: expected ',' or '}'"),
    ("python-tag", HEADER + "layers: !!python/object/apply:os.system ['echo hi']\n",
     ("!!python", False, 1), "", "could not determine a constructor"),
]


@pytest.mark.parametrize(("text", "where", "field", "words"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_input_is_a_load_error_at_its_line_and_column(
    tmp_path: Path, text: str, where: tuple[str, bool, int], field: str, words: str
) -> None:
    error = _error(tmp_path, text)
    needle, value, occurrence = where
    expected_where = _at(text, needle, value=value, occurrence=occurrence)
    assert error.where == expected_where, str(error)
    assert error.path == str(tmp_path / "model.yaml")
    if field:
        assert error.message.startswith(f"{field}: "), error.message
    assert words in error.message
    assert str(error).startswith(f"{error.path}:{expected_where}: ")


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 9):
        previous, current = chr(ord("a") + index - 1), chr(ord("a") + index)
        levels.append(f"{current}: &{current} [" + ", ".join([f"*{previous}"] * 10) + "]")
    text = HEADER + "\n".join(levels) + "\nlayers: [*i]\n"
    start = time.perf_counter()
    error = _error(tmp_path, text)
    assert time.perf_counter() - start < 2.0
    assert "anchors and aliases" in error.message and str(yaml_format.MAX_YAML_NODES) in error.message
    assert error.where is not None


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    text = HEADER + "layers: &a [*a]\n"
    error = _error(tmp_path, text)
    assert "refers to itself" in error.message
    assert error.where == _at(text, "&a")


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, _layers("- {name: c, op: relu}"))
    monkeypatch.setattr(yaml_format, "MAX_FILE_BYTES", 40)
    with pytest.raises(LoadError, match="above the limit of 40 bytes"):
        load_yaml(path)


@pytest.mark.parametrize(("content", "words"), [
    (b"", "the file is empty"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"- a\n- b\n", "a model is a mapping"),
])
def test_unreadable_files(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "model.yaml"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=words):
        load_yaml(path)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot read the file"):
        load_model(tmp_path / "absent.yaml")
    with pytest.raises(LoadError, match=r"unknown model format '\.txt'"):
        load_model(_write(tmp_path, "shapecheck: 1\n", "model.txt"))


# -- good models ---------------------------------------------------------------------------------------------


def test_tiny_unet_translates_to_onnx_nodes() -> None:
    graph = load_model(FIXTURES / "tiny_unet.yaml")
    assert graph.format == "yaml" and graph.dim_defaults == {"H": 64, "W": 64} and graph.outputs == ["head"]
    assert graph.inputs["x"].shape == (1, 3, symbol("H"), symbol("W"))
    nodes = {node.name: node for node in graph.topological_order()}
    assert [n.op for n in nodes.values()] == ["Conv", "MaxPool", "Conv", "ConvTranspose", "Concat", "Conv"]
    assert nodes["enc1"].inputs == ("x",) and nodes["pool1"].inputs == ("enc1",)
    assert nodes["cat1"].inputs == ("up1", "enc1")
    assert dict(nodes["enc1"].attrs) == {"kernel_shape": (3, 3), "strides": (1, 1), "pads": (1, 1, 1, 1),
                                         "dilations": (1, 1), "group": 1, "out_channels": 16}
    assert nodes["pool1"].attr("strides") == (2, 2) and nodes["pool1"].attr("ceil_mode") == 0
    assert nodes["up1"].attr("output_padding") == (0, 0)
    assert nodes["cat1"].attr("axis") == 1
    assert nodes["enc1"].location == SourceLocation(9, 5)
    assert nodes["head"].location == SourceLocation(14, 5)


def test_tiny_unet_propagates_at_its_default_size_and_symbolically() -> None:
    graph = load_model(FIXTURES / "tiny_unet.yaml")
    result = propagate(graph, dims=graph.dim_defaults)
    assert _shapes(result) == {
        "x": (1, 3, 64, 64), "enc1": (1, 16, 64, 64), "pool1": (1, 16, 32, 32), "mid": (1, 32, 32, 32),
        "up1": (1, 16, 64, 64), "cat1": (1, 32, 64, 64), "head": (1, 2, 64, 64),
    }
    assert result.facts == []
    symbolic = propagate(graph)
    assert str(symbolic.shape("up1")[2]) == "2*floor(H/2)"


def test_tiny_unet_odd_reports_the_skip_join_mismatch() -> None:
    graph = load_model(FIXTURES / "tiny_unet_odd.yaml")
    result = propagate(graph, dims=graph.dim_defaults)
    joins = result.facts_of(FactKind.JOIN_MISMATCH)
    assert joins and {f.node for f in joins} == {"cat1"}
    assert {f.data["axis"] for f in joins} == {2, 3}
    assert all(tuple(f.data["sizes"]) == (64, 65) for f in joins)


def test_sequential_stack_any_rank_and_attribute_expansion(tmp_path: Path) -> None:
    text = _layers(
        "- {name: c1, op: conv, out_channels: 4, kernel_size: 3, padding: same, dilation: 2}",
        "- {name: c2, op: conv, out_channels: 4, kernel_size: 4, padding: same}",
        "- {name: c3, op: conv, out_channels: 4, kernel_size: [3, 1, 2], padding: [[0, 1], 1, [2, 0]]}",
        "- {name: p1, op: maxpool, kernel_size: 2}",
        "- {name: p2, op: avgpool, kernel_size: [2, 1, 1], stride: 1, count_include_pad: false}",
        "- {name: a1, op: adaptive_avgpool, output_size: [2, null, 1]}",
        "- {name: g1, op: adaptive_avgpool, output_size: 1}",
        "- {name: s1, op: silu}",
        header="shapecheck: 1\ninputs:\n  x: [1, 2, 8, 9, 10]\n")
    nodes = {n.name: n for n in _load(tmp_path, text).topological_order()}
    assert nodes["c1"].attr("pads") == (2, 2, 2, 2, 2, 2) and nodes["c1"].attr("dilations") == (2, 2, 2)
    assert nodes["c2"].attr("pads") == (1, 1, 1, 2, 2, 2)  # PyTorch puts the odd pad at the end
    assert nodes["c3"].attr("kernel_shape") == (3, 1, 2) and nodes["c3"].attr("pads") == (0, 1, 2, 1, 1, 0)
    assert nodes["p1"].attr("strides") == (2, 2, 2)  # the stride defaults to the kernel, as in PyTorch
    assert nodes["p2"].op == "AveragePool" and nodes["p2"].attr("count_include_pad") == 0
    assert nodes["a1"].op == "AdaptiveAvgPool" and nodes["a1"].attr("output_size") == (2, None, 1)
    assert nodes["g1"].op == "GlobalAveragePool"
    assert nodes["s1"].op == "Identity" and nodes["s1"].attr("torch_op") == "silu"


def test_anchors_merge_keys_and_exponent_floats(tmp_path: Path) -> None:
    text = HEADER + textwrap.dedent("""\
        defaults: &conv3 {op: conv, kernel_size: 3, padding: 1}
        layers:
          - {<<: *conv3, name: c1, out_channels: 8}
          - {name: bn, op: batchnorm, eps: 1e-5, num_features: 8}
          - {<<: *conv3, name: c2, out_channels: 4, padding: 0}
        """)
    error = _error(tmp_path, text)  # an unknown top-level key, even one that only holds an anchor
    assert error.message.startswith("defaults: unknown key")
    anchored = "  - &conv3 {op: conv, kernel_size: 3, padding: 1, name: c0, out_channels: 3}\n"
    text = text.replace("defaults: &conv3 {op: conv, kernel_size: 3, padding: 1}\nlayers:\n",
                        "layers:\n" + anchored)
    graph = _load(tmp_path, text)
    nodes = {n.name: n for n in graph.topological_order()}
    assert nodes["c1"].attr("pads") == (1, 1, 1, 1) and nodes["c2"].attr("pads") == (0, 0, 0, 0)
    assert nodes["bn"].attr("epsilon") == 1e-5
    assert str(nodes["c2"].location) == _at(text, "{<<: *conv3, name: c2")
    assert propagate(graph, dims={"H": 32, "W": 32}).shape("c2") == (1, 4, 30, 30)


def test_node_locations_are_layer_starts(tmp_path: Path) -> None:
    text = _layers("- name: c1\n    op: relu", "- {name: c2, op: tanh}")
    nodes = {n.name: n for n in _load(tmp_path, text).topological_order()}
    assert str(nodes["c1"].location) == _at(text, "name: c1")
    assert str(nodes["c2"].location) == _at(text, "{name: c2")


def test_importing_and_loading_yaml_never_imports_onnx() -> None:
    code = textwrap.dedent(f"""
        import sys
        from shapecheck.load import load_model
        load_model({str(FIXTURES / 'tiny_unet.yaml')!r})
        heavy = sorted(m for m in sys.modules if m == "onnx" or m.startswith("onnx."))
        assert not heavy, heavy
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_load_model_dispatches_onnx_files(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), path)
    assert load_model(path).format == "onnx"
    assert load_model(_write(tmp_path, _layers("- {name: c, op: relu}"), "m.yml")).format == "yaml"


# -- what the YAML-only rules and the loader's channel declarations report ----------------------------------

FACTS = [
    ("conv-in-channels", "- {name: l, op: conv, in_channels: 4, out_channels: 8, kernel_size: 3}",
     FactKind.CHANNEL_MISMATCH),
    ("batchnorm-num-features", "- {name: l, op: batchnorm, num_features: 4}", FactKind.CHANNEL_MISMATCH),
    ("instancenorm-num-features", "- {name: l, op: instancenorm, num_features: 4}",
     FactKind.CHANNEL_MISMATCH),
    ("linear-in-features", "- {name: l, op: linear, in_features: 31, out_features: 10}",
     FactKind.CHANNEL_MISMATCH),
    ("pixel-shuffle-channels", "- {name: l, op: pixel_shuffle, upscale_factor: 2}",
     FactKind.CHANNEL_MISMATCH),
    ("pixel-unshuffle-odd", "- {name: l, op: pixel_unshuffle, downscale_factor: 3}", FactKind.BAD_ATTRIBUTE),
    ("reflect-too-wide", "- {name: l, op: pad, padding: 32, mode: reflect}", FactKind.BAD_ATTRIBUTE),
    ("crop-too-large", "- {name: l, op: crop, size: [16, 40]}", FactKind.NON_POSITIVE),
    ("pad-crops-everything", "- {name: l, op: pad, padding: [-16, 0]}", FactKind.NON_POSITIVE),
    ("reshape-count", "- {name: l, op: reshape, shape: [1, 1000]}", FactKind.BAD_ATTRIBUTE),
    ("reshape-not-a-multiple", "- {name: l, op: reshape, shape: [7, -1]}", FactKind.BAD_ATTRIBUTE),
    ("pool-pads-too-large", "- {name: l, op: maxpool, kernel_size: 2, padding: 2}", FactKind.BAD_ATTRIBUTE),
    ("output-padding-too-large",
     "- {name: l, op: conv_transpose, out_channels: 3, kernel_size: 3, stride: 2, output_padding: 2}",
     FactKind.BAD_ATTRIBUTE),
]


@pytest.mark.parametrize(("line", "kind"), [case[1:] for case in FACTS], ids=[case[0] for case in FACTS])
def test_model_problems_are_facts_at_the_layer(tmp_path: Path, line: str, kind: FactKind) -> None:
    graph = _load(tmp_path, _layers(line))
    result = propagate(graph, dims=graph.dim_defaults)
    assert {f.kind for f in result.facts if f.node == "l"} == {kind}, result.facts
    assert all(f.node == "l" for f in result.facts)


@pytest.mark.parametrize("line", [
    "- {name: l, op: conv_transpose, in_channels: 4, out_channels: 8, kernel_size: 2}",
    "- {name: l, op: groupnorm, num_groups: 1, num_channels: 4}",
    "- {name: l, op: layernorm, normalized_shape: [3, 32, 31]}",
])
def test_declared_widths_are_compared(tmp_path: Path, line: str) -> None:
    graph = _load(tmp_path, _layers(line))
    assert propagate(graph, dims=graph.dim_defaults).facts


def test_yaml_only_rules_on_symbolic_sizes(tmp_path: Path) -> None:
    graph = _load(tmp_path, _layers(
        "- {name: u15, op: upsample, scale_factor: 1.5}",
        "- {name: u57, op: upsample, input: x, scale_factor: 0.57}",
        "- {name: pd, op: pad, input: x, padding: [[1, 2], -1]}",
        "- {name: ps, op: pixel_unshuffle, input: x, downscale_factor: 2}",
        "- {name: fl, op: flatten, input: x, start_dim: 2}",
        "- {name: rs, op: reshape, input: x, shape: [1, 3, 'H*W']}",
        "- {name: rm, op: reshape, input: x, shape: [3, -1]}",
    ))
    result = propagate(graph)
    text = {name: [str(d) for d in shape or ()] for name, shape in _shapes(result).items()}
    assert text["u15"] == ["1", "3", "floor((3*H)/2)", "floor((3*W)/2)"]
    assert text["u57"] == ["1", "3", "None", "None"]  # not a binary fraction: unknown rather than a guess
    assert text["pd"] == ["1", "3", "H + 3", "W - 2"]
    assert text["ps"] == ["1", "12", "floor(H/2)", "floor(W/2)"]
    assert text["fl"] == ["1", "3", "H*W"]
    assert text["rs"] == ["1", "3", "H*W"] and text["rm"] == ["3", "H*W"]


def test_input_shape_of_another_rank_is_a_fact_not_a_crash(tmp_path: Path) -> None:
    graph = _load(tmp_path, _layers("- {name: u, op: upsample, scale_factor: 2}",
                                    "- {name: p, op: pad, padding: 1}",
                                    "- {name: c, op: crop, input: x, size: 4}",
                                    "- {name: a, op: adaptive_avgpool, input: x, output_size: 2}"))
    result = propagate(graph, input_shapes={"x": (1, 3, 8, 8, 8)})
    assert {f.node for f in result.facts_of(FactKind.RANK_MISMATCH)} == {"u", "c", "a"}
    assert not [f for f in result.facts if f.data.get("internal")]


# -- expectations --------------------------------------------------------------------------------


def test_expectations(tmp_path: Path) -> None:
    text = _layers(
        "- {name: c, op: conv, out_channels: 16, kernel_size: 3, padding: 1, expect: [1, 16, H, W]}",
        "- {name: p, op: maxpool, kernel_size: 2, expect: [1, 16, H//2, null]}",
        "- {name: u, op: conv_transpose, out_channels: 16, kernel_size: 2, stride: 2, expect: [1, 16, H, W]}",
        "- {name: f, op: flatten, expect: [1, 16, 64]}",
    )
    graph = _load(tmp_path, text)
    assert graph.nodes["p"].attr("expect") == (1, 16, symbol("H") // 2, None)
    assert [f.node for f in check_expectations(graph, propagate(graph, dims={"H": 32, "W": 32}))] == ["f"]
    odd = check_expectations(graph, propagate(graph, dims={"H": 33, "W": 32}))
    assert [f.node for f in odd] == ["u", "f"]
    assert odd[0].kind is FactKind.EXPECT_MISMATCH
    assert odd[0].data["expected"] == [1, 16, 33, 32] and odd[0].data["actual"] == [1, 16, 32, 32]
    assert odd[0].data["axes"] == [2] and "H=33" in odd[0].message
    assert "rank" in odd[1].message
    unbound = check_expectations(graph, propagate(graph))  # 2*floor(H/2) vs H: undecided, so no claim
    assert [f.node for f in unbound] == ["f"]


# -- the docs are generated from the schema ------------------------------------------------------------------


def test_docs_reference_is_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin = text.index(yaml_format.BEGIN_MARKER) + len(yaml_format.BEGIN_MARKER)
    end = text.index(yaml_format.END_MARKER)
    assert text[begin:end] == "\n" + reference_markdown(), \
        "run: python -m shapecheck.load.yaml --doc docs/yaml-format.md"


def test_docs_name_every_op_and_parameter_and_nothing_else() -> None:
    text = DOC.read_text(encoding="utf-8")
    for op_name, cls in LAYERS.items():
        assert f"[`{op_name}`]" in text
        for key in cls.model_fields:
            assert f"| `{key}` |" in text, (op_name, key)
    documented = {line.split("`")[1] for line in text.splitlines() if line.startswith("| [`")}
    assert documented == set(LAYERS)


def test_doc_command_prints_the_reference() -> None:
    out = subprocess.run([sys.executable, "-m", "shapecheck.load.yaml", "--doc"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert out == reference_markdown()


def test_every_translated_op_has_a_rule() -> None:
    from shapecheck.ops import lookup

    ops = {onnx_op for cls in LAYERS.values() for onnx_op in cls.OPS.values()}
    ops |= {"GlobalAveragePool", "GlobalMaxPool"}
    assert not [name for name in sorted(ops) if lookup(name) is None]


# -- oracle 1: PyTorch runs every layer ----------------------------------------------------------------------


def _torch_layer(op: str, params: dict[str, Any], inputs: list[Any]) -> Any:
    """Run one YAML layer in PyTorch, passing its parameters to ``torch.nn`` under their own names."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    x = inputs[0]
    nd = x.dim() - 2
    p = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    modules: dict[str, Any] = {
        "conv": lambda: getattr(nn, f"Conv{nd}d")(in_channels=x.shape[1], **p),
        "conv_transpose": lambda: getattr(nn, f"ConvTranspose{nd}d")(in_channels=x.shape[1], **p),
        "maxpool": lambda: getattr(nn, f"MaxPool{nd}d")(**p),
        "avgpool": lambda: getattr(nn, f"AvgPool{nd}d")(**p),
        "adaptive_avgpool": lambda: getattr(nn, f"AdaptiveAvgPool{nd}d")(**p),
        "adaptive_maxpool": lambda: getattr(nn, f"AdaptiveMaxPool{nd}d")(**p),
        "global_avgpool": lambda: getattr(nn, f"AdaptiveAvgPool{nd}d")(1),
        "upsample": lambda: nn.Upsample(**p),
        "relu": lambda: nn.ReLU(**p), "sigmoid": lambda: nn.Sigmoid(), "tanh": lambda: nn.Tanh(),
        "silu": lambda: nn.SiLU(**p), "identity": lambda: nn.Identity(), "gelu": lambda: nn.GELU(**p),
        "leaky_relu": lambda: nn.LeakyReLU(**p), "dropout": lambda: nn.Dropout(**p),
        "batchnorm": lambda: getattr(nn, f"BatchNorm{max(nd, 1)}d")(x.shape[1]),
        "instancenorm": lambda: getattr(nn, f"InstanceNorm{nd}d")(x.shape[1]),
        "groupnorm": lambda: nn.GroupNorm(p["num_groups"], x.shape[1]),
        "layernorm": lambda: nn.LayerNorm(**p),
        "pixel_shuffle": lambda: nn.PixelShuffle(**p), "pixel_unshuffle": lambda: nn.PixelUnshuffle(**p),
        "flatten": lambda: nn.Flatten(**p),
        "linear": lambda: nn.Linear(**{"in_features": x.shape[-1], **p}),
    }
    if op in modules:
        module = modules[op]()
        module.eval()
        return module(x)
    if op == "concat":
        return torch.cat(inputs, dim=p.get("axis", 1))
    if op in ("add", "mul"):
        result = inputs[0]
        for other in inputs[1:]:
            result = result + other if op == "add" else result * other
        return result
    if op == "reshape":
        return x.reshape(p["shape"])
    padding = p["padding"]
    pairs = [(padding, padding)] * nd if isinstance(padding, int) else \
        [(e, e) if isinstance(e, int) else tuple(e) for e in padding]
    if op == "pad":
        flat = [amount for pair in reversed(pairs) for amount in pair]
        return F.pad(x, flat, mode=p.get("mode", "constant"))
    raise AssertionError(f"no PyTorch equivalent for {op}")


def _crop_in_torch(x: Any, size: Any) -> Any:
    sizes = [size] * (x.dim() - 2) if isinstance(size, int) else size
    index = [slice(None), slice(None)]
    for n, s in zip(x.shape[2:], sizes):
        start = (n - s) // 2
        index.append(slice(start, start + s))
    return x[tuple(index)]


TORCH_MODELS = {
    "tiny-unet-ceil": ("x: [2, 3, 37, 30]", """
      - {name: enc1, op: conv, out_channels: 8, kernel_size: 3, padding: 1}
      - {name: pool1, op: maxpool, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}
      - {name: mid, op: conv, out_channels: 16, kernel_size: 3, padding: same, dilation: 2}
      - {name: up1, op: conv_transpose, out_channels: 8, kernel_size: 3, stride: 2, padding: 1,
         output_padding: 1}
      - {name: crop1, op: crop, input: enc1, size: [36, 30]}
      - {name: fit, op: upsample, input: up1, size: [36, 30], mode: bilinear, align_corners: false}
      - {name: cat1, op: concat, inputs: [fit, crop1]}
      - {name: head, op: conv, out_channels: 2, kernel_size: 1, groups: 2}
    """),
    "pools": ("x: [1, 4, 5, 17]", """
      - {name: p1, op: maxpool, kernel_size: 2, stride: 2, padding: 1, ceil_mode: true}
      - {name: p2, op: avgpool, input: x, kernel_size: [3, 2], stride: [1, 3], padding: [1, 0],
         ceil_mode: true}
      - {name: p3, op: maxpool, input: x, kernel_size: 2, dilation: [1, 3]}
      - {name: p4, op: avgpool, input: x, kernel_size: 2, ceil_mode: true, count_include_pad: false}
      - {name: a1, op: adaptive_avgpool, input: x, output_size: [3, null]}
      - {name: a2, op: adaptive_maxpool, input: x, output_size: 7}
      - {name: g1, op: global_avgpool, input: x}
    """),
    "decoder": ("x: [1, 8, 10, 7]", """
      - {name: ct1, op: conv_transpose, out_channels: 4, kernel_size: 4, stride: 2, padding: 1}
      - {name: ct2, op: conv_transpose, input: x, out_channels: 6, kernel_size: 3, stride: 3,
         dilation: 2, output_padding: 1, groups: 2}
      - {name: u1, op: upsample, input: x, scale_factor: 2}
      - {name: u2, op: upsample, input: x, scale_factor: [0.57, 1.5], mode: nearest-exact}
      - {name: u3, op: upsample, input: x, scale_factor: 0.7, mode: bicubic}
      - {name: ps, op: pixel_shuffle, input: x, upscale_factor: 2}
      - {name: pu, op: pixel_unshuffle, input: u1, downscale_factor: 2}
      - {name: cat, op: concat, inputs: [ct1, u1], axis: -3}
    """),
    "shape-ops": ("x: [2, 6, 12, 9]", """
      - {name: pd, op: pad, input: x, padding: [[1, 2], -3], mode: constant}
      - {name: pr, op: pad, input: x, padding: 2, mode: reflect}
      - {name: pc, op: pad, input: x, padding: [3, [1, 0]], mode: circular}
      - {name: pp, op: pad, input: x, padding: 1, mode: replicate}
      - {name: bn, op: batchnorm, input: x, num_features: 6}
      - {name: gn, op: groupnorm, num_groups: 3}
      - {name: in, op: instancenorm}
      - {name: ln, op: layernorm, normalized_shape: [12, 9]}
      - {name: act1, op: leaky_relu, negative_slope: 0.2}
      - {name: act2, op: gelu, approximate: tanh}
      - {name: act3, op: silu}
      - {name: act4, op: sigmoid}
      - {name: act5, op: tanh}
      - {name: dr, op: dropout, p: 0.1}
      - {name: id, op: identity}
      - {name: res, op: add, inputs: [id, x]}
      - {name: gate, op: mul, inputs: [res, g]}
      - {name: fl, op: flatten}
      - {name: li, op: linear, out_features: 10}
      - {name: f2, op: flatten, input: x, start_dim: 1, end_dim: 2}
      - {name: rs, op: reshape, input: x, shape: [2, -1, 3]}
      - {name: l2, op: linear, input: x, in_features: 9, out_features: 5}
    """),
    "conv-1d-3d": ("x: [1, 2, 16]\n  v: [1, 2, 4, 6, 7]", """
      - {name: c1, op: conv, input: x, out_channels: 4, kernel_size: 5, stride: 3, padding: 2,
         padding_mode: circular}
      - {name: p1, op: maxpool, kernel_size: 3, stride: 2, ceil_mode: true}
      - {name: t1, op: conv_transpose, out_channels: 2, kernel_size: 3, stride: 2, output_padding: 1}
      - {name: c3, op: conv, input: v, out_channels: 4, kernel_size: [1, 3, 3], padding: valid}
      - {name: p3, op: avgpool, kernel_size: 2, ceil_mode: true}
      - {name: u3, op: upsample, scale_factor: [2, 1, 3], mode: trilinear}
      - {name: ps3, op: pixel_shuffle, input: v, upscale_factor: 2}
    """),
}


@pytest.mark.parametrize("model", list(TORCH_MODELS))
def test_every_layer_matches_pytorch(tmp_path: Path, model: str) -> None:
    torch = pytest.importorskip("torch")
    inputs, body = TORCH_MODELS[model]
    header = f"shapecheck: 1\ninputs:\n  {inputs}\n"
    if model == "shape-ops":  # a broadcast gate: one value per channel
        header += "  g: [1, 6, 1, 1]\n"
    text = header + "layers:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n"
    graph = _load(tmp_path, text)
    result = propagate(graph)
    document = yaml.safe_load(text)
    torch.manual_seed(0)
    values = {name: torch.randn(*shape) for name, shape in document["inputs"].items()}
    previous = next(iter(values))
    common = {"name", "op", "input", "inputs", "expect"}
    with torch.no_grad():
        for layer in document["layers"]:
            names = layer.get("inputs") or [layer.get("input", previous)]
            params = {k: v for k, v in layer.items() if k not in common}
            if layer["op"] == "crop":
                out = _crop_in_torch(values[names[0]], params["size"])
            elif layer["op"] in ("batchnorm", "instancenorm", "groupnorm"):
                params.pop("num_features", None)
                out = _torch_layer(layer["op"], params, [values[n] for n in names])
            else:
                out = _torch_layer(layer["op"], params, [values[n] for n in names])
            values[layer["name"]] = out
            previous = layer["name"]
            assert result.shape(layer["name"]) == tuple(out.shape), layer
    assert result.facts == []


# -- oracle 2: onnxruntime runs hand-built ONNX equivalents -------------------------------------------------


class _OnnxBuilder:
    """A multi-node ONNX graph whose every node output is also a graph output."""

    def __init__(self, inputs: dict[str, tuple[int, ...]]) -> None:
        from onnx import TensorProto, helper

        self.helper = helper
        self.inputs = inputs
        self.graph_inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s))
                             for n, s in inputs.items()]
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.outputs: list[str] = []
        self.rng = np.random.default_rng(0)

    def const(self, name: str, values: Any) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.float32), name))
        return name

    def weight(self, name: str, shape: tuple[int, ...]) -> str:
        from onnx import numpy_helper

        array = self.rng.standard_normal(shape).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> None:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attrs))
        self.outputs.append(output)

    def run(self) -> dict[str, tuple[int, ...]]:
        import onnxruntime as ort
        from onnx import TensorProto

        helper = self.helper
        outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in self.outputs]
        graph = helper.make_graph(self.nodes, "oracle", self.graph_inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)], ir_version=10)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.log_severity_level = 4
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        feeds = {n: self.rng.standard_normal(s).astype(np.float32) for n, s in self.inputs.items()}
        produced = session.run(self.outputs, feeds)
        return {name: tuple(array.shape) for name, array in zip(self.outputs, produced)}


def _onnx_conv_pool() -> tuple[str, dict[str, tuple[int, ...]]]:
    text = _layers(
        "- {name: c1, op: conv, out_channels: 6, kernel_size: 3, stride: 2, padding: [[0, 1], [1, 1]]}",
        "- {name: p1, op: maxpool, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}",
        "- {name: p2, op: avgpool, kernel_size: 2, ceil_mode: true, count_include_pad: false}",
        "- {name: c2, op: conv, out_channels: 4, kernel_size: 3, padding: 2, dilation: 2, groups: 2}",
        "- {name: p3, op: maxpool, input: x, kernel_size: 2, stride: 2, padding: 1, ceil_mode: true}",
        header="shapecheck: 1\ninputs:\n  x: [1, 4, 37, 29]\n")
    b = _OnnxBuilder({"x": (1, 4, 37, 29)})
    b.node("Conv", ["x", b.weight("w1", (6, 4, 3, 3))], "c1", kernel_shape=[3, 3], strides=[2, 2],
           pads=[0, 1, 1, 1])
    b.node("MaxPool", ["c1"], "p1", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    b.node("AveragePool", ["p1"], "p2", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, count_include_pad=0)
    b.node("Conv", ["p2", b.weight("w2", (4, 3, 3, 3))], "c2", kernel_shape=[3, 3], pads=[2, 2, 2, 2],
           dilations=[2, 2], group=2)
    b.node("MaxPool", ["x"], "p3", kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    return text, b.run()


def _onnx_decoder() -> tuple[str, dict[str, tuple[int, ...]]]:
    text = _layers(
        "- {name: ct1, op: conv_transpose, out_channels: 4, kernel_size: 3, stride: 2, padding: 1, "
        "output_padding: 1}",
        "- {name: up, op: upsample, input: x, scale_factor: 2, mode: nearest}",
        "- {name: cat, op: concat, inputs: [ct1, up], axis: 1}",
        "- {name: ps, op: pixel_shuffle, upscale_factor: 2}",
        "- {name: ct2, op: conv_transpose, out_channels: 2, kernel_size: [2, 3], stride: [2, 1], "
        "padding: [[0, 1], 0]}",
        header="shapecheck: 1\ninputs:\n  x: [1, 8, 10, 7]\n")
    b = _OnnxBuilder({"x": (1, 8, 10, 7)})
    b.node("ConvTranspose", ["x", b.weight("w1", (8, 4, 3, 3))], "ct1", kernel_shape=[3, 3], strides=[2, 2],
           pads=[1, 1, 1, 1], output_padding=[1, 1])
    b.node("Resize", ["x", "", b.const("scales", [1.0, 1.0, 2.0, 2.0])], "up", mode="nearest")
    b.node("Concat", ["ct1", "up"], "cat", axis=1)
    b.node("DepthToSpace", ["cat"], "ps", blocksize=2, mode="CRD")
    b.node("ConvTranspose", ["ps", b.weight("w2", (3, 2, 2, 3))], "ct2", kernel_shape=[2, 3], strides=[2, 1],
           pads=[0, 0, 1, 0])
    return text, b.run()


def _onnx_tiny_unet() -> tuple[str, dict[str, tuple[int, ...]]]:
    text = (FIXTURES / "tiny_unet.yaml").read_text(encoding="utf-8").replace("[1, 3, H, W]", "[2, 3, 48, 40]")
    text = text.replace("dims: {H: 64, W: 64}\n", "")
    b = _OnnxBuilder({"x": (2, 3, 48, 40)})
    b.node("Conv", ["x", b.weight("w1", (16, 3, 3, 3))], "enc1", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    b.node("MaxPool", ["enc1"], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    b.node("Conv", ["pool1", b.weight("w2", (32, 16, 3, 3))], "mid", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    b.node("ConvTranspose", ["mid", b.weight("w3", (32, 16, 2, 2))], "up1", kernel_shape=[2, 2],
           strides=[2, 2])
    b.node("Concat", ["up1", "enc1"], "cat1", axis=1)
    b.node("Conv", ["cat1", b.weight("w4", (2, 32, 1, 1))], "head", kernel_shape=[1, 1])
    return text, b.run()


@pytest.mark.parametrize("build", [_onnx_conv_pool, _onnx_decoder, _onnx_tiny_unet],
                         ids=["conv-pool-ceil", "decoder", "tiny-unet"])
def test_every_tensor_matches_onnxruntime(tmp_path: Path, build: Any) -> None:
    pytest.importorskip("onnxruntime")
    text, expected = build()
    result = propagate(_load(tmp_path, text))
    assert {name: result.shape(name) for name in expected} == expected
    assert result.facts == []
