"""The same input gives byte-identical output: for every fixture, the ``check`` JSON and SARIF and the
``inspect`` JSON are the same across two runs in one process and across processes with different
``PYTHONHASHSEED`` values (set and dict order of strings changes with the seed; nothing in the output
may depend on it). Each file is checked with its symbols left free and with them bound (the fix search
and its confirmation run only then), so every rule has its chance to leak an order."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = sorted(glob.glob(os.path.join(REPO, "fixtures", "onnx", "*.onnx"))) + sorted(
    glob.glob(os.path.join(REPO, "fixtures", "yaml", "*.y*ml")))
#: Sizes bound to whichever of these symbols a fixture has (odd sizes: the joins fail, fixes are searched).
SIZES = {"H": 37, "W": 37, "L": 1001, "D": 13, "N": 2}

_DIGESTS = r"""
import hashlib, io, json, sys
from shapecheck.check import check_file
from shapecheck.load import load_model
from shapecheck.propagate import propagate
from shapecheck.report.inspect import inspect_document
from shapecheck.report.jsondoc import render_json
from shapecheck.report.sarif import render_sarif
from shapecheck.rules import selected_codes

sizes = json.loads(sys.argv[1])
codes = frozenset(selected_codes(["ALL"]))
digests = {}
for path in sys.argv[2:]:
    symbols = load_model(path).symbols()
    for label, dims in (("free", {}), ("bound", {s: sizes[s] for s in symbols if s in sizes})):
        for run in (1, 2):
            report = check_file(path, dims=dims, codes=codes)
            for name, render in (("json", render_json), ("sarif", render_sarif)):
                out = io.StringIO()
                render([report], out)
                digests[f"{path} check {name} {label} run{run}"] = hashlib.sha256(out.getvalue().encode()).hexdigest()
            graph = load_model(path)
            document = json.dumps(inspect_document(propagate(graph, dims=dims)), indent=2)
            digests[f"{path} inspect json {label} run{run}"] = hashlib.sha256(document.encode()).hexdigest()
print(json.dumps(digests))
"""


def _digests(seeds: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The digests of one process per hash seed, the processes run side by side."""
    processes = {
        seed: subprocess.Popen([sys.executable, "-c", _DIGESTS, json.dumps(SIZES), *FIXTURES], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": seed}, cwd=REPO)
        for seed in seeds
    }
    digests = {}
    for seed, process in processes.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        digests[seed] = json.loads(out)
    return digests


def test_every_fixture_gives_byte_identical_output_across_runs_and_hash_seeds() -> None:
    assert len(FIXTURES) >= 10
    by_seed = _digests(("0", "1", "4242"))
    first = by_seed["0"]
    assert len(first) == len(FIXTURES) * 2 * 2 * 3
    for key, digest in first.items():  # across two runs in one process
        if key.endswith("run1"):
            assert first[key[:-1] + "2"] == digest, key
    for seed, digests in by_seed.items():  # across hash seeds
        differing = sorted(k for k in first if digests[k] != first[k])
        assert not differing, f"PYTHONHASHSEED={seed} changes {differing[:5]}"
