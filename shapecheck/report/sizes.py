"""``shapecheck sizes``: the valid input sizes of a model, as text or as a JSON document.

The JSON document (version 1; ``docs/json-formats.md`` documents every key)::

    {"version": 1, "path": …,
     "symbols": {"H": {
        "modulus": 8, "residues": [0], "min": 8, "exceptions": [],  # H >= min and H % modulus in residues,
        "values": null,                                            #   or H in exceptions (all < min);
        "proven": true,                                            # finite/searched: modulus null, values
        "closed_forms": {"/ups.0/up/ConvTranspose_output_0": "2*floor(H/8)", …},
        "nearest": null | {"to": 300, "below": 296, "above": 304},
        "widen": [{"kind": "pad-input", "widens": true, "text": …, "formula": "H_pad = 8·⌈H/8⌉",
                   "python": "H_pad = -(-H // 8) * 8"}, …],
        "constant_fix": {"classes": 7, "served": 7, "serves_all": false, "needs": […]},
        … the details: "valid", "method", "period_source", "start", "period", "below", "classes",
        "every_from", "density", "smallest", "searched", "fixed", "independence", "coupled_with",
        "failures" (every failing size, grouped by node; residues mod "period"), "notes", "propagations"}},
     "coupled": [["A", "B"]],               # symbols whose valid sizes depend on each other (searched)
     "failures": [{"symbol": "H", "residue": 1, "modulus": 8, "from": 9, "node": …, "kind": …,
                   "example": 9, "message": …}],   # one per invalid residue class
     "format": "onnx"|"yaml", "inputs": {"input": [1, 1, "H", "W"]}, "bound": {"W": 64},
     "search_range": [1, 4096], "static": null | {"runs": bool, "node": …, "kind": …, "message": …},
     "anchor": {"H": 8, "W": 8} | null, "runs": true, "proven": true, "notes": […], "propagations": 64}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from shapecheck.sizes import (
    FailingClass,
    FailureGroup,
    PaddingChange,
    SizeAnalysis,
    Suggestion,
    SymbolSizes,
    ValidSet,
    Verdict,
    Widening,
    need_text,
    ranges_text,
    widen_suggestions,
)
from shapecheck.symbolic import format_dim

__all__ = ["JSON_VERSION", "near_targets", "sizes_document", "write_sizes_text"]

JSON_VERSION = 1

#: How many valid sizes the reports list as examples.
EXAMPLES = 5


def _runs(values: Iterable[int]) -> list[list[int]]:
    """``[1, 2, 3, 7]`` → ``[[1, 3], [7, 7]]``."""
    out: list[list[int]] = []
    for value in sorted(set(values)):
        if out and out[-1][1] == value - 1:
            out[-1][1] = value
        else:
            out.append([value, value])
    return out


def _failure_json(group: FailureGroup) -> dict[str, Any]:
    return {"node": group.node, "kind": group.kind, "residues": list(group.residues), "from": group.first,
            "sizes": _runs(group.sizes), "example": group.example, "message": group.message}


def _nearest_json(valid: ValidSet, target: int | None) -> dict[str, Any] | None:
    if target is None:
        return None
    below, above = valid.nearest(target)
    return {"to": target, "below": below, "above": above}


def _change_json(change: PaddingChange) -> dict[str, Any]:
    return {"node": change.node, "axis": change.axis, "value": change.value, "was": change.was,
            "output_padding": list(change.output_padding)}


def _set_json(valid: ValidSet) -> dict[str, Any]:
    """The issue's keys for a valid set (see :class:`shapecheck.sizes.NormalForm`)."""
    form = valid.normal_form()
    return {"modulus": form.modulus, "residues": list(form.residues), "min": form.minimum,
            "exceptions": list(form.exceptions), "values": None if form.values is None else list(form.values)}


def _suggestion_json(suggestion: Suggestion) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": suggestion.kind, "widens": suggestion.widens, "text": suggestion.text}
    if suggestion.changes:
        out["changes"] = [_change_json(c) for c in suggestion.changes]
    if suggestion.valid is not None:
        out["valid"] = {"text": suggestion.valid.describe(), **_set_json(suggestion.valid),
                        "proven": suggestion.valid.proven}
    if suggestion.nodes:
        out["nodes"] = list(suggestion.nodes)
    if suggestion.formula is not None:
        out["formula"] = suggestion.formula
        out["python"] = suggestion.python
    return out


def _constant_fix_json(widening: Widening | None) -> dict[str, Any] | None:
    if widening is None:
        return None
    return {
        "classes": widening.classes, "served": widening.served, "serves_all": widening.serves_all,
        "needs": [{"node": n.node, "axis": n.axis, "modulus": n.modulus, "by_residue": list(n.by_residue),
                   "values": list(n.values)} for n in widening.needs],
        "notes": list(widening.notes),
    }


