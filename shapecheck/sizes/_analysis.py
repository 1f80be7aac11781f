"""The valid-size analysis: for each symbolic input dim, every size at which no runtime fails.

A size is *valid* when propagating the model at that size records no fact that means a runtime fails
(:data:`shapecheck.verify.FAILING_KINDS`: a join mismatch, an empty or negative size, a channel or
attribute a runtime rejects, a YAML ``expect`` that does not hold). Propagating every size one by one
answers the question only up to where one stops; this module answers it for *every* size:

1. Propagate once with the symbol left free. The sizes come out as expressions, whose floor divisors
   give the period ``P`` after which validity repeats, and whose slopes and bounds give the point ``T``
   from which every size has settled (:mod:`shapecheck.sizes._periods`). Where the engine leaves a size
   unknown (a ceil-mode pool), ``P`` comes from the strides along the paths instead, and ``T`` is found
   by checking, over a period, that every size has settled and moves by a fixed step per period.
2. Propagate each size below ``T`` (the finite exceptions) and one period from ``T`` (the residue
   classes). That is the whole valid set: ``{x < T valid} ∪ {x ≥ T : x mod P ∈ R}``.

The answer is *proven* only when that argument applies. Sizes that depend on a product of symbols
(``H·W`` through a Reshape or a MatMul), symbols compared with each other, ops whose divisor is unknown
and float scales that do not repeat make the analysis fall back to propagating every size of a search
range; such a result says "searched, not proven".

With several symbols, whether one symbol's sizes ever meet another's is read from the expressions (a
size of two symbols, a product, a join or a matrix product comparing their sizes) or, where the engine
leaves sizes unknown, from the axis mapping of the ops. A symbol shown independent is analysed with the
others held at values where nothing fails while it is left free (or left free themselves), so its set
is its own (*proven* independent). Otherwise the others are held at a combination that runs, found
first; a coupled symbol is searched, and a symbol whose independence could not be shown is compared at
a second value of the others (*checked*, not proven).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from shapecheck.errors import SpecError
from shapecheck.facts import FactKind
from shapecheck.graph import ModelGraph
from shapecheck.propagate import MAX_DIM, Propagation, propagate
from shapecheck.sizes._periods import (
    NotQuasiAffine,
    QuasiAffine,
    comparison_margin,
    constant_dims,
    quasi_affine,
    settles_from,
    stride_period,
)
from shapecheck.symbolic import Expr, evaluate, symbol
from shapecheck.verify import FAILING_KINDS

__all__ = [
    "DEFAULT_RANGE",
    "FailingClass",
    "FailureGroup",
    "NormalForm",
    "SizeAnalysis",
    "SymbolSizes",
    "ValidSet",
    "Verdict",
    "WorkBudget",
    "WorkBudgetExceeded",
    "analyse_sizes",
]

#: Sizes searched when the periodic argument does not apply, and where examples are drawn from.
DEFAULT_RANGE = (1, 4096)
#: Propagations one symbol may cost before the analysis gives up on a period and searches instead.
DEFAULT_BUDGET = 20_000
#: Facts that leave part of a model unchecked: a size that is valid in their presence is not proven.
_UNCHECKED = (FactKind.UNSUPPORTED_OP, FactKind.UNRESOLVED)


# -- results ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one size runs; if not, the first failing node (topological order) and what fails there."""

    ok: bool
    node: str | None = None
    kind: str | None = None
    message: str = ""
    unchecked: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidSet:
    """The sizes of one symbol at which the model runs.

    ``x < start`` is valid iff ``x in below``; ``x >= start`` iff ``x % period in residues``. A search
    result (``method == "search"``) knows only sizes up to ``searched_to``.
    """

    symbol: str
    start: int
    period: int
    residues: frozenset[int]
    below: frozenset[int]
    proven: bool
    method: str
    searched_from: int = 1
    searched_to: int | None = None

    def __contains__(self, size: object) -> bool:
        if not isinstance(size, int) or size < 1:
            return False
        if size < self.start:
            return size in self.below
        if self.searched_to is not None:
            return False
        return size % self.period in self.residues

    def known(self, size: int) -> bool:
        """Whether membership of ``size`` is known (always, except beyond a search range)."""
        if self.searched_to is None:
            return True
        return self.searched_from <= size <= self.searched_to

    @property
    def empty(self) -> bool:
        return not self.below and not (self.residues and self.searched_to is None)

    @property
    def density(self) -> Fraction:
        """The fraction of large sizes that are valid (``1/8`` for "multiples of 8")."""
        if self.searched_to is not None:
            span = self.searched_to - self.searched_from + 1
            return Fraction(len(self.below), span) if span > 0 else Fraction(0)
        return Fraction(len(self.residues), self.period)

    def classes(self) -> list[tuple[int, int]]:
        """``(residue, first)`` per valid residue class: every ``x >= first`` with ``x ≡ residue`` is valid,
        and ``first`` is as small as the finite part allows."""
        if self.searched_to is not None:
            return []
        out = []
        for residue in sorted(self.residues):
            first = self.start + (residue - self.start) % self.period
            while first - self.period >= 1 and first - self.period in self.below:
                first -= self.period
            out.append((residue, first))
        return out

    def exceptions(self) -> list[int]:
        """Valid sizes below ``start`` that no residue class covers."""
        covered = {(r, f) for r, f in self.classes()}
        return sorted(x for x in self.below if not any(x % self.period == r and x >= f for r, f in covered))

    def every_from(self) -> int | None:
        """The smallest ``a`` such that every size ``>= a`` is valid, or ``None``."""
        if self.searched_to is not None or len(self.residues) != self.period:
            return None
        firsts = [first for _, first in self.classes()]
        if not firsts:  # no residue class at all (a degenerate period): nothing is valid from anywhere
            return None
        return max(1, max(firsts) - self.period + 1)

    def sizes(self, low: int = 1, high: int | None = None) -> Iterator[int]:
        """Valid sizes from ``low`` up to ``high`` (default: the search range, or without end)."""
        stop = high if high is not None else self.searched_to
        size = max(1, low)
        while stop is None or size <= stop:
            if size in self:
                yield size
            elif size >= self.start and (self.searched_to is not None or not self.residues):
                return
            size += 1

    def smallest(self, count: int = 5) -> list[int]:
        out = []
        for size in self.sizes():
            out.append(size)
            if len(out) == count:
                break
        return out

    def nearest(self, size: int) -> tuple[int | None, int | None]:
        """The nearest valid sizes at or below and at or above ``size``."""
        below = next((x for x in range(size, 0, -1) if x in self), None)
        limit = size + (self.period if self.searched_to is None else 0) + self.start
        if self.searched_to is not None:
            limit = self.searched_to
        above = next((x for x in range(max(size, 1), limit + 1) if x in self), None)
        return below, above

    def describe(self) -> str:
        """``H ≡ 0 (mod 8), from 8`` — the set in words (see :func:`describe_set`)."""
        return describe_set(self)

    @property
    def modulus(self) -> int | None:
        """The smallest modulus the valid large sizes repeat with — a divisor of ``period`` (``1`` for "every
        size from …") — or ``None`` when the set is finite or was searched."""
        if self.searched_to is not None or not self.residues:
            return None
        return _smallest_period([r in self.residues for r in range(self.period)])

    def normal_form(self) -> NormalForm:
        """The set as residue classes with one minimum plus exceptions below it (see :class:`NormalForm`)."""
        modulus = self.modulus
        if modulus is None:
            values = tuple(sorted(self.below))
            return NormalForm(None, (), values[0] if values else None, (), values)
        residues = frozenset(r % modulus for r in self.residues)
        # the lowest threshold from which "x mod modulus in residues" is exact, moved up to a valid size
        threshold = self.start
        while threshold > 1 and ((threshold - 1) in self) == ((threshold - 1) % modulus in residues):
            threshold -= 1
        minimum = next(x for x in itertools.count(threshold) if x in self)
        exceptions = tuple(sorted(x for x in self.below if x < minimum))
        return NormalForm(modulus, tuple(sorted(residues)), minimum, exceptions, None)

    def next_valid(self, size: int) -> int | None:
        """The smallest valid size ``>= size`` (``None`` when there is none, or none known)."""
        return self.nearest(max(1, size))[1]


