"""A bounded slice of the fuzzer (``tests/fuzz/fuzz_inputs.py``) on every CI run: a few thousand broken
and hostile ONNX and YAML inputs through the whole pipeline, in worker processes with a per-input
watchdog. Every input must end in a report or a one-line load error: no uncaught exception, no hang,
no crash. The inputs are fixed by the seed, so a failure here reproduces with
``python tests/fuzz/fuzz_inputs.py --replay KIND:SEED:INDEX``; the full run (100,000 of each kind) is
the same script without ``--onnx``/``--yaml`` (see the README's Reliability section)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "fuzz_inputs.py")
#: Inputs of each kind; about 30 s on two cores.
SLICE = 1200  # every rule runs, the size analysis too (bounded per check: shapecheck.rules.sizes.CHECK_WORK)


def test_a_fuzz_slice_ends_every_input_in_a_report_or_a_clear_error(tmp_path) -> None:
    summary_path = tmp_path / "summary.json"
    process = subprocess.run(
        [sys.executable, SCRIPT, "--onnx", str(SLICE), "--yaml", str(SLICE), "--seed", "20240607", "--batch", "400",
         "--quiet", "--out", str(tmp_path / "failures"), "--json", str(summary_path)],
        capture_output=True, text=True, timeout=600)
    summary = json.loads(summary_path.read_text())
    assert process.returncode == 0 and summary["failed"] == 0, process.stdout[-4000:]
    assert summary["inputs"] == {"onnx": SLICE, "yaml": SLICE}
    for kind in ("onnx", "yaml"):
        outcomes = summary["outcomes"][kind]
        assert set(outcomes) <= {"report-0", "report-1", "report-sc901", "load-error"}, outcomes
        # the slice reaches the engine, not only the loader: reports as well as load errors
        assert outcomes.get("report-0", 0) + outcomes.get("report-1", 0) > SLICE // 10
        assert outcomes.get("load-error", 0) > SLICE // 10
