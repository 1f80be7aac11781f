"""What would widen a symbol's valid set: a constant fix, or — when none exists — the dynamic alternatives.

A U-Net whose transposed convs must restore the size a floor dropped fails on whole residue classes. Two
kinds of remedy exist, and :func:`widen_suggestions` says which apply, per symbol:

* **A constant fix.** A transposed conv's ``output_padding`` on the symbol's axis is a constant. For one
  size of each failing class, the model is propagated and the first failing join that a transposed conv
  feeds gets the one padding that makes its sizes agree (``skip − upsampled + output_padding``), then the
  next, until the size runs: that is the combination of paddings the class needs, exactly (each join
  admits one value). A constant serves the classes whose combination it equals, so the combination most
  classes need is a fix when it runs more classes than the model does, and the one the multiples of the
  period need (the "round" sizes) is an alternative when the model runs another class (an
  ``output_padding`` baked in for one export size). Legal values are onnxruntime's
  (:func:`shapecheck.arith.output_padding_limit`), and a suggested constant comes with the valid set of
  the patched model, analysed like the model itself (:func:`shapecheck.sizes.valid_sets_with`).
* **The dynamic alternatives.** When the padding a transposed conv needs depends on the size's residue
  (its parity, level by level), no constant serves every size, but the call can: pad the input up to the
  next valid size (the formula is the valid set's own, as Demucs' ``valid_length`` is), pass
  ``output_size=`` to PyTorch's ``ConvTranspose`` at call time, or crop/pad (or resize) the upsampled
  tensor to the skip's size at the join. Padding the input is offered whenever the set is not "every
  size".

A searched (coupled) set has no residue classes to widen and gets no suggestions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shapecheck import arith
from shapecheck.graph import ModelGraph, Node
from shapecheck.propagate import Propagation, propagate
from shapecheck.sizes._analysis import (
    _ALIGNED,
    NormalForm,
    SizeAnalysis,
    SymbolSizes,
    ValidSet,
    Verdict,
    _Evaluator,
    ranges_text,
)
from shapecheck.sizes._findings import valid_sets_with
from shapecheck.symbolic import Expr
from shapecheck.verify import Patch, apply_patches

__all__ = ["Need", "PaddingChange", "Suggestion", "Widening", "need_text", "pad_formula", "widen_suggestions"]

#: Propagations spent finding the output_padding each failing class needs (classes × (transposed convs + 1)).
MAX_PROPAGATIONS = 8192
#: Ops that make a spatial size larger by a factor: what feeds the upsampled side of a join.
_UPSAMPLING = frozenset({"ConvTranspose", "Resize", "Upsample", "YamlUpsample", "DepthToSpace", "PixelShuffle"})
#: Steps walked back from a join looking for the op that upsampled one of its inputs.
_MAX_WALK = 64


@dataclass(frozen=True)
class PaddingChange:
    """One transposed conv's ``output_padding`` on one spatial axis: ``was`` → ``value``; ``output_padding``
    is the node's whole attribute after the change."""

    node: str
    axis: int
    value: int
    was: int
    output_padding: tuple[int, ...]


@dataclass(frozen=True)
class Need:
    """The ``output_padding`` a transposed conv needs on one spatial axis for a size to run, by residue:
    ``by_residue[r]`` for sizes ``≡ r (mod modulus)`` (``None``: no constant runs those sizes), ``values``
    the distinct values. More than one value: no constant serves every size."""

    node: str
    axis: int
    modulus: int
    by_residue: tuple[int | None, ...]
    values: tuple[int, ...]


@dataclass(frozen=True)
class Suggestion:
    """One way to widen a valid set.

    ``kind``: ``"output_padding"`` (a constant fix: ``changes``, and ``valid``, the set the patched model
    has, proven like the model's own), ``"pad-input"`` (``formula`` and ``python``: the next valid size),
    ``"output_size"`` (the transposed convs in ``nodes``), ``"crop-or-pad"`` (the joins in ``nodes``) or
    ``"resize-to-skip"`` (the resizes in ``nodes``). ``widens``: the model runs more sizes with it.
    """

    kind: str
    text: str
    widens: bool
    changes: tuple[PaddingChange, ...] = ()
    valid: ValidSet | None = None
    nodes: tuple[str, ...] = ()
    formula: str | None = None
    python: str | None = None