@dataclass(frozen=True, slots=True)
class NormalForm:
    """A valid set as ``shapecheck sizes --format json`` writes it.

    Infinite set: ``x`` is valid iff ``x >= minimum`` and ``x % modulus in residues``, or ``x in
    exceptions`` (all below ``minimum``); ``minimum`` is itself valid, and ``modulus`` is the smallest
    that describes the set. Finite (or searched) set: ``modulus`` is ``None`` and ``values`` lists it,
    ``minimum`` being its smallest value (``None`` when it is empty).
    """

    modulus: int | None
    residues: tuple[int, ...]
    minimum: int | None
    exceptions: tuple[int, ...]
    values: tuple[int, ...] | None


def _smallest_period(labels: Sequence[Any]) -> int:
    """The smallest ``d`` dividing ``len(labels)`` with ``labels[r] == labels[(r + d) % len]`` for all ``r``."""
    size = len(labels)
    for d in range(1, size + 1):
        if size % d == 0 and all(labels[r] == labels[(r + d) % size] for r in range(size)):
            return d
    return size


@dataclass(frozen=True)
class FailureGroup:
    """Sizes that fail at the same node for the same reason.

    ``residues`` are the classes (mod the period) that fail here past ``start``, from ``first`` on;
    ``sizes`` are the other failing sizes (below ``start`` and not in those classes, or found by a
    search), so that every failing size is listed once. ``example`` is the smallest failing size.
    """

    node: str
    kind: str
    residues: tuple[int, ...]
    first: int | None
    sizes: tuple[int, ...]
    example: int
    message: str


@dataclass(frozen=True)
class FailingClass:
    """One invalid residue class: every ``x ≡ residue (mod modulus)`` from ``first`` on fails at ``node``
    (the first failing node in topological order) for the same reason; ``message`` is what fails at
    ``example`` (``== first``). ``modulus`` is the smallest for which the failing node repeats."""

    residue: int
    modulus: int
    first: int
    node: str
    kind: str
    message: str
    example: int


@dataclass(frozen=True)
class SymbolSizes:
    """The valid sizes of one symbol and how they were established.

    ``independence``: ``"single"`` (the only free symbol), ``"proven"`` (no size depends on two symbols
    and no comparison mixes them), ``"checked"`` (sizes unknown to the engine: the same sizes were valid
    at two values of the other symbols) or ``"coupled"`` (validity depends on the others: searched).
    """

    symbol: str
    valid: ValidSet
    failures: tuple[FailureGroup, ...]
    fixed: Mapping[str, int]
    independence: str
    coupled_with: tuple[str, ...]
    period_source: str
    margin: int
    notes: tuple[str, ...]
    propagations: int
    #: One entry per invalid residue class (empty for a searched set).
    failing_classes: tuple[FailingClass, ...] = ()
    #: ``tensor -> expression`` for the spatial sizes of this symbol at resampling nodes, joins and
    #: outputs (``"2*floor(H/8)"``), where the engine has one.
    closed_forms: Mapping[str, str] = field(default_factory=dict)

    @property
    def proven(self) -> bool:
        return self.valid.proven and self.independence in ("single", "proven")


@dataclass(frozen=True)
class SizeAnalysis:
    """Every free symbol's valid sizes (``symbols``), for one model at the given bound dims."""

    path: str
    format: str
    inputs: Mapping[str, Any]
    bound: Mapping[str, int]
    symbols: Mapping[str, SymbolSizes]
    anchor: Mapping[str, int] | None
    static: Verdict | None
    search_range: tuple[int, int]
    notes: tuple[str, ...] = ()
    propagations: int = 0
    graph: ModelGraph | None = field(default=None, compare=False, repr=False)
    #: The ``input_shapes`` the analysis was made with (replacing declared input shapes).
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def proven(self) -> bool:
        return all(s.proven for s in self.symbols.values())

    @property
    def empty(self) -> bool:
        """True when no size (combination) runs at all — proven unless a symbol was searched."""
        if self.static is not None:
            return not self.static.ok
        return any(s.valid.empty for s in self.symbols.values())

    @property
    def coupled(self) -> list[list[str]]:
        """Groups of symbols whose valid sizes depend on each other (searched, not proven), sorted."""
        groups: list[set[str]] = []
        for name, sizes in self.symbols.items():
            if sizes.independence != "coupled":
                continue
            group = {name, *sizes.coupled_with}
            for other in [g for g in groups if g & group]:
                group |= other
                groups.remove(other)
            groups.append(group)
        return sorted(sorted(g) for g in groups)

    def accepts(self, dims: Mapping[str, int]) -> bool | None:
        """Whether the model runs at ``dims`` (a value per free symbol); ``None`` when unknown (coupled
        symbols away from the analysed combination, sizes beyond a search range)."""
        if self.static is not None:
            return self.static.ok
        verdict = True
        for name, sizes in self.symbols.items():
            value = dims.get(name)
            if value is None or not sizes.valid.known(value):
                return None
            if sizes.independence == "coupled" and any(
                    dims.get(o) != v for o, v in sizes.fixed.items() if o in self.symbols):
                return None
            verdict &= value in sizes.valid
        return verdict