def _symbol_json(sizes: SymbolSizes, near: int | None = None, widening: Widening | None = None) -> dict[str, Any]:
    valid = sizes.valid
    searched = [valid.searched_from, valid.searched_to] if valid.searched_to is not None else None
    return {
        **_set_json(valid),
        "proven": sizes.proven,
        "closed_forms": dict(sizes.closed_forms),
        "nearest": _nearest_json(valid, near),
        "widen": [_suggestion_json(s) for s in widening.suggestions] if widening is not None else [],
        "constant_fix": _constant_fix_json(widening),
        "valid": valid.describe(),
        "method": valid.method,
        "period_source": sizes.period_source,
        "start": valid.start,
        "period": valid.period,
        "below": _runs(valid.below),
        "classes": [{"residue": r, "from": f} for r, f in valid.classes()],
        "every_from": valid.every_from(),
        "density": float(valid.density),
        "smallest": valid.smallest(EXAMPLES),
        "searched": searched,
        "fixed": dict(sizes.fixed),
        "independence": sizes.independence,
        "coupled_with": list(sizes.coupled_with),
        "failures": [_failure_json(g) for g in sizes.failures],
        "notes": list(sizes.notes),
        "propagations": sizes.propagations,
    }


def _class_json(symbol: str, failing: FailingClass) -> dict[str, Any]:
    return {"symbol": symbol, "residue": failing.residue, "modulus": failing.modulus, "from": failing.first,
            "node": failing.node, "kind": failing.kind, "example": failing.example, "message": failing.message}


def near_targets(analysis: SizeAnalysis, near: int | Mapping[str, int] | None) -> dict[str, int]:
    """``--near``: one size for every symbol, or a size per symbol name."""
    if near is None:
        return {}
    if isinstance(near, int):
        return dict.fromkeys(analysis.symbols, near)
    return {name: value for name, value in near.items() if name in analysis.symbols}


def sizes_document(
    analysis: SizeAnalysis,
    *,
    near: int | Mapping[str, int] | None = None,
    widen: Mapping[str, Widening] | None = None,
) -> dict[str, Any]:
    """The versioned JSON document of ``shapecheck sizes``.

    ``near``: the size (or a size per symbol) whose nearest valid sizes are reported; ``widen``: the
    suggestions of :func:`shapecheck.sizes.widen_suggestions`, computed here when not given.
    """
    static = None
    if analysis.static is not None:
        verdict = analysis.static
        static = {"runs": verdict.ok, "node": verdict.node, "kind": verdict.kind, "message": verdict.message}
    targets = near_targets(analysis, near)
    if widen is None:
        widen = widen_suggestions(analysis)
    return {
        "version": JSON_VERSION,
        "path": analysis.path,
        "symbols": {name: _symbol_json(sizes, targets.get(name), widen.get(name))
                    for name, sizes in analysis.symbols.items()},
        "coupled": analysis.coupled,
        "failures": [_class_json(name, c) for name, sizes in analysis.symbols.items() for c in sizes.failing_classes],
        "format": analysis.format,
        "inputs": {name: None if shape is None else [format_dim(d) for d in shape]
                   for name, shape in analysis.inputs.items()},
        "bound": dict(analysis.bound),
        "search_range": list(analysis.search_range),
        "static": static,
        "anchor": None if analysis.anchor is None else dict(analysis.anchor),
        "runs": not analysis.empty,
        "proven": analysis.proven,
        "notes": ([_static_text(analysis, analysis.static)] if analysis.static is not None else [])
        + list(analysis.notes),
        "propagations": analysis.propagations,
    }


# -- text -------------------------------------------------------------------------------------------------
def _shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(format_dim(d)) for d in shape) + "]"


def _how(sizes: SymbolSizes, symbols: list[str]) -> str:
    """How the set was established, in one line."""
    valid = sizes.valid
    others = ", ".join(f"{k}={v}" for k, v in sizes.fixed.items())
    names = ", ".join(s for s in symbols if s != sizes.symbol)
    held = {
        "single": "",
        "proven": f"; {others + ' held, and ' if others else ''}no size of {sizes.symbol} depends on {names}",
        "checked": f"; {others} held (independence of {names} checked at a second value, not proven)",
        "coupled": f"; with {others}: {sizes.symbol} is coupled with {', '.join(sizes.coupled_with) or names}",
    }[sizes.independence]
    if valid.searched_to is not None:
        return f"searched {valid.searched_from}..{valid.searched_to}, not proven{held}"
    source = "the size expressions" if sizes.period_source == "expressions" else "the strides"
    lead = "proven for every size" if sizes.proven else "not proven"
    below = f"sizes below {valid.start} propagated one by one, then " if valid.start > 1 else ""
    return f"{lead}: {below}one period of {valid.period} (period from {source}){held}"


