"""What other parts of shapecheck take from the size analysis: findings for ``check``, and the valid sets of
a model whose transposed conv had another ``output_padding`` (the baked-size rule).

``check`` on a model whose dims are left symbolic cannot say "fails at H=65"; it can say *which* sizes
run. :func:`size_constraint_findings` says it as findings: an error when no size runs, a warning when
only some residue classes do (naming the joins where the others fail), a note when the model only needs
a minimum size or when symbols are coupled. The rule code is the caller's (the rule is declared in the
registry, where its documentation lives); these functions only build the records.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shapecheck import arith
from shapecheck.findings import Finding, Fix, Related, Severity
from shapecheck.graph import ModelGraph
from shapecheck.sizes._analysis import DEFAULT_RANGE, FailureGroup, SizeAnalysis, SymbolSizes, analyse_sizes
from shapecheck.verify import Patch, apply_patches

__all__ = ["OutputPaddingOption", "output_padding_options", "size_constraint_findings", "valid_sets_with"]

#: The code ``check`` reports these findings under unless it passes another.
DEFAULT_CODE = "SC206"
DEFAULT_NAME = "valid-input-sizes"


def _as_analysis(source: Any, dims: Mapping[str, int] | None, input_shapes: Mapping[str, tuple[int, ...]] | None,
                 search_range: tuple[int, int]) -> SizeAnalysis:
    """Accept what the caller has: an analysis, a graph, a rules ``Analysis`` or a ``Propagation``."""
    if isinstance(source, SizeAnalysis):
        return source
    if isinstance(source, ModelGraph):
        return analyse_sizes(source, dims=dims, input_shapes=input_shapes, search_range=search_range)
    result = getattr(source, "result", source)  # rules.analysis.Analysis -> its Propagation
    graph = getattr(result, "graph", None)
    if not isinstance(graph, ModelGraph):
        raise TypeError(f"size_constraint_findings needs a SizeAnalysis, ModelGraph or Analysis, got {source!r}")
    bound = dict(getattr(result, "bindings", {}) or {}) if dims is None else dict(dims)
    shapes = getattr(result, "input_shapes", None) if input_shapes is None else input_shapes
    return analyse_sizes(graph, dims=bound, input_shapes=shapes or None, search_range=search_range)


def _main_failure(sizes: SymbolSizes) -> FailureGroup | None:
    """The failure that rules out the most residue classes (past the start), else the most sizes."""
    if not sizes.failures:
        return None
    return max(sizes.failures, key=lambda g: (len(g.residues), len(g.sizes), -g.example))


def _failure_text(group: FailureGroup, sizes: SymbolSizes) -> str:
    valid = sizes.valid
    name = sizes.symbol
    if group.residues and valid.searched_to is None:
        what = f"{name} ≡ {', '.join(map(str, group.residues))} (mod {valid.period})"
    else:
        from shapecheck.sizes._analysis import ranges_text

        what = f"{name} = {ranges_text(group.sizes)}"
    return f"{what} fail at {group.node!r} ({group.kind}; e.g. {name}={group.example}: {group.message})"


def size_constraint_findings(
    source: Any,
    *,
    dims: Mapping[str, int] | None = None,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    code: str = DEFAULT_CODE,
    name: str = DEFAULT_NAME,
    search_range: tuple[int, int] = DEFAULT_RANGE,
) -> list[Finding]:
    """Findings about the input sizes a model accepts, for a model checked with symbolic dims.

    ``source`` is a :class:`SizeAnalysis`, a :class:`ModelGraph` (analysed with ``dims`` bound), or the
    rules' ``Analysis`` / a ``Propagation`` (analysed at its bindings). One finding per symbol:

    * **error** — no size runs (proven, or none in ``search_range``);
    * **info** — only some residue classes run (``H ≡ 0 (mod 8), from 8``): located at the node where
      most other sizes fail, the other failing nodes as related nodes, and a fix naming valid sizes;
    * **info** — every size from some minimum runs (smaller ones leave an empty tensor), or the symbol
      is coupled with another and was only searched.

    Nothing for a symbol that runs at every size, or for a model without symbolic dims.
    """
    analysis = _as_analysis(source, dims, input_shapes, search_range)
    graph = analysis.graph
    position = {n.name: i for i, n in enumerate(graph.topological_order())} if graph is not None else {}
    findings: list[Finding] = []
    for symbol, sizes in analysis.symbols.items():
        valid = sizes.valid
        every = valid.every_from()
        if every == 1 and sizes.independence != "coupled":
            continue
        main = _main_failure(sizes)
        proven = "proven for every size" if sizes.proven else (
            f"searched {valid.searched_from}..{valid.searched_to}, not proven" if valid.searched_to is not None
            else "not proven")
        described = valid.describe()
        if valid.empty:
            severity = Severity.ERROR
            message = f"no {symbol} runs ({proven})"
        elif every is None or valid.searched_to is not None:
            severity = Severity.INFO
            message = f"valid only for {described} ({proven})"
        else:
            severity = Severity.INFO
            message = f"the model runs for every {symbol} from {every}; smaller sizes fail ({proven})"
        if sizes.fixed:
            message += " with " + ", ".join(f"{k}={v}" for k, v in sizes.fixed.items())
        if main is not None:
            message += "; " + _failure_text(main, sizes)
        related = []
        for group in sizes.failures:
            if (main is not None and group is main) or graph is None or group.node not in graph.nodes:
                continue
            related.append(Related(group.node, graph.nodes[group.node].op, "fails-at", _failure_text(group, sizes)))
        fixes = []
        examples = valid.smallest(3)
        if examples and not valid.empty:
            fixes.append(Fix(title=f"use an input size with {described}, e.g. {symbol}={examples[-1]}",
                             node=None, attribute=None, value={symbol: examples}, holds_for=described,  # type: ignore[arg-type]
                             safe=True, confirmed=False, kind="input-size"))
        node = main.node if main is not None else None
        model_node = graph.nodes.get(node) if graph is not None and node else None
        location = model_node.location if model_node is not None else None
        data = {
            "symbol": symbol, "valid": described, "proven": sizes.proven, "method": valid.method,
            "period": valid.period, "start": valid.start, "residues": sorted(valid.residues),
            "independence": sizes.independence, "fixed": dict(sizes.fixed),
        }
        findings.append(Finding(
            order=position.get(node, -1) if node else -1, code=code, name=name, severity=severity,
            message=message, node=node, op=model_node.op if model_node else None,
            line=location.line if location else None, column=location.column if location else None,
            related=tuple(related), fixes=tuple(fixes), data=tuple(sorted(data.items())),
        ))
    return sorted(findings)


def valid_sets_with(graph: ModelGraph, patches: Sequence[Patch], **options: Any) -> SizeAnalysis:
    """The size analysis of ``graph`` with ``patches`` applied (attribute changes, e.g. output_padding);
    ``options`` are those of :func:`analyse_sizes`."""
    return analyse_sizes(apply_patches(graph, patches), **options)


@dataclass(frozen=True)
class OutputPaddingOption:
    """One legal ``output_padding`` of a transposed conv and the valid sizes the model would have with it."""

    node: str
    value: tuple[int, ...]
    current: bool
    analysis: SizeAnalysis


def output_padding_options(
    graph: ModelGraph,
    node: str,
    *,
    runtime: str = "onnxruntime",
    **options: Any,
) -> list[OutputPaddingOption]:
    """The valid sets of the model for every legal ``output_padding`` of the ConvTranspose ``node``.

    Legal means ``0 <= value < limit`` per spatial axis (:func:`shapecheck.arith.output_padding_limit`
    for ``runtime``). An export that baked ``output_padding`` for one example size shows here: with the
    baked value the model runs on one residue class (the one holding the example size), with another value
    on another class — none of the options runs more sizes, and the one with all zeros runs the class of
    the "round" sizes. ``options`` are those of :func:`analyse_sizes` (``dims``, ``search_range``, …).
    """
    target = graph.nodes.get(node)
    if target is None or target.op != "ConvTranspose":
        raise ValueError(f"{node!r} is not a ConvTranspose node of the model")
    from shapecheck.propagate import propagate

    details = propagate(graph, dims=options.get("dims"), input_shapes=options.get("input_shapes")).details.get(
        node, {})
    strides = tuple(details.get("strides") or target.attrs.get("strides") or ())
    dilations = tuple(details.get("dilations") or target.attrs.get("dilations") or (1,) * len(strides))
    if not strides:
        raise ValueError(f"the strides of {node!r} are not known")
    current = tuple(int(v) for v in target.attrs.get("output_padding", (0,) * len(strides)))
    limits = [arith.output_padding_limit(s, d, runtime=runtime) for s, d in zip(strides, dilations)]
    out = []
    for value in itertools.product(*(range(limit) for limit in limits)):
        patched = valid_sets_with(graph, [Patch(node, {"output_padding": tuple(value)})], **options)
        out.append(OutputPaddingOption(node, tuple(value), tuple(value) == current, patched))
    return out