# -- describing a set ---------------------------------------------------------------------------------------
def ranges_text(values: Iterable[int]) -> str:
    """``1-7, 9, 12-13`` for a sorted run of ints."""
    ordered = sorted(set(values))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ", ".join(parts)


def describe_set(valid: ValidSet) -> str:
    """The set in words: ``H ≡ 0 (mod 8), from 8``; ``every H from 16``; ``H ≡ 5 (mod 8), from 13;
    also H = 3``; ``no size``; for a search, the sizes found in the range."""
    name = valid.symbol
    if valid.searched_to is not None:
        found = sorted(valid.below)
        span = f"{valid.searched_from}..{valid.searched_to}"
        return f"{name} ∈ {{{ranges_text(found)}}} (searched {span})" if found else f"no {name} in {span}"
    parts: list[str] = []
    every = valid.every_from()
    covered: set[int] = set()
    if every is not None:
        parts.append(f"every {name}" if every == 1 else f"every {name} from {every}")
        covered = set(range(every, valid.start))
    else:
        by_first: dict[int, list[int]] = {}
        for residue, first in valid.classes():
            by_first.setdefault(first, []).append(residue)
        for first, residues in sorted(by_first.items()):
            listed = ", ".join(map(str, residues))
            parts.append(f"{name} ≡ {listed} (mod {valid.period}), from {first}")
    extra = [x for x in valid.exceptions() if x not in covered]
    if extra:
        parts.append(f"{'also' if parts else 'only'} {name} = {ranges_text(extra)}")
    return "; ".join(parts) if parts else f"no {name}"


# -- bounding the work -------------------------------------------------------------------------------------
class WorkBudgetExceeded(Exception):
    """The analysis would spend more node evaluations than its :class:`WorkBudget` allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the size analysis needs more than {limit:,} node evaluations")
        self.limit = limit


class WorkBudget:
    """Node evaluations (one node propagated at one size) that analyses may still spend, shared by every
    analysis of one ``check`` call.

    A count of work, not a clock: the same model gives the same answer on a slow machine and under load,
    while the bound still keeps a linter call short on a hostile model (a propagation of 35 nodes costs
    about 0.4 ms; a period the budget per symbol allows can still need thousands of them per symbol).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    def spend(self, nodes: int) -> None:
        self.spent += nodes
        if self.spent > self.limit:
            raise WorkBudgetExceeded(self.limit)


# -- evaluating one size --------------------------------------------------------------------------------------
Key = tuple[str, int, int]  # (tensor, 0 = shape / 1 = value, index)


class _Evaluator:
    """Propagates the model at concrete sizes, remembering each verdict (and, when asked, the sizes and
    shape values that depend on the symbol)."""

    def __init__(self, graph: ModelGraph, input_shapes: Mapping[str, tuple[int, ...]] | None,
                 work: WorkBudget | None = None) -> None:
        self.graph = graph
        self.input_shapes = dict(input_shapes or {})
        self.work = work
        self.position = {node.name: i for i, node in enumerate(graph.topological_order())}
        self.has_expect = any(node.attrs.get("expect") is not None for node in graph.nodes.values())
        self.count = 0

    def charge(self) -> None:
        """Count one propagation of the whole graph (raises :class:`WorkBudgetExceeded` past the budget)."""
        self.count += 1
        if self.work is not None:
            self.work.spend(len(self.graph.nodes))

    def run(self, dims: Mapping[str, int]) -> tuple[Verdict, Propagation]:
        from shapecheck.expect import check_expectations

        for name, value in dims.items():
            if not 1 <= value <= MAX_DIM:
                raise SpecError(f"size {name}={value} is outside 1..{MAX_DIM}", path=self.graph.path)
        self.charge()
        result = propagate(self.graph, dims=dims, input_shapes=self.input_shapes)
        facts = [f for f in result.facts if f.kind in FAILING_KINDS]
        if self.has_expect:
            facts += check_expectations(self.graph, result)
        unchecked = tuple(sorted({f.node for f in result.facts if f.kind in _UNCHECKED}))
        if not facts:
            return Verdict(True, unchecked=unchecked), result
        first = min(facts, key=lambda f: self.position.get(f.node, len(self.position)))
        return Verdict(False, first.node, first.kind.value, first.message, unchecked), result