@dataclass(frozen=True)
class Widening:
    """The suggestions for one symbol, and what is known about constant ``output_padding`` fixes.

    ``classes``: the residue classes (mod the analysis period) that fail at a join; ``served``: how many
    of them run with some constant output_padding; ``serves_all``: whether one constant runs them and
    the valid classes all. ``needs``: per transposed conv, the padding
    each class needs. ``propagations``: sizes propagated to find the needs; ``analysed``: patched models
    analysed to check the suggested constants.
    """

    symbol: str
    suggestions: tuple[Suggestion, ...] = ()
    classes: int = 0
    served: int = 0
    serves_all: bool = False
    needs: tuple[Need, ...] = ()
    notes: tuple[str, ...] = ()
    propagations: int = 0
    analysed: int = 0


# -- the pad-the-input formula -------------------------------------------------------------------------------
def _identifier(symbol: str) -> str:
    return symbol if symbol.isidentifier() else "size"


def pad_formula(symbol: str, form: NormalForm) -> tuple[str, str] | None:
    """The next size of the valid residue classes at or above a size, as (math, Python statement).

    ``H ≡ 0 (mod 8), from 8`` → ``("H_pad = 8·⌈H/8⌉", "H_pad = -(-H // 8) * 8")``; ``every H from 16`` →
    ``H_pad = max(H, 16)``; ``H ≡ 5 (mod 8), from 13`` → ``H_pad = max(13, H + ((5 − H) mod 8))``. The
    exceptions below the minimum are left out (the formula never pads to them). ``None`` for a finite
    or searched set. The Python statement names the symbol (``size`` when it is not an identifier).
    """
    modulus, residues, minimum = form.modulus, form.residues, form.minimum
    if modulus is None or minimum is None or not residues:
        return None
    var = _identifier(symbol)
    if modulus == 1:
        return f"{symbol}_pad = max({symbol}, {minimum})", f"{var}_pad = max({var}, {minimum})"
    if residues == (0,):
        math_core, py_core = f"{modulus}·⌈{symbol}/{modulus}⌉", f"-(-{var} // {modulus}) * {modulus}"
        if minimum <= modulus:  # the minimum is a valid multiple of the modulus: the modulus itself
            return f"{symbol}_pad = {math_core}", f"{var}_pad = {py_core}"
        return f"{symbol}_pad = max({minimum}, {math_core})", f"{var}_pad = max({minimum}, {py_core})"
    if len(residues) == 1:
        (r,) = residues
        return (f"{symbol}_pad = max({minimum}, {symbol} + (({r} − {symbol}) mod {modulus}))",
                f"{var}_pad = max({minimum}, {var} + ({r} - {var}) % {modulus})")
    listed = ", ".join(map(str, residues))
    low = f"max({var}, {minimum})"
    return (f"{symbol}_pad = the smallest size ≥ max({symbol}, {minimum}) that is ≡ {listed} (mod {modulus})",
            f"{var}_pad = next(x for x in range({low}, {low} + {modulus}) if x % {modulus} in {{{listed}}})")


# -- the transposed convs on the symbol's axis ------------------------------------------------------------------
@dataclass(frozen=True)
class _Knob:
    """One transposed conv's ``output_padding`` on the symbol's axis."""

    node: Node
    axis: int
    limit: int
    current: tuple[int, ...]

    @property
    def value(self) -> int:
        return self.current[self.axis]


def _symbol_axis(graph: ModelGraph, symbol: str) -> int | None:
    """The axis of the first graph input that carries ``symbol`` alone."""
    for spec in graph.inputs.values():
        for axis, dim in enumerate(spec.shape or ()):
            if isinstance(dim, Expr) and dim.symbols() == {symbol}:
                return axis
    return None