def _failure_label(group: FailureGroup, sizes: SymbolSizes) -> str:
    name = sizes.symbol
    parts = []
    if group.residues:
        parts.append(f"{name} ≡ {ranges_text(group.residues)} (mod {sizes.valid.period}) from {group.first}")
    if group.sizes:
        parts.append(f"{name} = {ranges_text(group.sizes)}")
    return "; ".join(parts)


def _nearest_text(valid: ValidSet, target: int) -> str:
    below, above = valid.nearest(target)
    if below == target:
        return f"nearest to {target}: {target} itself (valid)"
    low = f"{below} below" if below is not None else "none below"
    high = f"{above} above" if above is not None else ("none above" if valid.searched_to is None
                                                        else f"none above up to {valid.searched_to}")
    return f"nearest to {target}: {low}, {high}"


def _static_text(analysis: SizeAnalysis, verdict: Verdict) -> str:
    bound = ", ".join(f"{k}={v}" for k, v in analysis.bound.items())
    lead = (f"every symbolic dim is bound ({bound}): the input shape is fixed" if bound
            else "no symbolic dims: the input shape is fixed")
    if verdict.ok:
        return f"{lead}, and the model runs at it"
    return f"{lead}, and the model FAILS at it: {verdict.node!r} ({verdict.kind}): {verdict.message}"


def write_sizes_text(
    analysis: SizeAnalysis,
    out: TextIO,
    *,
    near: int | Mapping[str, int] | None = None,
    widen: Mapping[str, Widening] | None = None,
) -> None:
    """A plain-text report: per symbol, the valid set, how it was established, the smallest and the nearest
    valid sizes, where the other sizes fail, and what would widen the set (``near`` and ``widen`` as in
    :func:`sizes_document`)."""
    inputs = ", ".join(f"{name!r} {_shape_text(shape)}" for name, shape in analysis.inputs.items())
    bound = ", ".join(f"{k}={v}" for k, v in analysis.bound.items())
    print(f"{analysis.path} ({analysis.format}): input {inputs}" + (f", with {bound}" if bound else ""), file=out)
    if analysis.static is not None:
        print(_static_text(analysis, analysis.static), file=out)
        return
    targets = near_targets(analysis, near)
    if widen is None:
        widen = widen_suggestions(analysis)
    graph = analysis.graph
    symbols = [s for s in graph.symbols() if s not in analysis.bound] if graph is not None else list(analysis.symbols)
    for name, sizes in analysis.symbols.items():
        valid = sizes.valid
        print(f"{name}: {valid.describe()}", file=out)
        print(f"   {_how(sizes, symbols)}", file=out)
        examples = valid.smallest(EXAMPLES)
        if examples:
            print(f"   smallest: {', '.join(map(str, examples))}", file=out)
        if name in targets:
            print(f"   {_nearest_text(valid, targets[name])}", file=out)
        if sizes.failures:
            labels = [(_failure_label(g, sizes), g) for g in sizes.failures]
            width = max(len(label) for label, _ in labels)
            print("   fails:", file=out)
            for label, group in labels:
                print(f"     {label.ljust(width)}  at {group.node} ({group.kind}, e.g. {name}={group.example}: "
                      f"{group.message})", file=out)
        for note in sizes.notes:
            print(f"   note: {note}", file=out)
        widening = widen.get(name)
        if widening is not None and (widening.suggestions or widening.notes):
            print("   to widen the set:", file=out)
            for note in widening.notes:
                print(f"     {note}", file=out)
            varying = [n for n in widening.needs if len(n.values) > 1]
            if varying and not widening.serves_all:
                width = max(len(n.node) for n in varying)
                for need in varying:
                    print(f"       {(need.node + ':').ljust(width + 1)} {need_text(name, need)}", file=out)
            for suggestion in widening.suggestions:
                print(f"     - {suggestion.text}", file=out)
    for note in analysis.notes:
        print(f"note: {note}", file=out)
    if any(g.kind == "non-positive" for s in analysis.symbols.values() for g in s.failures):
        print("note: a non-positive failure leaves an empty or negative size, which PyTorch rejects; onnxruntime "
              "runs some zero-sized tensors (shared/runtime-facts.md)", file=out)
    if analysis.empty:
        print("No input size runs." + ("" if analysis.proven else " (not proven: see the notes)"), file=out)
    else:
        joined = " and ".join(s.valid.describe() for s in analysis.symbols.values())
        print(f"Runs at {joined}" + (" (proven)." if analysis.proven else " (not proven for every size)."),
              file=out)
