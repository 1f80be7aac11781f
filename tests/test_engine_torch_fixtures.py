"""Real PyTorch exports (``fixtures/onnx``, made by ``fixtures/make_torch_models.py``) through the engine.

Two oracles from outside:

* onnxruntime, run live here with every intermediate tensor exposed, at a handful of sizes per model
  including odd ones: every tensor's shape must equal the engine's.
* ``fixtures/onnx/ort_grid.json``, onnxruntime's verdict over a whole grid of sizes recorded by
  ``fixtures/record_ort_grid.py``: where onnxruntime runs, the engine records no size mismatch; where it
  fails, the engine's first mismatch is at the very node onnxruntime names.
"""

from __future__ import annotations

import json
import os

import onnx
import pytest
from ort_models import feeds_for, run_every_tensor

from shapecheck.facts import FactKind
from shapecheck.load.onnx import load_onnx
from shapecheck.propagate import propagate

pytest.importorskip("onnxruntime")

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
with open(os.path.join(FIXTURES, "ort_grid.json"), encoding="utf-8") as _grid:
    GRID = json.load(_grid)["models"]

#: Sizes run live per model: odd and even, valid and invalid for the model.
LIVE_SIZES = {
    "unet_convtranspose_padfix.onnx": [16, 37, 64],
    "unet_k3s2p1_even_breaks.onnx": [32, 40],
    "unet_k2s2_odd_breaks.onnx": [24, 64],
    "pix2pix_resnet_generator.onnx": [21, 32, 37],
    "audio_encdec_1d.onnx": [1024, 4096],
    "unet3d.onnx": [8, 12],
    "unet_baked_output_size.onnx": [37, 45],
    "unet_resize_to_skip_dynamic.onnx": [23, 40],
    "unet_resize_to_skip_fixed.onnx": [37],
}

#: Facts that mean "a runtime would fail here".
FAILING = (FactKind.JOIN_MISMATCH, FactKind.NON_POSITIVE, FactKind.BAD_ATTRIBUTE)


def _dims(model: dict, size: list[int]) -> dict[str, int]:
    symbols = [d for d in model["input"]["shape"] if isinstance(d, str)]
    return dict(zip(symbols, size, strict=True)) if symbols else {}


def _live_cases() -> list[tuple[str, int]]:
    return [(name, size) for name, sizes in LIVE_SIZES.items() for size in sizes]


@pytest.mark.parametrize(("name", "size"), _live_cases())
def test_every_tensor_shape_equals_onnxruntime(name: str, size: int) -> None:
    path = os.path.join(FIXTURES, name)
    model = onnx.load(path)
    symbols = [d for d in GRID[name]["input"]["shape"] if isinstance(d, str)]
    dims = dict.fromkeys(symbols, size)
    actual = run_every_tensor(model, feeds_for(model, dims))
    result = propagate(load_onnx(path), dims=dims)
    assert not [f for f in result.facts if f.kind in (FactKind.UNSUPPORTED_OP, FactKind.UNRESOLVED)]
    mismatches = {t: (result.shape(t), s) for t, s in actual.items() if result.shape(t) != s}
    assert not mismatches


def entry_torch_ok(name: str, size: list[int]) -> bool | None:
    """PyTorch's verdict at this size, recorded beside onnxruntime's by the fixture script."""
    entry = next(e for e in GRID[name]["grid"] if e["size"] == size)
    return entry.get("torch", {}).get("ok")


def _grid_cases() -> list[tuple[str, list[int], dict]]:
    cases = []
    for name, model in GRID.items():
        if model.get("fixed_size"):
            continue
        for entry in model["grid"]:
            cases.append((name, entry["size"], entry["ort"]))
    return cases


GRID_CASES = _grid_cases()


def test_the_grid_is_not_empty() -> None:
    assert len(GRID_CASES) > 300
    assert any(not ort["ok"] for _, _, ort in GRID_CASES)


@pytest.mark.parametrize("name", [n for n in GRID if not GRID[n].get("fixed_size")])
def test_mismatch_facts_are_exactly_where_onnxruntime_fails(name: str) -> None:
    graph = load_onnx(os.path.join(FIXTURES, name))
    disagreements = []
    for model_name, size, ort in GRID_CASES:
        if model_name != name:
            continue
        result = propagate(graph, dims=_dims(GRID[name], size))
        failing = [f for f in result.facts if f.kind in FAILING]
        if failing and failing[0].kind is FactKind.NON_POSITIVE and not entry_torch_ok(name, size):
            continue  # an empty tensor: PyTorch raises here, onnxruntime runs zero-sized tensors on
        if ort["ok"]:
            if failing:
                disagreements.append((size, "onnxruntime runs", failing[0].node, failing[0].message))
        elif not failing:
            disagreements.append((size, f"onnxruntime fails at {ort.get('node')}", None, ort.get("error")))
        elif ort.get("node") and failing[0].node != ort["node"]:
            disagreements.append((size, f"onnxruntime fails at {ort['node']}", failing[0].node, ""))
    assert not disagreements