def _entries(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(np.asarray(value, dtype=object).flat)


def _quantities(result: Propagation) -> Iterator[tuple[Key, Any]]:
    """Every dim and every shape-value entry of every tensor, keyed by (tensor, kind, index)."""
    for name, tensor in result.tensors.items():
        if tensor.shape is None:
            yield (name, 0, -1), None
            continue
        for i, dim in enumerate(tensor.shape):
            yield (name, 0, i), dim
        for i, entry in enumerate(_entries(tensor.value)):
            if not isinstance(entry, (float, np.floating)):
                yield (name, 1, i), entry


def _join_pairs(graph: ModelGraph, result: Propagation) -> list[tuple[Key, Key]]:
    """Dims that a join compares: its data inputs' dims aligned from the right (broadcasting), except a
    Concat's own axis. Two sizes growing at different rates are only settled when far apart."""
    pairs: list[tuple[Key, Key]] = []
    for node in graph.joins():
        tensors = list(dict.fromkeys(graph.data_inputs(node)))
        shapes = [result.shape(t) for t in tensors]
        if any(s is None for s in shapes):
            continue
        rank = max(len(s) for s in shapes)  # type: ignore[arg-type]
        axis = node.attrs.get("axis", 1) if node.op == "Concat" else None
        if axis is not None and axis < 0:
            axis += rank
        for first, second in itertools.pairwise(tensors):
            a, b = result.shape(first), result.shape(second)
            assert a is not None and b is not None
            for offset in range(1, min(len(a), len(b)) + 1):
                if node.op == "Concat" and rank - offset == axis:
                    continue
                pairs.append(((first, 0, len(a) - offset), (second, 0, len(b) - offset)))
    return pairs


def _expect_pairs(graph: ModelGraph, result: Propagation) -> list[tuple[Any, Any]]:
    """(declared, propagated) dims of YAML ``expect`` declarations, the declared ones as dims."""
    pairs = []
    for node in graph.nodes.values():
        declared = node.attrs.get("expect")
        actual = result.shape(node.outputs[0]) if node.outputs else None
        if declared is None or actual is None or len(declared) != len(actual):
            continue
        for want, got in zip(declared, actual):
            want = evaluate(symbol(want) if isinstance(want, str) else want, result.bindings)
            if want is not None and got is not None:
                pairs.append((want, got))
    return pairs


# -- one symbol ------------------------------------------------------------------------------------------------
@dataclass
class _Outcome:
    valid: ValidSet
    verdicts: dict[int, Verdict]
    period_source: str
    notes: list[str]
    coupled_with: tuple[str, ...] = ()


def _difference(a: Any, b: Any) -> Any:
    if isinstance(a, (int, Expr)) and isinstance(b, (int, Expr)):
        return a - b
    return None


class _SymbolAnalysis:
    """The valid set of one symbol with every other symbol fixed."""

    def __init__(self, evaluator: _Evaluator, name: str, fixed: Mapping[str, int], *, margin: int,
                 search_range: tuple[int, int], budget: int, verify: bool, symbols: Sequence[str]) -> None:
        self.evaluator = evaluator
        self.graph = evaluator.graph
        self.name = name
        self.fixed = dict(fixed)
        self.margin = margin
        self.search_range = search_range
        self.budget = budget
        self.verify = verify
        self.symbols = symbols
        self.verdicts: dict[int, Verdict] = {}
        self.vectors: dict[int, list[Any]] = {}
        self.keys: list[Key] = []

    def verdict(self, size: int) -> Verdict:
        if size not in self.verdicts:
            verdict, result = self.evaluator.run({**self.fixed, self.name: size})
            self.verdicts[size] = verdict
            if self.keys:
                found = dict(_quantities(result))
                self.vectors[size] = [found.get(key) for key in self.keys]
        return self.verdicts[size]

    # -- the three ways -------------------------------------------------------------------------------
    def run(self) -> _Outcome:
        self.evaluator.charge()
        free = propagate(self.graph, dims=self.fixed, input_shapes=self.evaluator.input_shapes)
        notes: list[str] = []
        forms: dict[Key, tuple[Expr, QuasiAffine]] = {}
        unknown: list[Key] = []
        for key, dim in _quantities(free):
            if dim is None:
                unknown.append(key)
            elif isinstance(dim, Expr) and self.name in dim.symbols():
                try:
                    forms[key] = (dim, quasi_affine(dim, self.name))
                except NotQuasiAffine as error:
                    return self._search([*notes, self._coupling_note(free, key, dim, error)],
                                        coupled=self._others_in(dim))
        if any(f.kind is FactKind.UNSUPPORTED_OP for f in free.facts):
            ops = sorted({str(f.data.get("op")) for f in free.facts if f.kind is FactKind.UNSUPPORTED_OP})
            return self._search([*notes, f"no shape rule for {', '.join(ops)}: sizes through it are not known"])
        self.margin = max(self.margin, self._channel_margin(free))
        if not unknown:
            return self._by_expressions(free, forms, notes)
        return self._by_strides(free, unknown, notes)

    def _channel_margin(self, free: Propagation) -> int:
        """A size that reaches the channel axis is compared with weights: their dims join the margin."""
        margin = 0
        for node in self.graph.nodes.values():
            for tensor in node.inputs:
                shape = free.shape(tensor) if tensor else None
                if shape is None or len(shape) < 2:
                    continue
                channel = shape[1]
                if channel is None or (isinstance(channel, Expr) and self.name in channel.symbols()):
                    margin = max([margin, *constant_dims(self.graph, node)])
        return margin + 1

    def _others_in(self, dim: Expr) -> tuple[str, ...]:
        return tuple(sorted(s for s in dim.symbols() if s != self.name and s in self.symbols))

    def _coupling_note(self, free: Propagation, key: Key, dim: Expr, error: NotQuasiAffine) -> str:
        producer = self.graph.producer(key[0])
        where = f"{producer.name!r} ({producer.op})" if producer else f"input {key[0]!r}"
        return f"the size {dim.render()} of {where} {error}: validity need not repeat in {self.name}"

    def _by_expressions(self, free: Propagation, forms: dict[Key, tuple[Expr, QuasiAffine]],
                        notes: list[str]) -> _Outcome:
        period = 1
        start = 1
        seen: set[Expr] = set()
        for dim, form in forms.values():
            period = math.lcm(period, form.period)
            if form.slope and dim not in seen:
                seen.add(dim)
                start = max(start, settles_from(dim, form, self.name, self.margin))
        pairs = [(free.shape(a[0])[a[2]], free.shape(b[0])[b[2]])  # type: ignore[index]
                 for a, b in _join_pairs(self.graph, free)] + _expect_pairs(self.graph, free)
        for a, b in pairs:
            difference = _difference(a, b)
            if isinstance(difference, Expr) and self.name in difference.symbols():
                try:
                    form = quasi_affine(difference, self.name)
                except NotQuasiAffine as error:
                    return self._search([*notes, f"a join compares {a} with {b}, which {error}"],
                                        coupled=self._others_in(difference))
                period = math.lcm(period, form.period)
                start = max(start, settles_from(difference, form, self.name, 1))
        notes.extend(self._scale_notes())
        return self._periodic(start, period, "expressions", notes, proven=not self._scale_notes())

    def _scale_notes(self) -> list[str]:
        """Resize scales that are not small binary fractions: the runtimes' float products need not
        repeat, so the result is not proven (it is still exact for the sizes propagated)."""
        from shapecheck.sizes._periods import MAX_SCALE_DENOMINATOR

        notes = []
        for node in self.graph.nodes.values():
            scales = node.attrs.get("scales") if node.op in ("YamlUpsample", "Upsample") else None
            for scale in scales or ():
                if Fraction(float(scale)).denominator > MAX_SCALE_DENOMINATOR:
                    notes.append(f"{node.name!r} scales by {scale}, which is not a small binary fraction")
        return notes

    def _by_strides(self, free: Propagation, unknown: list[Key], notes: list[str]) -> _Outcome:
        dependent: dict[str, bool] = {}
        keys: list[Key] = []
        for key, dim in _quantities(free):
            if dim is None or (isinstance(dim, Expr) and self.name in dim.symbols()):
                dependent[key[0]] = True
                keys.append(key)
        producers = sorted({self.graph.producer(k[0]).name for k in unknown  # type: ignore[union-attr]
                            if self.graph.producer(k[0]) is not None}, key=self.evaluator.position.get)
        bound = stride_period(self.graph, free, dependent)
        if bound.period is None:
            return self._search([*notes, f"the sizes after {bound.blocker} have no known period"])
        notes.append(f"sizes after {producers[0]!r} are not expressions (e.g. a ceil-mode pool): the period "
                     f"{bound.period} comes from the strides, the settling point from one period of sizes"
                     if producers else f"the period {bound.period} comes from the strides")
        # Keys unknown here may belong to another free symbol: keep those the symbol's value makes concrete.
        probe = 2 * bound.period + 1
        _, sample = self.evaluator.run({**self.fixed, self.name: probe})
        found = dict(_quantities(sample))
        self.keys = [key for key in keys if isinstance(found.get(key), int)]
        index = {key: i for i, key in enumerate(self.keys)}
        pairs = [(index[a], index[b]) for a, b in _join_pairs(self.graph, free) if a in index and b in index]
        period = bound.period
        start = 1
        while start + 2 * period - 1 <= self.budget:
            violation = self._settled_from(start, period, pairs)
            if violation is None:
                return self._periodic(start, period, "strides", notes, proven=True)
            start = violation + 1
        return self._search([*notes, f"the sizes did not settle within {self.budget} propagations"])

    def _settled_from(self, start: int, period: int, pairs: list[tuple[int, int]]) -> int | None:
        """The first size in ``[start, start + period)`` where the model has not yet reached its periodic
        regime — a size that does not move by a fixed step per period, a growing size still below the
        margin, two compared sizes growing apart but not yet apart, a verdict that differs one period
        later — or ``None`` when the regime holds over the whole period."""
        steps: list[Any] | None = None
        for size in range(start, start + period):
            now = self.verdict(size)
            later = self.verdict(size + period)
            if now.ok != later.ok or now.node != later.node:
                return size
            here, there = self.vectors[size], self.vectors[size + period]
            if any(not isinstance(v, int) for v in (*here, *there)):
                return size
            delta = [b - a for a, b in zip(here, there)]
            if steps is None:
                steps = delta
            elif delta != steps:
                return size
            for value, step in zip(here, delta):
                if step and (abs(value) < self.margin or (value > 0) != (step > 0)):
                    return size
            for a, b in pairs:
                step = delta[a] - delta[b]
                gap = here[a] - here[b]
                if step and (gap == 0 or (gap > 0) != (step > 0)):
                    return size
        return None

    def _periodic(self, start: int, period: int, source: str, notes: list[str], *, proven: bool) -> _Outcome:
        if start + period - 1 > self.budget:
            return self._search([*notes, f"the sizes settle only from {self.name}={start} (period {period}), "
                                         f"beyond {self.budget} propagations"])
        below = frozenset(x for x in range(1, start) if self.verdict(x).ok)
        residues = frozenset(x % period for x in range(start, start + period) if self.verdict(x).ok)
        if self.verify:
            for x in range(start, start + period):
                if self.verdict(x + period).ok != self.verdict(x).ok:
                    notes.append(f"internal: {self.name}={x} and {x + period} disagree although they are one "
                                 f"period apart; searched instead")
                    return self._search(notes)
        proven = proven and not self._unchecked(notes)
        valid = ValidSet(self.name, start, period, residues, below, proven, "periodic")
        return _Outcome(valid, self.verdicts, source, notes)

    def _unchecked(self, notes: list[str]) -> bool:
        nodes = sorted({n for v in self.verdicts.values() for n in v.unchecked})
        if nodes:
            notes.append(f"{len(nodes)} node(s) could not be checked (e.g. {nodes[0]!r}): sizes they decide "
                         "are not proven")
        return bool(nodes)

    def _search(self, notes: list[str], coupled: tuple[str, ...] = ()) -> _Outcome:
        low, high = self.search_range
        self.keys = []
        found = frozenset(x for x in range(low, high + 1) if self.verdict(x).ok)
        self._unchecked(notes)
        valid = ValidSet(self.name, high + 1, 1, frozenset(), found, False, "search", low, high)
        return _Outcome(valid, self.verdicts, "search", notes, coupled)


def _failures(outcome: _Outcome) -> tuple[FailureGroup, ...]:
    """Failing sizes grouped by node and reason (see :class:`FailureGroup`), in order of first failure."""
    valid = outcome.valid
    periodic = valid.searched_to is None
    stop = valid.start + valid.period if periodic else (valid.searched_to or 0) + 1
    groups: dict[tuple[str, str], list[int]] = {}
    messages: dict[tuple[str, str], str] = {}
    for size in sorted(outcome.verdicts):
        verdict = outcome.verdicts[size]
        if verdict.ok or verdict.node is None or verdict.kind is None or size >= stop:
            continue
        if not periodic and size < valid.searched_from:
            continue
        key = (verdict.node, verdict.kind)
        groups.setdefault(key, []).append(size)
        messages.setdefault(key, verdict.message)
    out = []
    for (node, kind), sizes in groups.items():
        members = set(sizes)
        residues = sorted({x % valid.period for x in sizes if x >= valid.start}) if periodic else []
        first = None
        if residues:
            # per class, the smallest member from which every member fails here; then the smallest
            # bound that respects all of them, shown as the first member at or above it
            firsts = []
            for residue in residues:
                member = valid.start + (residue - valid.start) % valid.period
                while member - valid.period >= 1 and member - valid.period in members:
                    member -= valid.period
                firsts.append(member)
            bound = max(f - valid.period + 1 for f in firsts)
            first = min(bound + (r - bound) % valid.period for r in residues)
        others = tuple(x for x in sizes if first is None or x % valid.period not in residues or x < first)
        out.append(FailureGroup(node, kind, tuple(residues), first, others, sizes[0], messages[(node, kind)]))
    return tuple(out)


def _failing_classes(outcome: _Outcome) -> tuple[FailingClass, ...]:
    """The invalid residue classes of a periodic result, modulo the smallest period of the failing nodes."""
    valid = outcome.valid
    if valid.searched_to is not None:
        return ()
    verdicts = outcome.verdicts
    start, period = valid.start, valid.period
    labels = [verdicts[start + (r - start) % period] for r in range(period)]
    modulus = _smallest_period([(v.ok, v.node, v.kind) for v in labels])
    out = []
    for residue in range(modulus):
        verdict = labels[residue]
        if verdict.ok or verdict.node is None or verdict.kind is None:
            continue
        first = start + (residue - start) % modulus
        while first - modulus >= 1:
            earlier = verdicts.get(first - modulus)
            if earlier is None or earlier.ok or (earlier.node, earlier.kind) != (verdict.node, verdict.kind):
                break
            first -= modulus
        message = verdicts[first].message if first in verdicts else verdict.message
        out.append(FailingClass(residue, modulus, first, verdict.node, verdict.kind, message, first))
    return tuple(out)


def _slope(dim: Any, name: str) -> Fraction | None:
    """The growth of ``dim`` per unit of ``name`` (0 for a constant), ``None`` when not quasi-affine."""
    if isinstance(dim, int):
        return Fraction(0)
    if not isinstance(dim, Expr):
        return None
    if name not in dim.symbols():
        return Fraction(0)
    try:
        return quasi_affine(dim, name).slope
    except NotQuasiAffine:
        return None


def _closed_forms(graph: ModelGraph, free: Propagation, name: str) -> dict[str, str]:
    """``tensor -> expression`` for the spatial dims (axis 2 on) that depend on ``name`` alone, at the
    outputs of nodes that rescale them (strided convs and pools, transposed convs, resizes, depth-to-space:
    the slope in ``name`` changes), of joins that compare sizes (Concat, Add, …), and of the graph."""
    joins = {node.name for node in graph.joins() if node.op in _ALIGNED}
    outputs = set(graph.outputs)
    forms: dict[str, str] = {}
    for node in graph.topological_order():
        data = graph.data_inputs(node)
        source = free.shape(data[0]) if data else None
        for tensor in node.outputs:
            shape = free.shape(tensor) if tensor else None
            if shape is None or len(shape) < 3:
                continue
            found = []
            for axis in range(2, len(shape)):
                dim = shape[axis]
                if not isinstance(dim, Expr) or dim.symbols() != {name}:
                    continue
                before = source[axis] if source is not None and len(source) == len(shape) else None
                rescaled = _slope(dim, name) != _slope(before, name) or _slope(dim, name) is None
                if node.name in joins or tensor in outputs or rescaled:
                    found.append((axis, str(dim)))
            for axis, text in found:
                forms[tensor if len(found) == 1 else f"{tensor}[{axis}]"] = text
    return forms


# -- several symbols -----------------------------------------------------------------------------------------
def _coupling(graph: ModelGraph, free: Propagation, symbols: Sequence[str]) -> tuple[dict[str, set[str]], bool]:
    """Which symbols are coupled with which (a size of two symbols, a product, a join comparing two
    symbols' sizes), and whether every size was known (else independence is only checked)."""
    coupled: dict[str, set[str]] = {s: set() for s in symbols}
    known = True

    def link(names: Iterable[str]) -> None:
        names = [n for n in names if n in coupled]
        for name in names:
            coupled[name].update(n for n in names if n != name)

    for _, dim in _quantities(free):
        if dim is None:
            known = False
        elif isinstance(dim, Expr) and len(dim.symbols()) >= 2:
            link(dim.symbols())
        elif isinstance(dim, Expr):
            (only,) = dim.symbols()
            try:
                quasi_affine(dim, only)
            except NotQuasiAffine:
                link([only, *symbols])  # a square of a size: nothing repeats; search every symbol
    for a, b in _join_pairs(graph, free):
        first, second = free.shape(a[0])[a[2]], free.shape(b[0])[b[2]]  # type: ignore[index]
        names = (first.symbols() if isinstance(first, Expr) else frozenset()) | (
            second.symbols() if isinstance(second, Expr) else frozenset())
        if len(names) >= 2:
            link(names)
    for node in graph.nodes.values():
        if node.op in _CONTRACTING:  # compares an inner axis of one input with another axis of the other
            names = {name for t in graph.data_inputs(node) for d in (free.shape(t) or ())
                     if isinstance(d, Expr) for name in d.symbols()}
            if len(names) >= 2:
                link(names)
    return coupled, known


#: Ops that compare axes that are not aligned (a matrix product's inner dims).
_CONTRACTING = frozenset({"MatMul", "MatMulInteger", "QLinearMatMul", "Gemm", "Einsum"})


#: Ops whose output spatial axis i is computed from input axis i alone (sizes, not values).
_AXISWISE = frozenset({
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "YamlUpsample", "YamlPad", "YamlCrop",
    "PixelShuffle", "PixelUnshuffle", "DepthToSpace", "SpaceToDepth", "BatchNormalization",
    "InstanceNormalization", "GroupNormalization", "LayerNormalization", "Dropout", "Identity", "LRN",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Softplus", "Softsign", "Mish", "Clip", "Cast", "Neg", "Abs", "Exp", "Log", "Sqrt", "Erf", "Softmax",
})
#: Ops that make every spatial axis independent of the input size.
_SPATIAL_RESET = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "AdaptiveAvgPool",
                            "AdaptiveMaxPool"})
