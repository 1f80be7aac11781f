"""The valid-size analysis on the fixtures and on small models built for one behaviour each.

Every expected set below is what propagation says size by size (checked here over a range) and what the
fixtures' README derives by hand; the analysis must also say *how* it knows: proven by the periodic
argument, or searched.
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction

import onnx
import pytest
from onnx import TensorProto, helper

from shapecheck.findings import Severity
from shapecheck.load import load_model
from shapecheck.propagate import propagate
from shapecheck.rules.analysis import Analysis
from shapecheck.sizes import (
    NormalForm,
    ValidSet,
    analyse_sizes,
    output_padding_options,
    pad_formula,
    size_constraint_findings,
    valid_sets_with,
    widen_suggestions,
)
from shapecheck.verify import Patch, failing_facts

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from sweep_sizes import load_yaml_text

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")


def _fixture(name: str):
    return load_model(os.path.join(FIXTURES, name))


def _brute(graph, symbol: str, fixed: dict[str, int], sizes: range) -> set[int]:
    return {n for n in sizes if not failing_facts(propagate(graph, dims={**fixed, symbol: n}))}


@pytest.mark.parametrize(("name", "symbol", "described", "period"), [
    ("unet_k2s2_odd_breaks.onnx", "H", "H ≡ 0 (mod 8), from 8", 8),
    ("unet_k3s2p1_even_breaks.onnx", "W", "W ≡ 0 (mod 8), from 8", 8),
    ("unet_baked_output_size.onnx", "H", "H ≡ 5 (mod 8), from 13", 8),
    ("audio_encdec_1d.onnx", "L", "L ≡ 0 (mod 64), from 64", 64),
    ("unet3d.onnx", "D", "D ≡ 0 (mod 4), from 4", 4),
    ("unet_convtranspose_padfix.onnx", "H", "every H from 16", 16),
    ("pix2pix_resnet_generator.onnx", "W", "every W from 5", 4),
])
def test_fixture_sets_are_proven_and_match_propagation(name, symbol, described, period) -> None:
    graph = _fixture(name)
    analysis = analyse_sizes(graph)
    sizes = analysis.symbols[symbol]
    assert sizes.valid.describe() == described
    assert sizes.proven and sizes.valid.period == period and sizes.period_source == "expressions"
    assert sizes.independence == ("single" if len(graph.symbols()) == 1 else "proven")
    others = dict(sizes.fixed)
    assert _brute(graph, symbol, others, range(1, 200)) == set(sizes.valid.sizes(1, 199))


def test_failures_name_the_join_of_each_residue_class() -> None:
    sizes = analyse_sizes(_fixture("unet_k2s2_odd_breaks.onnx"), symbols=["H"]).symbols["H"]
    by_node = {g.node: g for g in sizes.failures}
    assert by_node["/ups.2/Concat"].residues == (1,) and by_node["/ups.2/Concat"].first == 9
    assert by_node["/ups.1/Concat"].residues == (2, 3)
    assert by_node["/ups.0/Concat"].residues == (4, 5, 6, 7) and by_node["/ups.0/Concat"].first == 12
    assert by_node["/downs.2/pool/MaxPool"].sizes == (4, 5, 6, 7)
    assert by_node["/ups.2/Concat"].kind == "join-mismatch"
    failing = [n for g in sizes.failures for n in g.sizes] + [
        n for g in sizes.failures for n in range(1, 64) if g.residues and g.first is not None
        and n >= g.first and n % 8 in g.residues]
    assert sorted(failing) == [n for n in range(1, 64) if n % 8 or n == 0]  # each failing size once


def test_a_model_without_symbols_is_judged_at_its_fixed_shape() -> None:
    analysis = analyse_sizes(_fixture("unet_resize_to_skip_fixed.onnx"))
    assert analysis.static is not None and analysis.static.ok and not analysis.symbols
    assert analysis.accepts({}) is True


def test_bound_dims_are_held_and_only_the_others_analysed() -> None:
    analysis = analyse_sizes(_fixture("unet_k2s2_odd_breaks.onnx"), dims={"W": 24})
    assert list(analysis.symbols) == ["H"] and analysis.symbols["H"].independence == "single"
    assert analysis.bound == {"W": 24}
    assert analyse_sizes(_fixture("unet_k2s2_odd_breaks.onnx"), dims={"W": 25}).empty


def test_verify_propagates_a_second_period_and_agrees() -> None:
    plain = analyse_sizes(_fixture("audio_encdec_1d.onnx"))
    checked = analyse_sizes(_fixture("audio_encdec_1d.onnx"), verify=True)
    assert checked.symbols["L"].valid == plain.symbols["L"].valid
    assert checked.propagations == plain.propagations + plain.symbols["L"].valid.period


CEIL_UNET = """shapecheck: 1
inputs:
  x: [1, 2, H, W]
