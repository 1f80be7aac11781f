"""``inspect --format dot``: the model as Graphviz DOT, for people who render with their own tools.

Same labels as the HTML drawing (op and window attributes, the end of the node name; edges labelled
with shapes) and the same colours (:mod:`shapecheck.report.graphview`): the join that fails in red, the
layer whose floor dropped a row in orange, the upsampler in violet, each finding as a note tied to its
node with its top verified fix. Graphviz does the layout (``dot -Tsvg model.dot``); shapecheck's own
layout is only in the HTML report.
"""

from __future__ import annotations

import textwrap
from typing import TextIO

from shapecheck.report.graphview import (
    FAMILY_FILL,
    ROLE_WORDS,
    SEVERITY_COLOR,
    STROKE,
    ModelView,
    short_name,
)

__all__ = ["dot_string", "write_dot"]


def dot_string(text: str) -> str:
    """A double-quoted DOT string; ``\\`` and ``"`` escaped, newlines as DOT's centred ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _left(lines: list[str]) -> str:
    """A left-justified multi-line DOT label (each line ended by ``\\l``)."""
    body = "".join(line.replace("\\", "\\\\").replace('"', '\\"') + "\\l" for line in lines)
    return f'"{body}"'


def write_dot(view: ModelView, out: TextIO) -> None:
    """One ``digraph``: a node per model node (plus inputs and outputs), an edge per tensor, a note per
    error or warning."""
    index = {node.id: i for i, node in enumerate(view.nodes)}
    title = view.path + (" (" + ", ".join(f"{k}={v}" for k, v in view.dims.items()) + ")" if view.dims else "")
    out.write(f"digraph {dot_string(view.path)} {{\n")
    out.write(f'  graph [rankdir=LR, fontname="Helvetica", fontsize=11, labelloc=t, label={dot_string(title)}];\n')
    out.write(f'  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, color="{STROKE}", '
              'fillcolor="#ffffff"];\n')
    out.write('  edge [fontname="Helvetica", fontsize=9, color="#94a3b8", fontcolor="#475569"];\n')
    for i, node in enumerate(view.nodes):
        lines = [node.label] + ([node.attrs] if node.attrs else []) + [short_name(node.name, 28)]
        attrs = [f"label={dot_string(chr(10).join(lines))}", f'fillcolor="{FAMILY_FILL[node.family]}"',
                 f"tooltip={dot_string(f'{node.name} ({node.op})')}"]
        if node.role:
            attrs += [f'color="{node.color}"', "penwidth=3"]
            codes = " ".join(dict.fromkeys(view.findings[f].code for f in node.own_findings))
            tag = " · ".join(p for p in (ROLE_WORDS.get(node.role, ""), codes) if p)
            if tag:
                attrs += [f"xlabel={dot_string(tag)}", f'fontcolor="{node.color}"']
        if node.aux:
            attrs.append('style="rounded,filled,dashed"')
        out.write(f"  n{i} [{', '.join(attrs)}];\n")
    for edge in view.edges:
        extra = ", style=dashed" if edge.aux else ""
        out.write(f"  n{index[edge.source]} -> n{index[edge.target]} [label={dot_string(edge.label)}{extra}];\n")
    for number, finding in enumerate(view.findings):
        if finding.node not in index or finding.severity.value == "info":
            continue
        color = SEVERITY_COLOR[finding.severity.value]
        lines = [f"{finding.code} {finding.severity.value} · {finding.name}", *textwrap.wrap(finding.message, 60)]
        if finding.fixes:
            fix = finding.fixes[0]
            lines += textwrap.wrap(f"{'✓' if fix.confirmed else '•'} fix: {fix.title}", 60)
            lines += textwrap.wrap(f"holds for {fix.holds_for}", 60)
        out.write(f'  f{number} [shape=note, style=filled, fillcolor="#ffffff", color="{color}", '
                  f'fontcolor="#1e293b", label={_left(lines)}];\n')
        out.write(f'  f{number} -> n{index[finding.node or ""]} [style=dashed, color="{color}", arrowhead=none, '
                  "constraint=false];\n")
    out.write("}\n")