def _knobs(graph: ModelGraph, free: Propagation, symbol: str) -> list[_Knob]:
    """The transposed convs with a spatial axis of ``symbol`` alone — read from the output's expression, or,
    where the engine leaves the size unknown (after a ceil-mode pool), the axis the symbol has at the
    input — with its legal values (onnxruntime's limit, the stricter one). Whether a knob matters is
    decided by propagation, never by this guess."""
    at_input = _symbol_axis(graph, symbol)
    knobs = []
    for node in graph.topological_order():
        if node.op != "ConvTranspose" or node.attrs.get("output_shape") is not None or not node.outputs:
            continue
        shape = free.shape(node.outputs[0])
        details = free.details.get(node.name, {})
        strides = tuple(details.get("strides") or node.attrs.get("strides") or ())
        if shape is None or not strides:
            continue
        dilations = tuple(details.get("dilations") or node.attrs.get("dilations") or (1,) * len(strides))
        current = tuple(int(v) for v in (node.attrs.get("output_padding") or (0,) * len(strides)))
        for axis in range(2, len(shape)):
            dim = shape[axis]
            spatial = axis - 2
            ours = (isinstance(dim, Expr) and dim.symbols() == {symbol}) or (dim is None and axis == at_input)
            if ours and spatial < len(strides):
                limit = arith.output_padding_limit(strides[spatial], dilations[spatial], runtime="onnxruntime")
                if limit > 1:
                    knobs.append(_Knob(node, spatial, limit, current))
    return knobs


def _walk_back(graph: ModelGraph, tensor: str) -> Node | None:
    """The upsampling op ``tensor`` comes from through ops with one data input, or ``None``."""
    for _ in range(_MAX_WALK):
        producer = graph.producer(tensor)
        if producer is None:
            return None
        if producer.op in _UPSAMPLING:
            return producer
        inputs = list(dict.fromkeys(graph.data_inputs(producer)))
        if len(inputs) != 1:
            return None
        tensor = inputs[0]
    return None


def _upsamplers(graph: ModelGraph, join: Node) -> list[Node]:
    """The ops that upsampled the inputs of ``join``."""
    found = (_walk_back(graph, t) for t in dict.fromkeys(graph.data_inputs(join)))
    return [node for node in found if node is not None]


# -- constants: the padding each class needs ----------------------------------------------------------------
def _changes(knobs: Sequence[_Knob], values: Sequence[int]) -> tuple[PaddingChange, ...]:
    out = []
    for knob, value in zip(knobs, values):
        if value != knob.value:
            padding = list(knob.current)
            padding[knob.axis] = value
            out.append(PaddingChange(knob.node.name, knob.axis, value, knob.value, tuple(padding)))
    return tuple(out)


def _patches(knobs: Sequence[_Knob], values: Sequence[int]) -> list[Patch]:
    patches = []
    for knob, value in zip(knobs, values):
        if value != knob.value:
            padding = list(knob.current)
            padding[knob.axis] = value
            patches.append(Patch(knob.node.name, {"output_padding": tuple(padding)}))
    return patches


def _large_valid(valid: ValidSet, period: int) -> frozenset[int]:
    """The residues mod ``period`` (a multiple of the set's own) that are valid for large sizes."""
    if valid.searched_to is not None or period % valid.period:
        return frozenset()
    return frozenset(r for r in range(period) if r % valid.period in valid.residues)


