"""``shapecheck sizes``: the valid input sizes of a model, as text or as a JSON document.

The JSON document (version 1)::

    {"version": 1, "path": …, "format": "onnx"|"yaml",
     "inputs": {"input": [1, 1, "H", "W"]}, "bound": {"W": 64}, "search_range": [1, 4096],
     "static": null | {"runs": bool, "node": …, "kind": …, "message": …},   # a model without symbols
     "anchor": {"H": 8, "W": 8} | null,    # the valid combination other symbols were held at
     "runs": true,                          # false: no size (combination) runs
     "proven": true,                        # every symbol's set holds for every size
     "symbols": {"H": {
        "valid": "H ≡ 0 (mod 8), from 8",  # the set in words
        "proven": true, "method": "periodic"|"search",
        "period_source": "expressions"|"strides"|"search",
        "start": 15, "period": 8, "residues": [0],    # x >= start: valid iff x % period in residues
        "below": [[8, 8]],                 # valid sizes below start, as [first, last] runs
        "classes": [{"residue": 0, "from": 8}], "exceptions": [], "every_from": null,
        "density": 0.125, "smallest": [8, 16, 24, 32, 40],
        "searched": null | [low, high],     # a search knows nothing beyond its range
        "fixed": {"W": 8}, "independence": "single"|"proven"|"checked"|"coupled", "coupled_with": [],
        "failures": [{"node": …, "kind": …, "residues": [1], "from": 9, "sizes": [[1, 1]],
                      "example": 9, "message": …}],
        "notes": […], "propagations": 23}},
     "notes": […], "propagations": 64}

A failure's ``residues`` fail at its node for every size from ``from`` on; its ``sizes`` are the other
sizes that fail there. Every failing size appears in exactly one failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from shapecheck.sizes import FailureGroup, SizeAnalysis, SymbolSizes, ranges_text
from shapecheck.symbolic import format_dim

__all__ = ["JSON_VERSION", "sizes_document", "write_sizes_text"]

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


def _symbol_json(sizes: SymbolSizes) -> dict[str, Any]:
    valid = sizes.valid
    searched = [valid.searched_from, valid.searched_to] if valid.searched_to is not None else None
    return {
        "valid": valid.describe(),
        "proven": sizes.proven,
        "method": valid.method,
        "period_source": sizes.period_source,
        "start": valid.start,
        "period": valid.period,
        "residues": sorted(valid.residues),
        "below": _runs(valid.below),
        "classes": [{"residue": r, "from": f} for r, f in valid.classes()],
        "exceptions": valid.exceptions(),
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


def sizes_document(analysis: SizeAnalysis) -> dict[str, Any]:
    """The versioned JSON document of ``shapecheck sizes``."""
    static = None
    if analysis.static is not None:
        verdict = analysis.static
        static = {"runs": verdict.ok, "node": verdict.node, "kind": verdict.kind, "message": verdict.message}
    return {
        "version": JSON_VERSION,
        "path": analysis.path,
        "format": analysis.format,
        "inputs": {name: None if shape is None else [format_dim(d) for d in shape]
                   for name, shape in analysis.inputs.items()},
        "bound": dict(analysis.bound),
        "search_range": list(analysis.search_range),
        "static": static,
        "anchor": None if analysis.anchor is None else dict(analysis.anchor),
        "runs": not analysis.empty,
        "proven": analysis.proven,
        "symbols": {name: _symbol_json(sizes) for name, sizes in analysis.symbols.items()},
        "notes": list(analysis.notes),
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


def write_sizes_text(analysis: SizeAnalysis, out: TextIO) -> None:
    """A plain-text report: per symbol, the valid set, how it was established, examples and failures."""
    inputs = ", ".join(f"{name!r} {_shape_text(shape)}" for name, shape in analysis.inputs.items())
    bound = ", ".join(f"{k}={v}" for k, v in analysis.bound.items())
    print(f"{analysis.path} ({analysis.format}): input {inputs}" + (f", with {bound}" if bound else ""), file=out)
    if analysis.static is not None:
        verdict = analysis.static
        if verdict.ok:
            print("no symbolic dims: the input shape is fixed, and the model runs at it", file=out)
        else:
            print(f"no symbolic dims: the input shape is fixed, and the model fails at it: {verdict.node!r} "
                  f"({verdict.kind}): {verdict.message}", file=out)
        return
    graph = analysis.graph
    symbols = [s for s in graph.symbols() if s not in analysis.bound] if graph is not None else list(analysis.symbols)
    for name, sizes in analysis.symbols.items():
        valid = sizes.valid
        print(f"{name}: {valid.describe()}", file=out)
        print(f"   {_how(sizes, symbols)}", file=out)
        examples = valid.smallest(EXAMPLES)
        if examples:
            print(f"   smallest: {', '.join(map(str, examples))}", file=out)
        if sizes.failures:
            labels = [(_failure_label(g, sizes), g) for g in sizes.failures]
            width = max(len(label) for label, _ in labels)
            print("   fails:", file=out)
            for label, group in labels:
                print(f"     {label.ljust(width)}  at {group.node} ({group.kind}, e.g. {name}={group.example}: "
                      f"{group.message})", file=out)
        for note in sizes.notes:
            print(f"   note: {note}", file=out)
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
