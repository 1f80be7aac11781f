"""``shapecheck sizes``: text and JSON output, exit codes, options and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shapecheck.cli import main

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
K2S2 = os.path.join(FIXTURES, "unet_k2s2_odd_breaks.onnx")


def test_text_report(capsys) -> None:
    assert main(["sizes", K2S2]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].endswith("(onnx): input 'input' [1, 1, H, W]")
    assert "H: H ≡ 0 (mod 8), from 8" in lines
    assert "   smallest: 8, 16, 24, 32, 40" in lines
    assert any(line.strip().startswith("H ≡ 1 (mod 8) from 9") and "at /ups.2/Concat (join-mismatch" in line
               for line in lines)
    assert "proven for every size: sizes below 8 propagated one by one, then one period of 8 (period from the " \
           "size expressions); W=8 held, and no size of H depends on W" in text
    assert lines[-1] == "Runs at H ≡ 0 (mod 8), from 8 and W ≡ 0 (mod 8), from 8 (proven)."


def test_json_document(capsys) -> None:
    assert main(["sizes", os.path.join(FIXTURES, "audio_encdec_1d.onnx"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1 and document["format"] == "onnx" and document["runs"] is True
    assert document["inputs"] == {"input": [1, 1, "L"]} and document["proven"] is True
    length = document["symbols"]["L"]
    assert length["valid"] == "L ≡ 0 (mod 64), from 64" and length["period"] == 64 and length["residues"] == [0]
    assert length["classes"] == [{"residue": 0, "from": 64}] and length["density"] == 1 / 64
    assert length["smallest"] == [64, 128, 192, 256, 320] and length["searched"] is None
    add = next(f for f in length["failures"] if f["node"] == "/Add")
    assert add["residues"] == list(range(16, 64)) and add["from"] == 80 and add["kind"] == "join-mismatch"
    # every failing size below 2 periods is listed exactly once
    listed = [n for f in length["failures"] for lo, hi in f["sizes"] for n in range(lo, hi + 1)]
    listed += [n for f in length["failures"] if f["from"] for n in range(f["from"], 128) if n % 64 in f["residues"]]
    assert sorted(listed) == [n for n in range(1, 128) if n % 64]


def test_dim_symbol_range_and_output_file(tmp_path, capsys) -> None:
    out = tmp_path / "sizes.json"
    code = main(["sizes", K2S2, "--dim", "W=16", "--range", "1..100", "--format", "json", "-o", str(out)])
    assert code == 0 and capsys.readouterr().out == ""
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["bound"] == {"W": 16} and list(document["symbols"]) == ["H"]
    assert document["search_range"] == [1, 100]
    assert main(["sizes", K2S2, "--symbol", "W", "--verify"]) == 0
    assert "\nW: W ≡ 0 (mod 8), from 8\n" in capsys.readouterr().out


def test_exit_code_1_when_no_size_runs(capsys) -> None:
    assert main(["sizes", K2S2, "--dim", "W=12"]) == 1
    assert capsys.readouterr().out.rstrip().endswith("No input size runs.")


def test_static_model(capsys) -> None:
    assert main(["sizes", os.path.join(FIXTURES, "unet_resize_to_skip_fixed.onnx")]) == 0
    assert "no symbolic dims: the input shape is fixed, and the model runs at it" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--range", "10"], "--range: expected LO..HI"),
    (["--range", "9..3"], "must satisfy 1 <= LO <= HI"),
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
