"""Acceptance: on the real PyTorch exports the valid sets are the sizes onnxruntime accepts.

Every size of ``fixtures/onnx/ort_grid.json`` (onnxruntime's recorded verdicts) is compared with
:meth:`SizeAnalysis.accepts`, and a few sizes — on and beyond the grid, where the periodic argument is
all there is — are run live in onnxruntime. The one documented difference: onnxruntime runs zero-sized
intermediate tensors where PyTorch raises (``shared/runtime-facts.md``); the analysis follows PyTorch
there, so such a size must fail in the analysis for an empty size, and torch must have failed too.
"""

from __future__ import annotations

import json
import os
from functools import cache

import onnx
import pytest
from ort_models import feeds_for

from shapecheck.load.onnx import load_onnx
from shapecheck.sizes import SizeAnalysis, analyse_sizes

ort = pytest.importorskip("onnxruntime")

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
with open(os.path.join(FIXTURES, "ort_grid.json"), encoding="utf-8") as _handle:
    GRID = json.load(_handle)["models"]
SYMBOLIC = sorted(name for name, model in GRID.items() if any(isinstance(d, str) for d in model["input"]["shape"]))


@cache
def _analysis(name: str) -> SizeAnalysis:
    return analyse_sizes(load_onnx(os.path.join(FIXTURES, name)))


def _dims(name: str, size: list[int]) -> dict[str, int]:
    symbols = [d for d in GRID[name]["input"]["shape"] if isinstance(d, str)]
    return dict(zip(symbols, size, strict=True))


def _empty_tensor_failure(analysis: SizeAnalysis, dims: dict[str, int]) -> bool:
    """The analysis rejects these dims because some size is empty (and for no other reason)."""
    for name, value in dims.items():
        sizes = analysis.symbols[name]
        if value in sizes.valid:
            continue
        group = next(g for g in sizes.failures if value in g.sizes or (
            g.first is not None and value >= g.first and value % sizes.valid.period in g.residues))
        if group.kind != "non-positive":
            return False
    return True


@pytest.mark.parametrize("name", SYMBOLIC)
def test_sets_equal_onnxruntime_over_the_grid(name: str) -> None:
    analysis = _analysis(name)
    assert analysis.proven, {s: v.notes for s, v in analysis.symbols.items()}
    for entry in GRID[name]["grid"]:
        dims = _dims(name, entry["size"])
        accepted = analysis.accepts(dims)
        if accepted == entry["ort"]["ok"]:
            continue
        # onnxruntime ran an empty tensor that PyTorch (and the analysis) rejects
        assert entry["ort"]["ok"] and entry.get("torch", {}).get("ok") is False, (dims, entry)
        assert _empty_tensor_failure(analysis, dims), dims


def _ort_runs(name: str, dims: dict[str, int]) -> bool:
    path = os.path.join(FIXTURES, name)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    try:
        session.run(None, feeds_for(onnx.load(path), dims))
    except Exception:  # onnxruntime's failure is the verdict
        return False
    return True


LIVE = [
    ("unet_k2s2_odd_breaks.onnx", {"H": 72, "W": 80}),
    ("unet_k2s2_odd_breaks.onnx", {"H": 76, "W": 80}),
    ("unet_k3s2p1_even_breaks.onnx", {"H": 96, "W": 97}),
    ("unet_baked_output_size.onnx", {"H": 77, "W": 85}),
    ("unet_baked_output_size.onnx", {"H": 72, "W": 85}),
    ("audio_encdec_1d.onnx", {"L": 1152}),
    ("audio_encdec_1d.onnx", {"L": 1160}),
    ("unet3d.onnx", {"D": 28, "H": 12, "W": 32}),
    ("unet3d.onnx", {"D": 28, "H": 14, "W": 32}),
    ("pix2pix_resnet_generator.onnx", {"H": 5, "W": 83}),
]


@pytest.mark.parametrize(("name", "dims"), LIVE, ids=[f"{n[:-5]}-{d}" for n, d in LIVE])
def test_sizes_beyond_the_grid_agree_with_onnxruntime_live(name: str, dims: dict[str, int]) -> None:
    assert _analysis(name).accepts(dims) == _ort_runs(name, dims)