layers:
  - {name: e0, op: conv, input: x, out_channels: 2, kernel_size: 3, padding: 1}
  - {name: p0, op: maxpool, kernel_size: 2, stride: 2, ceil_mode: true}
  - {name: e1, op: conv, out_channels: 2, kernel_size: 3, padding: 1}
  - {name: p1, op: maxpool, kernel_size: 2, stride: 2}
  - {name: u1, op: upsample, scale_factor: 2}
  - {name: c1, op: concat, inputs: [u1, e1]}
  - {name: u0, op: conv_transpose, out_channels: 2, kernel_size: 2, stride: 2}
  - {name: c0, op: concat, inputs: [u0, e0]}
"""


def test_ceil_mode_pools_take_the_period_from_the_strides_and_are_still_proven() -> None:
    graph = load_yaml_text(CEIL_UNET)
    analysis = analyse_sizes(graph)
    sizes = analysis.symbols["H"]
    assert sizes.period_source == "strides" and sizes.valid.period == 4
    assert sizes.proven and sizes.independence == "proven"
    assert sizes.valid.describe() == "H ≡ 0 (mod 4), from 4"
    assert _brute(graph, "H", {"W": 8}, range(1, 300)) == set(sizes.valid.sizes(1, 299))


def test_products_of_sizes_couple_the_symbols_and_are_searched() -> None:
    graph = load_yaml_text("""shapecheck: 1
inputs:
  x: [1, 2, H, W]
dims: {H: 8, W: 8}
layers:
  - {name: c, op: conv, input: x, out_channels: 2, kernel_size: 3, padding: 1}
  - {name: p, op: maxpool, kernel_size: 2}
  - {name: f, op: flatten}
  - {name: fc, op: linear, in_features: 32, out_features: 10}
""")
    analysis = analyse_sizes(graph, search_range=(1, 40))
    sizes = analysis.symbols["H"]
    assert sizes.independence == "coupled" and sizes.coupled_with == ("W",) and not sizes.proven
    assert sizes.valid.method == "search" and sizes.valid.searched_to == 40
    assert analysis.anchor == {"H": 8, "W": 8}
    assert set(sizes.valid.sizes()) == {8, 9}  # 2·⌊H/2⌋·⌊W/2⌋ = 32 with W = 8
    assert analysis.coupled == [["H", "W"]]
    assert sizes.valid.normal_form() == NormalForm(None, (), 8, (), (8, 9))  # searched: the values found
    assert sizes.failing_classes == () and widen_suggestions(analysis)["H"].suggestions == ()
    assert analysis.accepts({"H": 8, "W": 8}) is True
    assert analysis.accepts({"H": 4, "W": 16}) is None  # coupled: unknown away from the held W
    assert "searched 1..40" in sizes.valid.describe()


def test_a_join_comparing_two_symbols_couples_them(tmp_path) -> None:
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="swap", perm=[0, 1, 3, 2]),
             helper.make_node("Add", ["x", "t"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = str(tmp_path / "square.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    analysis = analyse_sizes(load_model(path), search_range=(1, 30))
    sizes = analysis.symbols["H"]
    assert sizes.independence == "coupled" and not analysis.proven
    held = sizes.fixed["W"]
    assert set(sizes.valid.sizes()) == {1, held}  # equal sizes, or a size of 1 that broadcasts


def test_a_scale_that_does_not_repeat_is_searched_not_proven() -> None:
    graph = load_yaml_text("""shapecheck: 1
inputs:
  x: [1, 2, H]
layers:
  - {name: up, op: upsample, input: x, scale_factor: 0.7, mode: nearest}
  - {name: c, op: conv, out_channels: 2, kernel_size: 3}
