"""``shapecheck inspect``: one row per node, as a JSON document or a table.

The JSON document (version 1) is documented in ``docs/json-formats.md``::

    {"version": 1, "path": …, "format": "onnx"|"yaml", "dims": {…},
     "nodes": [{"name": …, "op": …, "attributes": {…},
                "inputs": [{"tensor": …, "shape": […]}], "outputs": [{"tensor": …, "shape": […]}]}],
     "notes": [{"kind": …, "node": …, "message": …}]}

A dim is an int, a symbol name (or the text of a symbolic expression such as ``floor(H/2)``), or null.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from shapecheck.facts import FactKind
from shapecheck.graph import Node
from shapecheck.propagate import Propagation
from shapecheck.report.values import shape_json, shape_text, to_json

JSON_VERSION = 1

#: Fact kinds shown as notes by ``inspect`` (it reports coverage; the findings are ``check``'s job).
_NOTE_KINDS = (FactKind.UNSUPPORTED_OP, FactKind.UNRESOLVED, FactKind.NOT_CHECKED)


def _attributes(node: Node, result: Propagation) -> dict[str, Any]:
    details = result.details.get(node.name)
    if details is not None:
        return to_json(details)
    small = {k: v for k, v in node.attrs.items() if not hasattr(v, "shape") or getattr(v, "size", 0) <= 16}
    return to_json(small)


def inspect_document(result: Propagation) -> dict[str, Any]:
    """The versioned JSON document of ``inspect``."""
    graph = result.graph
    nodes = []
    for node in graph.topological_order():
        nodes.append({
            "name": node.name,
            "op": node.op,
            "attributes": _attributes(node, result),
            "inputs": [{"tensor": t, "shape": shape_json(result.shape(t))} for t in node.inputs if t],
            "outputs": [{"tensor": t, "shape": shape_json(result.shape(t))} for t in node.outputs if t],
        })
    notes = [{"kind": n.kind, "node": n.node, "message": n.message} for n in graph.notes]
    unsupported: dict[str, list[str]] = {}
    for fact in result.facts:
        if fact.kind is FactKind.UNSUPPORTED_OP:
            unsupported.setdefault(fact.data.get("op", "?"), []).append(fact.node)
        elif fact.kind in _NOTE_KINDS:
            notes.append({"kind": fact.kind.value, "node": fact.node, "message": fact.message})
    for op_name, names in unsupported.items():
        notes.append({"kind": FactKind.UNSUPPORTED_OP.value, "node": names[0],
                      "message": f"shapecheck has no shape rule for {op_name} ({len(names)} node(s)); "
                                 "their shapes come from the model's value_info or ONNX shape inference"})
    return {
        "version": JSON_VERSION,
        "path": graph.path,
        "format": graph.format,
        "dims": dict(result.bindings),
        "symbols": [s for s in graph.symbols() if s not in result.bindings],
        "nodes": nodes,
        "notes": notes,
    }


def _axes(values: Sequence[Any]) -> str:
    texts = [str(v) for v in values]
    return texts[0] if len(set(texts)) == 1 else ",".join(texts)


def _pads(pads: Sequence[Any]) -> str:
    if any(p is None for p in pads):
        return "auto"
    if all(b == e for b, e in pads):
        return _axes([b for b, _ in pads])
    return ",".join(f"{b}:{e}" for b, e in pads)


def attribute_summary(details: dict[str, Any]) -> str:
    """``k3 s2 p1 d1 g1 op1`` — the key window attributes of a conv, transposed conv or pool."""
    parts = []
    for key, label in (("kernel", "k"), ("strides", "s")):
        if key in details:
            parts.append(label + _axes(details[key]))
    if "pads" in details:
        parts.append("p" + _pads(details["pads"]))
    if "dilations" in details and max(details["dilations"]) > 1:
        parts.append("d" + _axes(details["dilations"]))
    if details.get("group", 1) != 1:
        parts.append(f"g{details['group']}")
    if any(details.get("output_padding", ())):
        parts.append("op" + _axes(details["output_padding"]))
    if details.get("ceil_mode"):
        parts.append("ceil")
    if details.get("auto_pad", "NOTSET") != "NOTSET":
        parts.append(details["auto_pad"])
    return " ".join(parts)


def _remainder(details: dict[str, Any]) -> str:
    values = details.get("remainder")
    if not values or not any(details.get("strides", (1,))[i] > 1 for i in range(len(values))):
        return ""
    return ",".join("?" if v is None else str(v) for v in values)


def inspect_rows(result: Propagation) -> list[tuple[str, ...]]:
    """Rows of the text table: node, op, attributes, data inputs, output, floor remainder."""
    graph = result.graph
    rows = []
    for node in graph.topological_order():
        details = result.details.get(node.name, {})
        inputs = "  ".join(shape_text(result.shape(t)) for t in graph.data_inputs(node))
        outputs = "  ".join(shape_text(result.shape(t)) for t in node.outputs if t)
        rows.append((node.name, node.op, attribute_summary(details), inputs, outputs, _remainder(details)))
    return rows


HEADERS = ("node", "op", "attributes", "input", "output", "floor rem.")


def write_inspect_text(result: Propagation, out: TextIO = sys.stdout, *, rich: bool | None = None) -> None:
    """A table: rich-styled on a terminal, plain aligned text when piped."""
    rows = inspect_rows(result)
    notes = inspect_document(result)["notes"]
    use_rich = out.isatty() if rich is None else rich
    bound = ", ".join(f"{k}={v}" for k, v in result.bindings.items())
    title = f"{result.graph.path} ({result.graph.format}, {len(rows)} nodes{', ' + bound if bound else ''})"
    if use_rich:
        from rich.console import Console
        from rich.table import Table

        table = Table(*HEADERS, title=title, title_justify="left")
        for row in rows:
            table.add_row(*row)
        console = Console(file=out)
        console.print(table)
        for note in notes:
            console.print(f"[yellow]note[/yellow] {note['node'] or ''}: {note['message']}")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    print(title, file=out)
    for row in (HEADERS, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
    for note in notes:
        print(f"note: {note['node'] or ''}: {note['message']}", file=out)