def _nodes_text(nodes: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(nodes[:limit])
    return shown + (f" and {len(nodes) - limit} more" if len(nodes) > limit else "")


def _changes_text(symbol: str, changes: Sequence[PaddingChange]) -> str:
    return "; ".join(f"{c.node} output_padding {list(c.output_padding)} ({symbol}'s axis {c.axis}: {c.was} → "
                     f"{c.value})" for c in changes)


def _share(valid: ValidSet) -> str:
    share = valid.density
    if share in (0, 1):
        return "none" if share == 0 else "all"
    return f"1/{share.denominator}" if share.numerator == 1 else str(share)


class _Constants:
    """The constant output_padding values of one symbol's transposed convs, and what each class needs."""

    def __init__(self, graph: ModelGraph, sizes: SymbolSizes, analysis: SizeAnalysis,
                 input_shapes: Mapping[str, tuple[int, ...]] | None, knobs: list[_Knob]) -> None:
        self.graph = graph
        self.sizes = sizes
        self.analysis = analysis
        self.input_shapes = input_shapes
        self.knobs = knobs
        self.current = tuple(k.value for k in knobs)
        self.dims = {**analysis.bound, **sizes.fixed}
        self.feeds = self._feeds()
        self.graphs: dict[tuple[int, ...], _Evaluator] = {}
        self.sets: dict[tuple[int, ...], ValidSet] = {self.current: sizes.valid}
        self.propagations = 0

    def _feeds(self) -> dict[str, list[tuple[int, str, list[str]]]]:
        """join -> (knob index, the input it upsampled, the other inputs) for every join a knob feeds."""
        index = {k.node.name: i for i, k in enumerate(self.knobs)}
        feeds: dict[str, list[tuple[int, str, list[str]]]] = {}
        for join in self.graph.joins():
            if join.op not in _ALIGNED:
                continue
            inputs = list(dict.fromkeys(self.graph.data_inputs(join)))
            for tensor in inputs:
                source = _walk_back(self.graph, tensor)
                if source is not None and source.name in index:
                    others = [t for t in inputs if t != tensor]
                    feeds.setdefault(join.name, []).append((index[source.name], tensor, others))
        return feeds

    def valid_set(self, values: tuple[int, ...]) -> ValidSet:
        """The symbol's valid set with these output_padding values: the patched model, analysed."""
        if values not in self.sets:
            patched = valid_sets_with(self.graph, _patches(self.knobs, values), dims=self.dims,
                                      input_shapes=self.input_shapes, search_range=self.analysis.search_range)
            self.sets[values] = patched.symbols[self.sizes.symbol].valid
        return self.sets[values]

    def _run(self, values: tuple[int, ...], size: int) -> tuple[Verdict, Propagation]:
        evaluator = self.graphs.get(values)
        if evaluator is None:
            patched = apply_patches(self.graph, _patches(self.knobs, values))
            evaluator = self.graphs[values] = _Evaluator(patched, self.input_shapes)
        self.propagations += 1
        return evaluator.run({**self.dims, self.sizes.symbol: size})

    def need(self, size: int) -> tuple[int, ...] | None:
        """The output_padding values under which ``size`` runs: the first failing join fed by a transposed
        conv gets the padding that makes its sizes agree, and so on down the graph (each value is the only
        one that makes its join agree). ``None`` when a failure is not such a join, or needs an illegal
        value."""
        values = list(self.current)
        for _ in range(len(self.knobs) + 1):
            verdict, result = self._run(tuple(values), size)
            if verdict.ok:
                return tuple(values)
            if verdict.kind != "join-mismatch" or verdict.node not in self.feeds:
                return None
            changed = False
            for index, tensor, others in self.feeds[verdict.node]:
                knob = self.knobs[index]
                axis = knob.axis + 2
                up, other = result.shape(tensor), result.shape(others[0]) if others else None
                if up is None or other is None or len(up) != len(other):
                    return None
                if not isinstance(up[axis], int) or not isinstance(other[axis], int) or up[axis] == other[axis]:
                    continue
                value = other[axis] - up[axis] + values[index]
                if not 0 <= value < knob.limit or value == values[index]:
                    return None
                values[index] = value
                changed = True
            if not changed:
                return None
        return None


def _by_residue(values: Mapping[int, int], period: int) -> tuple[int, tuple[int | None, ...]]:
    """The smallest modulus ``d`` (dividing ``period``) with which the known ``values`` repeat, and the value
    per residue mod ``d`` (``None`` where unknown)."""
    for d in range(1, period + 1):
        if period % d:
            continue
        table: dict[int, int] = {}
        if all(table.setdefault(r % d, v) == v for r, v in sorted(values.items())):
            return d, tuple(table.get(r) for r in range(d))
    return period, tuple(values.get(r) for r in range(period))


def _constant_fixes(constants: _Constants, failing: frozenset[int]) -> tuple[Widening, list[Suggestion]]:
    """The constant fixes and what is known about them (see :class:`Widening`)."""
    sizes = constants.sizes
    symbol, valid, knobs = sizes.symbol, sizes.valid, constants.knobs
    period = valid.period
    now_valid = _large_valid(valid, period)
    vectors: dict[int, tuple[int, ...] | None] = {}
    for residue in sorted(now_valid | failing):
        vectors[residue] = constants.current if residue in now_valid else constants.need(
            valid.start + (residue - valid.start) % period)
    known = {r: v for r, v in vectors.items() if v is not None}
    served = frozenset(r for r in failing if vectors.get(r) is not None)
    serves_all = len(known) == len(vectors) and len(set(known.values())) == 1
    needs = []
    for index, knob in enumerate(knobs if served else ()):
        modulus, by_residue = _by_residue({r: v[index] for r, v in known.items()}, period)
        seen = sorted({v[index] for v in known.values()})
        needs.append(Need(knob.node.name, knob.axis, modulus, by_residue, tuple(seen)))
    candidates = []
    counts = Counter(known.values())
    if counts:
        top = max(counts.values())
        best = sorted(v for v, n in counts.items() if n == top)
        candidates.append(constants.current if constants.current in best else best[0])
    if 0 in failing and known.get(0) is not None:
        candidates.append(known[0])
    suggestions: list[Suggestion] = []
    for candidate in dict.fromkeys(candidates):
        if candidate == constants.current:
            continue
        after = constants.valid_set(candidate)
        changes = _changes(knobs, candidate)
        if after.density > valid.density:
            suggestions.append(Suggestion(
                "output_padding", f"constant fix: {_changes_text(symbol, changes)} — then {after.describe()} "
                f"({_share(after)} of all sizes instead of {_share(valid)})", True, changes=changes, valid=after))
        elif after.density == valid.density and 0 in _large_valid(after, period):
            suggestions.append(Suggestion(
                "output_padding", f"alternative constant: {_changes_text(symbol, changes)} — then "
                f"{after.describe()}: as many sizes, and the round ones (the current output_padding serves "
                f"{valid.describe()}, as if baked in for one export size)", False, changes=changes, valid=after))
    widening = Widening(symbol, classes=len(failing), served=len(served), serves_all=serves_all,
                        needs=tuple(needs), propagations=constants.propagations, analysed=len(constants.sets) - 1)
    return widening, suggestions


# -- per symbol ----------------------------------------------------------------------------------------------
def need_text(symbol: str, need: Need) -> str:
    """``0 for H ≡ 0-3, 1 for H ≡ 4-7 (mod 8)``: the padding a transposed conv needs, by residue."""
    by_value: dict[int, list[int]] = {}
    for residue, value in enumerate(need.by_residue):
        if value is not None:
            by_value.setdefault(value, []).append(residue)
    cases = [f"{value} for {symbol} ≡ {ranges_text(residues)}" for value, residues in sorted(by_value.items())]
    return ", ".join(cases) + f" (mod {need.modulus})"


def _widen_symbol(graph: ModelGraph, free: Propagation, sizes: SymbolSizes, analysis: SizeAnalysis,
                  input_shapes: Mapping[str, tuple[int, ...]] | None, max_propagations: int) -> Widening:
    symbol = sizes.symbol
    valid = sizes.valid
    if valid.searched_to is not None:
        return Widening(symbol, notes=(f"{symbol} was searched, not proven: no suggestions",))
    if valid.every_from() == 1:
        return Widening(symbol)
    position = {node.name: i for i, node in enumerate(graph.topological_order())}
    join_classes = [c for c in sizes.failing_classes if c.kind == "join-mismatch"]
    joins = sorted({c.node for c in join_classes}, key=lambda n: position.get(n, -1))
    failing = frozenset(r for r in range(valid.period) if any(r % c.modulus == c.residue for c in join_classes))
    knobs = _knobs(graph, free, symbol) if join_classes else []
    suggestions: list[Suggestion] = []
    widening = Widening(symbol, classes=len(failing))
    notes: list[str] = []
    analysed = bool(knobs) and len(failing) * (len(knobs) + 1) <= max_propagations
    if knobs and not analysed:
        notes.append(f"constant output_padding fixes not analysed: {len(failing)} failing classes and "
                     f"{len(knobs)} transposed convs would take more than {max_propagations} propagations")
    elif knobs:
        constants = _Constants(graph, sizes, analysis, input_shapes, knobs)
        widening, suggestions = _constant_fixes(constants, failing)
        varying = [need for need in widening.needs if len(need.values) > 1]
        if not widening.serves_all and varying:
            notes.append(f"no constant output_padding serves every size: the one a transposed conv needs depends "
                         f"on {symbol} mod {max(n.modulus for n in varying)}")
        elif not widening.serves_all:
            lead = ("no class that fails at a join runs with any" if not widening.served else
                    f"{widening.classes - widening.served} of the {widening.classes} classes that fail at a join "
                    "run with no")
            notes.append(f"{lead} constant output_padding on {symbol}'s axis (the join fails on another axis, is "
                         "not fed by a transposed conv, or needs an output_padding outside the legal range)")
    elif join_classes:
        notes.append("no transposed conv with an output_padding on this axis feeds the failing joins")
    form = valid.normal_form()
    formula = pad_formula(symbol, form)
    if formula is not None:
        math_text, python = formula
        example = _example(valid, form)
        suggestions.append(Suggestion(
            "pad-input", f"pad the input up to the next valid size, {math_text}, and crop the output back to "
            f"{symbol}" + (f" (e.g. {symbol}={example[0]} → {example[1]})" if example else ""),
            True, formula=math_text, python=python))
    if joins and not widening.serves_all:
        upsampled = {n.name: n for j in joins if j in graph.nodes for n in _upsamplers(graph, graph.nodes[j])}
        order = sorted(upsampled.values(), key=lambda n: position[n.name])
        transposed = [n.name for n in order if n.op == "ConvTranspose"]
        resized = [n.name for n in order if n.op != "ConvTranspose"]
        if transposed and (widening.served or not analysed):  # output_size= chooses among the legal paddings
            suggestions.append(Suggestion(
                "output_size", f"PyTorch: call {_nodes_text(transposed)} with output_size= the skip tensor's size, "
                "so the output_padding is chosen per call (eager PyTorch; the TorchScript-based ONNX export traces "
                "it into the constant of the export size)", True, nodes=tuple(transposed)))
        if resized:
            suggestions.append(Suggestion(
                "resize-to-skip", f"resize to the skip tensor's size rather than by a scale at "
                f"{_nodes_text(resized)} (F.interpolate(x, size=skip.shape[2:]))", True, nodes=tuple(resized)))
        suggestions.append(Suggestion(
            "crop-or-pad", f"crop or pad the upsampled tensor to the skip tensor's size before "
            f"{_nodes_text(joins)} (F.pad with sizes computed from both shapes: exported with dynamic axes it "
            "stays a computed Pad)", True, nodes=tuple(joins)))
    return Widening(symbol, tuple(suggestions), widening.classes, widening.served, widening.serves_all,
                    widening.needs, tuple(notes), widening.propagations, widening.analysed)


def _example(valid: ValidSet, form: NormalForm) -> tuple[int, int] | None:
    """The smallest invalid size past the minimum, and the size the formula pads it to."""
    if form.minimum is None:
        return None
    for size in range(form.minimum, form.minimum + 2 * (form.modulus or 1) + 1):
        if size not in valid:
            padded = valid.next_valid(size)
            return (size, padded) if padded is not None else None
    return None


def widen_suggestions(
    analysis: SizeAnalysis,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    max_propagations: int = MAX_PROPAGATIONS,
) -> dict[str, Widening]:
    """Per analysed symbol, what would make more sizes run (see the module docstring).

    ``input_shapes`` default to those the analysis was made with; ``max_propagations`` bounds the work
    spent on the padding each class needs. Nothing for a model without symbolic dims.
    """
    graph = analysis.graph
    if graph is None or analysis.static is not None:
        return {}
    if input_shapes is None:
        input_shapes = dict(analysis.input_shapes) or None
    free = propagate(graph, dims=analysis.bound, input_shapes=input_shapes)
    return {name: _widen_symbol(graph, free, sizes, analysis, input_shapes, max_propagations)
            for name, sizes in analysis.symbols.items()}