""")
    sizes = analyse_sizes(graph, search_range=(1, 50)).symbols["H"]
    assert sizes.valid.method == "search" and not sizes.proven
    assert any("no known period" in note for note in sizes.notes)
    assert set(sizes.valid.sizes()) == set(range(5, 51))  # ⌊0.7·H⌋ >= 3


def test_expect_declarations_count_as_failures() -> None:
    graph = load_yaml_text("""shapecheck: 1
inputs:
  x: [1, 2, H]
layers:
  - {name: p, op: maxpool, input: x, kernel_size: 2}
  - {name: u, op: upsample, scale_factor: 2, expect: [1, 2, H]}
""")
    sizes = analyse_sizes(graph).symbols["H"]
    assert sizes.valid.describe() == "H ≡ 0 (mod 2), from 2" and sizes.proven
    assert {g.kind for g in sizes.failures} == {"non-positive", "expect-mismatch"}


def test_a_flattened_size_compared_with_in_features_settles_past_the_constant() -> None:
    graph = load_yaml_text("""shapecheck: 1
inputs:
  x: [1, 2, L]
layers:
  - {name: c, op: conv, input: x, out_channels: 2, kernel_size: 3, padding: 1}
  - {name: p, op: maxpool, kernel_size: 4}
  - {name: f, op: flatten}
  - {name: fc, op: linear, in_features: 64, out_features: 10}
""")
    sizes = analyse_sizes(graph).symbols["L"]
    assert sizes.proven and sizes.margin == 65
    assert sizes.valid.describe() == "only L = 128-131"  # 2·⌊L/4⌋ = 64, and no other size
    assert _brute(graph, "L", {}, range(1, 400)) == {128, 129, 130, 131}


def test_a_model_that_never_runs_is_empty_and_proven() -> None:
    graph = load_yaml_text("""shapecheck: 1
inputs:
  x: [1, 2, H]
layers:
  - {name: c, op: conv, input: x, out_channels: 2, kernel_size: 3}
  - {name: s, op: concat, inputs: [c, x]}
""")
    analysis = analyse_sizes(graph)
    assert analysis.empty and analysis.proven
    assert analysis.symbols["H"].valid.describe() == "no H"


def test_valid_set_queries() -> None:
    valid = ValidSet("H", start=16, period=8, residues=frozenset({0, 4}), below=frozenset({3, 8, 12}),
                     proven=True, method="periodic")
    assert [x for x in range(1, 30) if x in valid] == [3, 8, 12, 16, 20, 24, 28]
    assert valid.classes() == [(0, 8), (4, 12)]
    assert valid.exceptions() == [3]
    assert valid.describe() == "H ≡ 0 (mod 8), from 8; H ≡ 4 (mod 8), from 12; also H = 3"
    assert valid.density == Fraction(1, 4) and valid.smallest(3) == [3, 8, 12]
    assert valid.nearest(27) == (24, 28) and valid.every_from() is None
    every = ValidSet("L", start=4, period=1, residues=frozenset({0}), below=frozenset({2, 3}), proven=True,
                     method="periodic")
    assert every.every_from() == 2 and every.describe() == "every L from 2"
    searched = ValidSet("H", 11, 1, frozenset(), frozenset({2, 3, 7}), False, "search", 1, 10)
    assert searched.describe() == "H ∈ {2-3, 7} (searched 1..10)"
    assert 7 in searched and 20 not in searched and not searched.known(20)


def test_findings_for_check_on_a_symbolic_model() -> None:
    graph = _fixture("unet_k2s2_odd_breaks.onnx")
    findings = size_constraint_findings(graph)
    assert [f.severity for f in findings] == [Severity.INFO, Severity.INFO]  # the issue: an info finding
    first = findings[0]
    assert first.code == "SC206" and first.node == "/ups.0/Concat"
    assert "valid only for H ≡ 0 (mod 8), from 8 (proven for every size)" in first.message
    assert {r.node for r in first.related} == {"/ups.1/Concat", "/ups.2/Concat", "/downs.0/pool/MaxPool",
                                               "/downs.1/pool/MaxPool", "/downs.2/pool/MaxPool"}
    assert first.fixes[0].kind == "input-size" and first.fixes[0].value == {"H": [8, 16, 24]}
    data = dict(first.data)
    assert data["period"] == 8 and data["residues"] == [0] and data["proven"] is True
    # the same from the rules' Analysis of a check at symbolic dims, and with the caller's code
    again = size_constraint_findings(Analysis(propagate(graph)), code="SC299", name="sizes")
    assert [(f.code, f.node, f.message) for f in again] == [("SC299", f.node, f.message) for f in findings]


def test_findings_severity_follows_the_set() -> None:
    padfix = size_constraint_findings(_fixture("unet_convtranspose_padfix.onnx"))
    assert {f.severity for f in padfix} == {Severity.INFO}
    assert "every H from 16" in padfix[0].message
    never = load_yaml_text("""shapecheck: 1