_ALIGNED = frozenset({"Concat", "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean", "Pow", "Where"})


def _axis_dependence(graph: ModelGraph, free: Propagation, symbols: Sequence[str]) -> dict[str, set[str]] | None:
    """Which symbols each symbol's sizes are compared with, from which symbols each axis of each tensor
    depends on — where expressions are missing (ceil-mode pools), the axis mapping of the ops still
    shows that H and W never meet. ``None`` when an op's axis mapping is not known here (shape
    arithmetic, reshapes, Resize from computed sizes): then independence can only be checked."""
    coupled: dict[str, set[str]] = {s: set() for s in symbols}
    deps: dict[str, list[frozenset[str]]] = {}
    for name, spec in graph.inputs.items():
        shape = free.shape(name)
        declared = spec.shape or ()
        if shape is None:
            return None
        axes = [frozenset(d.symbols() & set(symbols)) if isinstance(d, Expr) and isinstance(free_d, Expr)
                else frozenset() for d, free_d in zip(declared, shape)]
        deps[name] = axes + [frozenset()] * (len(shape) - len(axes))
    for node in graph.topological_order():
        data = [t for t in node.inputs if t and not graph.is_constant(t)]
        sources = [deps.get(t) for t in data]
        if not any(src and any(src) for src in sources):
            out = None
        elif any(src is None for src in sources):
            return None
        elif node.op in _AXISWISE or (node.op in ("Resize", "Upsample") and len(data) == 1):
            if len(data) != 1:
                return None
            out = list(sources[0])  # type: ignore[arg-type]
        elif node.op in _SPATIAL_RESET:
            first = sources[0]
            out = [*first[:2], *([frozenset()] * (len(first) - 2))]  # type: ignore[index]
        elif node.op in _ALIGNED:
            rank = max(len(src) for src in sources)  # type: ignore[arg-type]
            axis = node.attrs.get("axis", 1) if node.op == "Concat" else None
            if axis is not None and axis < 0:
                axis += rank
            out = []
            for offset in range(rank, 0, -1):
                sets = [src[len(src) - offset] for src in sources if len(src) >= offset]  # type: ignore[arg-type]
                named = {s for s in sets if s}
                if len(named) > 1 and rank - offset != axis:
                    for group in named:
                        for symbol_name in group:
                            coupled[symbol_name].update(n for other in named for n in other if n != symbol_name)
                out.append(frozenset().union(*sets))
        else:
            return None
        for tensor in node.outputs:
            if not tensor:
                continue
            shape = free.shape(tensor)
            if out is None:
                deps[tensor] = [frozenset()] * (len(shape) if shape is not None else 0)
            else:
                deps[tensor] = out
    for axes in deps.values():
        for names in axes:
            if len(names) > 1:
                for name in names:
                    coupled[name].update(n for n in names if n != name)
    return coupled


