"""``shapecheck sizes``: text and JSON output (the issue's keys), --range/--near, what would widen the set,
exit codes, options and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shapecheck.cli import main
from shapecheck.load import load_model
from shapecheck.propagate import propagate
from shapecheck.verify import Patch, apply_patches, failing_facts

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
K2S2 = os.path.join(FIXTURES, "unet_k2s2_odd_breaks.onnx")
BAKED = os.path.join(FIXTURES, "unet_baked_output_size.onnx")
AUDIO = os.path.join(FIXTURES, "audio_encdec_1d.onnx")

#: Down conv k4 s2 p1 (⌊H/2⌋) with an up conv k3 s2 p1 (2n − 1): no size runs until output_padding is 1.
WRONG_OUTPUT_PADDING = """shapecheck: 1
inputs:
  x: [1, 3, H, W]
layers:
  - {name: enc1,  op: conv, input: x, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: down1, op: conv, out_channels: 8, kernel_size: 4, stride: 2, padding: 1}
  - {name: mid,   op: conv, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: up1,   op: conv_transpose, out_channels: 8, kernel_size: 3, stride: 2, padding: 1}
  - {name: cat1,  op: concat, inputs: [up1, enc1], axis: 1}
outputs: [cat1]
"""


def _json(capsys, *argv: str) -> dict:
    assert main(["sizes", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _runs(graph, dims: dict[str, int]) -> bool:
    return not failing_facts(propagate(graph, dims=dims))


# -- text ----------------------------------------------------------------------------------------------------
def test_text_report(capsys) -> None:
    assert main(["sizes", K2S2, "--near", "300"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].endswith("(onnx): input 'input' [1, 1, H, W]")
    assert "H: H ≡ 0 (mod 8), from 8" in lines
    assert "   smallest: 8, 16, 24, 32, 40" in lines
    assert "   nearest to 300: 296 below, 304 above" in lines
    assert any(line.strip().startswith("H ≡ 1 (mod 8) from 9") and "at /ups.2/Concat (join-mismatch" in line
               for line in lines)
    assert "proven for every size: sizes below 8 propagated one by one, then one period of 8 (period from the " \
           "size expressions); W=8 held, and no size of H depends on W" in text
    assert "   to widen the set:" in lines
    assert "     no constant output_padding serves every size: the one a transposed conv needs depends on H mod 8" \
        in lines
    assert "       /ups.2/up/ConvTranspose: 0 for H ≡ 0, 1 for H ≡ 1 (mod 2)" in lines
    assert "     - pad the input up to the next valid size, H_pad = 8·⌈H/8⌉, and crop the output back to H " \
           "(e.g. H=9 → 16)" in lines
    assert any(line.startswith("     - PyTorch: call /ups.0/up/ConvTranspose") and "output_size=" in line
               for line in lines)
    assert any(line.startswith("     - crop or pad the upsampled tensor") for line in lines)
    assert lines[-1] == "Runs at H ≡ 0 (mod 8), from 8 and W ≡ 0 (mod 8), from 8 (proven)."


def test_near_a_valid_size_and_per_symbol(capsys) -> None:
    assert main(["sizes", K2S2, "--near", "H=304", "--near", "W=5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "   nearest to 304: 304 itself (valid)" in lines
    assert "   nearest to 5: none below, 8 above" in lines


# -- JSON: the issue's document --------------------------------------------------------------------------------
def test_json_document_has_the_issues_keys(capsys) -> None:
    document = _json(capsys, K2S2, "--near", "300")
    assert list(document)[:5] == ["version", "path", "symbols", "coupled", "failures"]
    assert document["version"] == 1 and document["path"].endswith("unet_k2s2_odd_breaks.onnx")
    assert document["coupled"] == []
    height = document["symbols"]["H"]
    assert {k: height[k] for k in ("modulus", "residues", "min", "exceptions", "values", "proven")} == {
        "modulus": 8, "residues": [0], "min": 8, "exceptions": [], "values": None, "proven": True}
    assert height["closed_forms"]["/ups.0/up/ConvTranspose_output_0"] == "2*floor(H/8)"
    assert height["closed_forms"]["/downs.2/pool/MaxPool_output_0"] == "floor(H/8)"
    assert height["closed_forms"]["output"] == "H"
    assert not any("Relu" in tensor for tensor in height["closed_forms"])  # size-keeping ops are left out
    assert height["nearest"] == {"to": 300, "below": 296, "above": 304}
    # one failure per invalid class, each with the first node that fails and why
    failures = [f for f in document["failures"] if f["symbol"] == "H"]
    assert [(f["residue"], f["modulus"]) for f in failures] == [(r, 8) for r in range(1, 8)]
    assert {f["residue"]: f["node"] for f in failures} == {
        1: "/ups.2/Concat", 2: "/ups.1/Concat", 3: "/ups.1/Concat", **dict.fromkeys(range(4, 8), "/ups.0/Concat")}
    graph = load_model(K2S2)
    position = {node.name: i for i, node in enumerate(graph.topological_order())}
    for failure in failures:
        assert failure["kind"] == "join-mismatch" and failure["from"] == 8 + failure["residue"]
        assert failure["message"].startswith("Concat inputs differ on axis 2")
        for size in (failure["from"], failure["from"] + 8, failure["from"] + 800):  # the first failing node
            facts = failing_facts(propagate(graph, dims={"H": size, "W": 8}))
            assert min((node for node, _, _ in facts), key=position.__getitem__) == failure["node"]


def test_json_document_keeps_the_details(capsys) -> None:
    document = _json(capsys, AUDIO)
    assert document["format"] == "onnx" and document["runs"] is True
    assert document["inputs"] == {"input": [1, 1, "L"]} and document["proven"] is True
    length = document["symbols"]["L"]
    assert (length["modulus"], length["residues"], length["min"]) == (64, [0], 64)
    assert length["closed_forms"]["/decoder.2/ConvTranspose_output_0"] == "64*floor(L/64)"
    assert length["nearest"] is None
    assert length["valid"] == "L ≡ 0 (mod 64), from 64" and length["period"] == 64
    assert length["classes"] == [{"residue": 0, "from": 64}] and length["density"] == 1 / 64
    assert length["smallest"] == [64, 128, 192, 256, 320] and length["searched"] is None
    add = next(f for f in length["failures"] if f["node"] == "/Add")
    assert add["residues"] == list(range(16, 64)) and add["from"] == 80 and add["kind"] == "join-mismatch"
    # every failing size below 2 periods is listed exactly once
    listed = [n for f in length["failures"] for lo, hi in f["sizes"] for n in range(lo, hi + 1)]
    listed += [n for f in length["failures"] if f["from"] for n in range(f["from"], 128) if n % 64 in f["residues"]]
    assert sorted(listed) == [n for n in range(1, 128) if n % 64]
    assert [f["residue"] for f in document["failures"]] == list(range(1, 64))
    # the 1-D decoder's three transposed convs need 0-3 by residue: no constant serves every length
    fix = length["constant_fix"]
    assert fix["classes"] == fix["served"] == 63 and fix["serves_all"] is False
    assert [(n["node"], n["modulus"], n["values"]) for n in fix["needs"]] == [
        ("/decoder.0/decoder.0.0/ConvTranspose", 64, [0, 1, 2, 3]),
        ("/decoder.1/decoder.1.0/ConvTranspose", 16, [0, 1, 2, 3]),
        ("/decoder.2/ConvTranspose", 4, [0, 1, 2, 3])]


# -- what would widen the set ------------------------------------------------------------------------------------
def test_widen_dynamic_alternatives_with_a_pad_formula_that_holds(capsys) -> None:
    """k2s2 U-Net: the output_padding each size needs depends on its residue, so no constant serves every
    size; the input pad formula lands on a valid size for every size (checked by propagation)."""
    document = _json(capsys, K2S2)
    height = document["symbols"]["H"]
    assert height["constant_fix"]["serves_all"] is False
    assert height["constant_fix"]["served"] == height["constant_fix"]["classes"] == 7
    needs = {n["node"]: (n["modulus"], n["by_residue"]) for n in height["constant_fix"]["needs"]}
    assert needs["/ups.2/up/ConvTranspose"] == (2, [0, 1])  # H's parity
    assert needs["/ups.0/up/ConvTranspose"] == (8, [0, 0, 0, 0, 1, 1, 1, 1])
    widen = {w["kind"]: w for w in height["widen"]}
    assert list(widen) == ["pad-input", "output_size", "crop-or-pad"]  # no constant fix
    pad = widen["pad-input"]
    assert pad["formula"] == "H_pad = 8·⌈H/8⌉" and pad["python"] == "H_pad = -(-H // 8) * 8"
    assert widen["output_size"]["nodes"] == ["/ups.0/up/ConvTranspose", "/ups.1/up/ConvTranspose",
                                             "/ups.2/up/ConvTranspose"]
    assert widen["crop-or-pad"]["nodes"] == ["/ups.0/Concat", "/ups.1/Concat", "/ups.2/Concat"]
    graph = load_model(K2S2)
    for size in range(1, 70):
        scope: dict[str, int] = {"H": size}
        exec(pad["python"], {}, scope)  # the formula the report prints, run as written
        padded = scope["H_pad"]
        assert padded >= size and padded - size < 8
        assert _runs(graph, {"H": padded, "W": 8}), (size, padded)


def test_widen_baked_output_padding_offers_the_round_sizes(capsys) -> None:
    """output_padding baked in for one export size: the constant alternative (output_padding 0) runs as
    many sizes, the multiples of 8; the dynamic alternatives follow, as no constant serves every size."""
    document = _json(capsys, BAKED)
    height = document["symbols"]["H"]
    assert (height["modulus"], height["residues"], height["min"]) == (8, [5], 13)
    constant = [w for w in height["widen"] if w["kind"] == "output_padding"]
    assert len(constant) == 1 and constant[0]["widens"] is False
    assert [(c["node"], c["axis"], c["value"], c["was"], c["output_padding"]) for c in constant[0]["changes"]] == [
        ("/ups.0/up/ConvTranspose", 0, 0, 1, [0, 1]), ("/ups.2/up/ConvTranspose", 0, 0, 1, [0, 1])]
    after = constant[0]["valid"]
    assert (after["modulus"], after["residues"], after["min"], after["proven"]) == (8, [0], 8, True)
    assert height["constant_fix"]["serves_all"] is False
    kinds = [w["kind"] for w in height["widen"]]
    assert kinds == ["output_padding", "pad-input", "output_size", "crop-or-pad"]
    pad = next(w for w in height["widen"] if w["kind"] == "pad-input")
    assert pad["python"] == "H_pad = max(13, H + (5 - H) % 8)"
    # the alternative, on both axes, runs H = W = 16 and no longer H = W = 13
    graph = load_model(BAKED)
    patched = apply_patches(graph, [Patch(n, {"output_padding": (0, 0)})
                                    for n in ("/ups.0/up/ConvTranspose", "/ups.2/up/ConvTranspose")])
    assert _runs(patched, {"H": 16, "W": 16}) and not _runs(patched, {"H": 13, "W": 13})
    assert _runs(graph, {"H": 13, "W": 13}) and not _runs(graph, {"H": 16, "W": 16})


def test_widen_a_constant_fix_that_runs_more_sizes(tmp_path, capsys) -> None:
    path = tmp_path / "wrong_output_padding.yaml"
    path.write_text(WRONG_OUTPUT_PADDING, encoding="utf-8")
    document = _json(capsys, str(path))
    height = document["symbols"]["H"]
    assert (height["modulus"], height["values"], height["min"]) == (None, [], None)  # no size runs
    fix = height["widen"][0]
    assert fix["kind"] == "output_padding" and fix["widens"] is True
    assert fix["changes"] == [{"node": "up1", "axis": 0, "value": 1, "was": 0, "output_padding": [1, 0]}]
    assert (fix["valid"]["modulus"], fix["valid"]["residues"], fix["valid"]["min"]) == (2, [0], 2)
    graph = load_model(str(path))
    assert _runs(apply_patches(graph, [Patch("up1", {"output_padding": (1, 1)})]), {"H": 6, "W": 6})


def test_nothing_to_widen_when_every_size_runs(capsys) -> None:
    document = _json(capsys, os.path.join(FIXTURES, "unet_convtranspose_padfix.onnx"))
    height = document["symbols"]["H"]
    assert (height["modulus"], height["residues"], height["min"]) == (1, [0], 16)
    assert [w["kind"] for w in height["widen"]] == ["pad-input"]
    assert height["widen"][0]["formula"] == "H_pad = max(H, 16)"
    assert document["failures"] == []


# -- options, exit codes, bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["1:100", "1..100", " 1 : 100 "])
def test_dim_symbol_range_and_output_file(tmp_path, capsys, text) -> None:
    out = tmp_path / "sizes.json"
    code = main(["sizes", K2S2, "--dim", "W=16", "--range", text, "--format", "json", "-o", str(out)])
    assert code == 0 and capsys.readouterr().out == ""
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["bound"] == {"W": 16} and list(document["symbols"]) == ["H"]
    assert document["search_range"] == [1, 100]
    assert main(["sizes", K2S2, "--symbol", "W", "--verify"]) == 0
    assert "\nW: W ≡ 0 (mod 8), from 8\n" in capsys.readouterr().out


def test_exit_code_0_even_when_no_size_runs(capsys) -> None:
    """``sizes`` answers a question; ``check`` is the linter whose exit code gates CI."""
    assert main(["sizes", K2S2, "--dim", "W=12"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("No input size runs.")


def test_fixed_size_model_says_so_and_exits_0(capsys) -> None:
    assert main(["sizes", os.path.join(FIXTURES, "unet_resize_to_skip_fixed.onnx"), "--near", "300"]) == 0
    assert "no symbolic dims: the input shape is fixed, and the model runs at it" in capsys.readouterr().out
    document = _json(capsys, os.path.join(FIXTURES, "unet_resize_to_skip_fixed.onnx"))
    assert document["symbols"] == {} and document["failures"] == [] and document["coupled"] == []
    assert document["static"]["runs"] is True and document["notes"][0].startswith("no symbolic dims")


def test_fixed_size_that_fails_exits_0_with_its_verdict(capsys) -> None:
    assert main(["sizes", K2S2, "--dim", "H=9", "--dim", "W=8"]) == 0
    text = capsys.readouterr().out
    assert "every symbolic dim is bound (H=9, W=8): the input shape is fixed, and the model FAILS at it: " \
           "'/ups.2/Concat' (join-mismatch)" in text
    document = _json(capsys, K2S2, "--dim", "H=9", "--dim", "W=8")
    assert document["runs"] is False and document["static"]["node"] == "/ups.2/Concat"


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--range", "10"], "--range: expected LO:HI"),
    (["--range", ""], "--range: expected LO:HI"),
    (["--range", "1:"], "--range: expected LO:HI"),
    (["--range", "9:3"], "the range is empty (LO 9 > HI 3)"),
    (["--range", "9..3"], "the range is empty (LO 9 > HI 3)"),
    (["--range", "0:5"], "sizes must lie within 1:"),
    (["--near", "0"], "--near: size 0 is outside"),
    (["--near", "big"], "--near: expected SIZE or NAME=SIZE"),
    (["--near", "Q=3"], "no analysed symbolic dim 'Q'"),
    (["--symbol", "Q"], "'Q' is not a free symbolic dim"),
    (["--dim", "Q=3"], "no symbolic dim 'Q'"),
])
def test_bad_options_are_one_line_errors(argv, fragment) -> None:
    process = subprocess.run([sys.executable, "-m", "shapecheck", "sizes", K2S2, *argv], capture_output=True,
                             text=True)
    assert process.returncode == 2, process.stderr
    assert len(process.stderr.strip().splitlines()) == 1 and fragment in process.stderr
    assert "Traceback" not in process.stderr


def test_help_lists_the_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "sizes" in capsys.readouterr().out