inputs:
  x: [1, 2, H]
layers:
  - {name: c, op: conv, input: x, out_channels: 2, kernel_size: 3}
  - {name: s, op: concat, inputs: [c, x]}
""")
    errors = size_constraint_findings(never)
    assert [f.severity for f in errors] == [Severity.ERROR] and errors[0].node == "s"
    assert size_constraint_findings(_fixture("unet_resize_to_skip_fixed.onnx")) == []


def test_output_padding_options_show_a_baked_export() -> None:
    graph = _fixture("unet_baked_output_size.onnx")
    options = output_padding_options(graph, "/ups.2/up/ConvTranspose")
    assert [o.value for o in options] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    current = next(o for o in options if o.current)
    assert current.value == (1, 1)
    assert current.analysis.symbols["H"].valid.describe() == "H ≡ 5 (mod 8), from 13"
    zero = options[0].analysis.symbols["H"].valid
    assert zero.describe() == "H ≡ 4 (mod 8), from 12"
    assert all(o.analysis.symbols["H"].valid.density == Fraction(1, 8) for o in options)
    # every baked transposed conv back at 0: the multiples of 8, as for the textbook U-Net
    patches = [Patch(name, {"output_padding": (0, 0)}) for name in ("/ups.0/up/ConvTranspose",
                                                                     "/ups.2/up/ConvTranspose")]
    assert valid_sets_with(graph, patches).symbols["W"].valid.describe() == "W ≡ 0 (mod 8), from 8"
    with pytest.raises(ValueError, match="not a ConvTranspose"):
        output_padding_options(graph, "/ups.0/Concat")


def test_normal_form_one_minimum_the_smallest_modulus_and_exceptions() -> None:
    """The JSON's ``modulus``/``residues``/``min``/``exceptions``/``values`` describe exactly the set."""
    two_classes = ValidSet("H", start=16, period=8, residues=frozenset({0, 4}), below=frozenset({3, 8, 12}),
                           proven=True, method="periodic")
    form = two_classes.normal_form()
    assert form == NormalForm(4, (0,), 8, (3,), None) and two_classes.modulus == 4
    reduced = ValidSet("H", start=16, period=16, residues=frozenset({0, 8}), below=frozenset({8}), proven=True,
                       method="periodic")
    assert reduced.normal_form() == NormalForm(8, (0,), 8, (), None)
    every = ValidSet("L", start=4, period=1, residues=frozenset({0}), below=frozenset({2, 3}), proven=True,
                     method="periodic")
    assert every.normal_form() == NormalForm(1, (0,), 2, (), None)
    finite = ValidSet("H", start=9, period=4, residues=frozenset(), below=frozenset({3, 5}), proven=True,
                      method="periodic")
    assert finite.normal_form() == NormalForm(None, (), 3, (), (3, 5)) and finite.modulus is None
    for valid in (two_classes, reduced, every, finite):
        form = valid.normal_form()
        members = {x for x in range(1, 200) if x in valid}
        if form.modulus is None:
            assert members == set(form.values or ())
        else:
            described = {x for x in range(1, 200)
                         if (x >= form.minimum and x % form.modulus in form.residues) or x in form.exceptions}
            assert members == described and form.minimum in valid
            assert all(x < form.minimum for x in form.exceptions)


