"""A YAML model and the same network written with ``onnx.helper`` (``fixtures/make_onnx_twins.py``) give
identical shapes for every layer, at even, odd and failing sizes; onnxruntime runs the ONNX twin where
the engine finds no mismatch and fails where it finds one."""

from __future__ import annotations

import os

import onnx
import pytest
from ort_models import feeds_for, run_every_tensor

from shapecheck.facts import FactKind
from shapecheck.load import load_model
from shapecheck.propagate import propagate

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
TWINS = [("unet_twin", ("H", "W"), [64, 65, 37, 16, 8, 3]), ("audio_twin", ("L",), [1024, 1000, 64, 63])]


@pytest.mark.parametrize(("name", "symbols", "sizes"), TWINS, ids=[t[0] for t in TWINS])
def test_yaml_and_onnx_twins_give_identical_shapes(name: str, symbols: tuple[str, ...], sizes: list[int]) -> None:
    yaml_graph = load_model(os.path.join(FIXTURES, "yaml", f"{name}.yaml"))
    onnx_graph = load_model(os.path.join(FIXTURES, "onnx", f"{name}.onnx"))
    layers = [n.name for n in yaml_graph.topological_order()]
    assert layers == [n.name for n in onnx_graph.topological_order()]
    for size in sizes:
        dims = dict.fromkeys(symbols, size)
        from_yaml, from_onnx = propagate(yaml_graph, dims=dims), propagate(onnx_graph, dims=dims)
        assert [from_yaml.shape(n) for n in layers] == [from_onnx.shape(n) for n in layers], size
        kinds = lambda r: sorted((f.node, f.kind.value) for f in r.facts)  # noqa: E731
        assert kinds(from_yaml) == kinds(from_onnx), size


@pytest.mark.parametrize(("name", "symbols", "size"), [(t[0], t[1], s) for t in TWINS for s in t[2]])
def test_onnx_twin_runs_exactly_where_the_engine_finds_no_mismatch(name: str, symbols: tuple[str, ...],
                                                                    size: int) -> None:
    pytest.importorskip("onnxruntime")
    path = os.path.join(FIXTURES, "onnx", f"{name}.onnx")
    model = onnx.load(path)
    dims = dict.fromkeys(symbols, size)
    result = propagate(load_model(path), dims=dims)
    failing = [f for f in result.facts if f.kind in (FactKind.JOIN_MISMATCH, FactKind.NON_POSITIVE)]
    try:
        shapes = run_every_tensor(model, feeds_for(model, dims))
    except Exception as error:
        assert failing, f"onnxruntime failed but the engine found nothing: {error}"
        return
    if failing and all(f.kind is FactKind.NON_POSITIVE for f in failing):
        return  # onnxruntime runs empty tensors where PyTorch raises (shared/runtime-facts.md)
    assert not failing, failing
    assert all(result.shape(t) == s for t, s in shapes.items())