def _periods_hint(free: Propagation, symbols: Sequence[str]) -> dict[str, int]:
    """Per symbol, the lcm of the periods read from the expressions that involve only that symbol — the
    step at which valid combinations are first looked for."""
    hint = dict.fromkeys(symbols, 1)
    for _, dim in _quantities(free):
        if isinstance(dim, Expr) and len(dim.symbols()) == 1:
            (only,) = dim.symbols()
            if only in hint:
                with contextlib.suppress(NotQuasiAffine):
                    hint[only] = math.lcm(hint[only], quasi_affine(dim, only).period)
    return hint


#: The smallest size tried first when holding a symbol (a multiple of its period at least this large).
TYPICAL_SIZE = 8
#: Propagations spent looking for a valid combination of several symbols before giving up.
ANCHOR_BUDGET = 1500
#: Propagations spent looking for values of the other symbols that fail nowhere (independent symbols);
#: without them the symbol is analysed with the others left symbolic, which is slower but as exact.
CLEAN_BUDGET = 200


def _find_anchor(evaluator: _Evaluator, bound: Mapping[str, int], symbols: Sequence[str],
                 hint: Mapping[str, int], defaults: Mapping[str, int], search_range: tuple[int, int],
                 budget: int = ANCHOR_BUDGET) -> dict[str, int] | None:
    """A combination of the free symbols at which the model runs: the YAML defaults, then equal sizes at
    multiples of the periods, then every equal size, then a small grid — the first that runs."""
    low, high = search_range
    step = math.lcm(*hint.values()) if hint else 1

    def clip(value: int) -> int:
        return max(low, min(high, value))

    def candidates() -> Iterator[tuple[int, ...]]:
        if all(s in defaults for s in symbols):
            yield tuple(defaults[s] for s in symbols)
        # representative sizes first: a size of 1 broadcasts, and tiny sizes hide the model's joins
        first = -(-TYPICAL_SIZE // step)
        for m in range(first, first + 16):
            yield tuple(clip(m * step) for _ in symbols)
        for x in range(low, min(high, low + 4 * step + 64) + 1):
            yield tuple(x for _ in symbols)
        # bounded by the search range: a hostile model's period can be astronomically large
        axes = [sorted({clip(v) for v in (*range(low, min(high, low + 2 * hint[s] + 16) + 1),
                                          *(m * hint[s] for m in range(1, 17)))})
                for s in symbols]
        yield from _grid(axes)

    tried: set[tuple[int, ...]] = set()
    for combo in candidates():
        if combo in tried:
            continue
        tried.add(combo)
        if len(tried) > budget:
            return None
        verdict, _ = evaluator.run({**bound, **dict(zip(symbols, combo))})
        if verdict.ok:
            return dict(zip(symbols, combo))
    return None


def _grid(axes: Sequence[Sequence[int]]) -> Iterator[tuple[int, ...]]:
    if not axes:
        yield ()
        return
    for value in axes[0]:
        for rest in _grid(axes[1:]):
            yield (value, *rest)


def analyse_sizes(
    graph: ModelGraph,
    *,
    dims: Mapping[str, int] | None = None,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    symbols: Sequence[str] | None = None,
    search_range: tuple[int, int] = DEFAULT_RANGE,
    budget: int = DEFAULT_BUDGET,
    verify: bool = False,
    work: WorkBudget | None = None,
) -> SizeAnalysis:
    """The valid sizes of every free symbol of ``graph`` (those not bound by ``dims``).

    ``symbols`` restricts which free symbols are analysed; ``search_range`` is where sizes are searched
    when no period applies; ``budget`` bounds the propagations per symbol; ``verify`` propagates a second
    period as a self-check of the periodic argument (a disagreement falls back to a search, with a note);
    ``work`` bounds the node evaluations of the whole analysis (:class:`WorkBudgetExceeded` past it).

    A symbol whose sizes provably never meet another's is analysed with the others left symbolic, so its
    set does not depend on a choice of theirs; otherwise the others are held at a combination that runs.
    """
    low, high = search_range
    if not 1 <= low <= high <= MAX_DIM:
        raise SpecError(f"the size range {low}..{high} must lie within 1..{MAX_DIM}", path=graph.path)
    bound = dict(dims or {})
    known = graph.symbols()
    for name in bound:
        if name not in known:
            raise SpecError(f"--dim {name}: the model has no symbolic dim {name!r} (it has: "
                            f"{', '.join(known) or 'none'})", path=graph.path)
    free_symbols = [s for s in known if s not in bound]
    chosen = list(symbols) if symbols is not None else free_symbols
    for name in chosen:
        if name not in free_symbols:
            raise SpecError(f"{name!r} is not a free symbolic dim of the model (free: "
                            f"{', '.join(free_symbols) or 'none'})", path=graph.path)
    evaluator = _Evaluator(graph, input_shapes, work)
    inputs = {name: spec.shape for name, spec in graph.inputs.items()}
    if input_shapes:
        inputs.update(input_shapes)
    if not free_symbols:
        verdict, _ = evaluator.run(bound)
        return SizeAnalysis(graph.path, graph.format, inputs, bound, {}, None, verdict, search_range,
                            propagations=evaluator.count, graph=graph, input_shapes=dict(input_shapes or {}))
    evaluator.charge()
    free = propagate(graph, dims=bound, input_shapes=input_shapes)
    coupled, all_known = _coupling(graph, free, free_symbols)
    structural = all_known
    if not all_known and len(free_symbols) > 1:
        by_axis = _axis_dependence(graph, free, free_symbols)
        if by_axis is not None:
            structural = True
            for name, others in by_axis.items():
                coupled[name] |= others
    notes: list[str] = []
    separate = len(free_symbols) == 1 or structural
    needs_anchor = len(free_symbols) > 1 and any(coupled[s] or not separate for s in chosen)
    anchor: dict[str, int] | None = None
    fallback: dict[str, int] = {}
    hint = _periods_hint(free, free_symbols)
    if not all_known:  # sizes the engine leaves unknown: their period comes from the strides
        dependent = {key[0]: True for key, dim in _quantities(free) if not isinstance(dim, int)}
        strided = stride_period(graph, free, dependent).period
        if strided:
            hint = {s: math.lcm(p, strided) for s, p in hint.items()}
    defaults = {k: v for k, v in graph.dim_defaults.items() if k in free_symbols}
    if needs_anchor:
        anchor = _find_anchor(evaluator, bound, free_symbols, hint, defaults, search_range)
        if anchor is None:
            fallback = {s: defaults.get(s, max(low, min(high, hint[s] * 8))) for s in free_symbols}
            notes.append("no combination of " + ", ".join(free_symbols) + f" in {low}..{high} runs; each symbol "
                         "is analysed with the others at " + ", ".join(f"{k}={v}" for k, v in fallback.items()))
    held = anchor or fallback
    margin = comparison_margin(graph)
    outcomes: dict[str, _Outcome] = {}
    fixed_by: dict[str, dict[str, int]] = {}
    for name in chosen:
        apart = not coupled[name] and separate
        if not apart:
            others = {s: held[s] for s in free_symbols if s != name}
        elif len(free_symbols) > 1:
            # Independent: any values of the others at which nothing fails with this symbol left free
            # give this symbol's own set; concrete values keep each propagation fast.
            rest = [s for s in free_symbols if s != name]
            found = _find_anchor(evaluator, bound, rest, hint, defaults, search_range, budget=CLEAN_BUDGET)
            others = found or {}
        else:
            others = {}
        fixed_by[name] = others
        analysis = _SymbolAnalysis(evaluator, name, {**bound, **others}, margin=margin, search_range=search_range,
                                   budget=budget, verify=verify, symbols=free_symbols)
        if coupled[name]:
            note = (f"{name} is coupled with {', '.join(sorted(coupled[name]))}: its valid sizes depend on "
                    "theirs, so they were searched with them held")
            outcomes[name] = analysis._search([note], coupled=tuple(sorted(coupled[name])))
        else:
            outcomes[name] = analysis.run()
    results: dict[str, SymbolSizes] = {}
    for name, outcome in outcomes.items():
        if len(free_symbols) == 1:
            independence = "single"
        elif outcome.coupled_with or coupled[name]:
            independence = "coupled"
        elif separate:
            independence = "proven"
        else:
            independence = "checked"
            other = _second_values(outcomes, held, name, free_symbols) if anchor else None
            if other is not None and not _same_verdicts(evaluator, outcome, name, {**bound, **other}):
                independence = "coupled"
                outcome.notes.append(f"{name}'s valid sizes differ at " + ", ".join(
                    f"{k}={v}" for k, v in other.items()) + ": coupled")
            elif other is not None:
                outcome.notes.append(f"{name} has the same verdicts at " + ", ".join(
                    f"{k}={v}" for k, v in other.items()) + " (independence checked, not proven: some sizes "
                    "are not known to the engine)")
        results[name] = SymbolSizes(
            symbol=name, valid=outcome.valid, failures=_failures(outcome), fixed=fixed_by[name],
            independence=independence,
            coupled_with=tuple(sorted(set(outcome.coupled_with) | coupled[name])),
            period_source=outcome.period_source, margin=margin, notes=tuple(outcome.notes),
            propagations=len(outcome.verdicts), failing_classes=_failing_classes(outcome),
            closed_forms=_closed_forms(graph, free, name))
    return SizeAnalysis(graph.path, graph.format, inputs, bound, results, anchor, None, search_range,
                        tuple(notes), evaluator.count, graph, dict(input_shapes or {}))


def _second_values(outcomes: Mapping[str, _Outcome], held: Mapping[str, int], name: str,
                   symbols: Sequence[str]) -> dict[str, int] | None:
    """The other symbols moved to their next valid size after the held one (for the independence check)."""
    moved = {}
    for other in symbols:
        if other == name:
            continue
        outcome = outcomes.get(other)
        if outcome is None:
            return None
        start = held[other] + 1
        nxt = next(outcome.valid.sizes(start, start + 4 * outcome.valid.period + outcome.valid.start), None)
        if nxt is None:
            return None
        moved[other] = nxt
    return moved


def _same_verdicts(evaluator: _Evaluator, outcome: _Outcome, name: str, others: Mapping[str, int]) -> bool:
    """Whether the symbol's verdicts over its start and one period are the same with the others moved."""
    valid = outcome.valid
    stop = valid.start + valid.period if valid.searched_to is None else valid.searched_to + 1
    for size in range(valid.searched_from, stop):
        verdict, _ = evaluator.run({**others, name: size})
        if verdict.ok != (size in valid):
            return False
    return True