@pytest.mark.parametrize(("form", "expected"), [
    (NormalForm(8, (0,), 8, (), None), ("H_pad = 8·⌈H/8⌉", "H_pad = -(-H // 8) * 8")),
    (NormalForm(8, (0,), 16, (), None), ("H_pad = max(16, 8·⌈H/8⌉)", "H_pad = max(16, -(-H // 8) * 8)")),
    (NormalForm(1, (0,), 16, (), None), ("H_pad = max(H, 16)", "H_pad = max(H, 16)")),
    (NormalForm(8, (5,), 13, (), None), ("H_pad = max(13, H + ((5 − H) mod 8))", "H_pad = max(13, H + (5 - H) % 8)")),
    (NormalForm(8, (0, 3), 3, (), None), (
        "H_pad = the smallest size ≥ max(H, 3) that is ≡ 0, 3 (mod 8)",
        "H_pad = next(x for x in range(max(H, 3), max(H, 3) + 8) if x % 8 in {0, 3})")),
    (NormalForm(None, (), 3, (), (3, 5)), None),
])
def test_pad_formula_gives_the_next_size_of_the_classes(form, expected) -> None:
    assert pad_formula("H", form) == expected
    if expected is None:
        return
    for size in range(1, 100):
        scope: dict[str, int] = {"H": size}
        exec(expected[1], {}, scope)  # the printed formula, run as written
        padded = scope["H_pad"]
        assert form.minimum is not None and form.modulus is not None
        assert padded >= size and padded >= form.minimum and padded % form.modulus in form.residues
        assert not any(x >= form.minimum and x % form.modulus in form.residues for x in range(size, padded))


def test_failing_classes_and_closed_forms_of_a_fixture() -> None:
    graph = _fixture("audio_encdec_1d.onnx")
    analysis = analyse_sizes(graph)
    sizes = analysis.symbols["L"]
    classes = sizes.failing_classes
    assert [c.residue for c in classes] == list(range(1, 64)) and {c.modulus for c in classes} == {64}
    assert {c.node for c in classes if c.residue < 4} == {"/Add_2"} and classes[0].first == 65
    position = {node.name: i for i, node in enumerate(graph.topological_order())}
    for failing in classes[::7]:  # the first failing node, from the class's first member on
        assert failing.example == failing.first and failing.first % 64 == failing.residue
        for size in (failing.first, failing.first + 64 * 9):
            nodes = [node for node, _, _ in failing_facts(propagate(graph, dims={"L": size}))]
            assert min(nodes, key=position.__getitem__) == failing.node
    assert sizes.closed_forms["/encoder.2/encoder.2.0/Conv_output_0"] == "floor(L/64)"
    assert sizes.closed_forms["/decoder.0/decoder.0.0/ConvTranspose_output_0"] == "4*floor(L/64)"


def test_a_work_budget_bounds_the_whole_analysis_by_node_evaluations() -> None:
    """Counted in node evaluations, not seconds: the same model is cut at the same point on any machine."""
    from shapecheck.sizes import WorkBudget, WorkBudgetExceeded

    graph = _fixture("unet_k2s2_odd_breaks.onnx")
    work = WorkBudget(10 ** 9)
    full = analyse_sizes(graph, work=work)
    assert work.spent == full.propagations * len(graph.nodes)
    with pytest.raises(WorkBudgetExceeded, match=f"more than {work.spent - 1:,} node evaluations"):
        analyse_sizes(graph, work=WorkBudget(work.spent - 1))
    assert analyse_sizes(graph, work=WorkBudget(work.spent)).symbols == full.symbols


def test_check_says_when_its_work_bound_stopped_the_size_analysis(monkeypatch) -> None:
    """SC206 and SC502 share one budget per check; past it they say what was not analysed (never silent)."""
    import shapecheck.rules.sizes
    from shapecheck.check import check_file

    path = os.path.join(FIXTURES, "unet_baked_output_size.onnx")
    codes = frozenset({"SC206", "SC502"})
    normal = check_file(path, codes=codes).findings
    assert {f.code for f in normal} == {"SC206", "SC502"}
    assert not any("not analysed" in f.message or "not checked" in f.message for f in normal)
    monkeypatch.setattr(shapecheck.rules.sizes, "CHECK_WORK", 50)
    cut = check_file(path, codes=codes).findings
    assert [(f.code, f.severity) for f in cut] == [("SC206", Severity.INFO), ("SC502", Severity.INFO)]
    assert "were not analysed: the size analysis needs more than 50 node evaluations" in cut[0].message
    assert "was not checked: the size analysis needs more than 50 node evaluations" in cut[1].message
