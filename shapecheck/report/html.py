"""The HTML report: one self-contained file that *shows* the model — for ``inspect`` and ``check``.

A 200-node U-Net that is off by one is easier to look at than to read about, so the report draws the
graph as an SVG (placed by :mod:`shapecheck.report.layout`, no graph library in the browser): columns
by topological generation, bands by resolution level, skip connections as arcs, every edge labelled with
its shape. The nodes of each finding are outlined in their role's colour — the join that fails, the
layer whose floor dropped a row, the upsampler that did not restore it — and the finding's text and its
verified fix stand in a box under the drawing, tied to the node by a leader line. Below: the findings
as a list and every node in a table. Clicking a node shows its attributes.

The file needs nothing but a browser: styles, script and data are inline, no font or library is
fetched (the report is opened from CI artifacts, often offline). The script is small and optional for
reading: without it the drawing, the findings and the table are all there; it adds zoom, pan, the
attribute panel and scrolling to the first failing join.
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from shapecheck import __version__
from shapecheck.findings import Finding
from shapecheck.report._common import error_parts, finding_record, fix_text, plural, summary
from shapecheck.report.formats import renderer
from shapecheck.report.graphview import (
    FAMILY_FILL,
    ROLE_COLOR,
    ROLE_WORDS,
    SEVERITY_COLOR,
    STROKE,
    ModelView,
    ViewNode,
    short_name,
)
from shapecheck.report.layout import Box, Layout, LayoutNode, Metrics, layout, leader, place_callouts_near

if TYPE_CHECKING:
    from shapecheck.check import FileReport

__all__ = ["render_html", "svg_graph", "view_for_report", "write_html"]

#: Findings of these severities get a callout box on the drawing; infos (coverage notes) are outlined
#: and listed, but a box per unsupported op would bury the errors.
_CALLOUT_SEVERITIES = ("error", "warning")
_CALLOUT_WIDTH = 350.0
_CALLOUT_CHARS = 54
_LINE = 14.0
#: Node tables up to this many rows are shown unfolded.
_OPEN_TABLE = 250
#: Approximate advance of one character of 10 px label text, for truncating labels that would overflow.
_CHAR = 5.6


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# -- the drawing ---------------------------------------------------------------------------------------


def _layout_nodes(view: ModelView) -> list[LayoutNode]:
    inputs: dict[str, list[str]] = {}
    for edge in view.edges:
        inputs.setdefault(edge.target, []).append(edge.source)
    return [LayoutNode(n.id, tuple(inputs.get(n.id, ())), n.level_step, n.attach, n.aux) for n in view.nodes]


def _tag(node: ViewNode, view: ModelView) -> str:
    """The words over a highlighted box: its role and the codes of the findings at it."""
    codes = list(dict.fromkeys(view.findings[i].code for i in node.own_findings))
    role = node.role
    words = ROLE_WORDS.get(role or "", "")
    return " · ".join(part for part in (words, " ".join(codes)) if part)


def _callout_lines(finding: Finding) -> list[tuple[str, str]]:
    """``(css class, text)`` lines of a finding's callout: head, wrapped message, the first fix."""
    lines = [("head", f"{finding.code} {finding.severity.value} · {finding.name}")]
    message = textwrap.wrap(finding.message, _CALLOUT_CHARS)
    if len(message) > 7:
        message = [*message[:6], _fit(message[6], _CALLOUT_CHARS - 1) + "…"]
    lines += [("msg", line) for line in message]
    if finding.fixes:
        fix = finding.fixes[0]
        mark = "✓" if fix.confirmed else "•"
        # the fix line is bold, so it gets fewer characters per line
        lines += [("fix", line) for line in textwrap.wrap(f"{mark} fix: {fix.title}", _CALLOUT_CHARS - 6)]
        lines += [("holds", line) for line in textwrap.wrap(f"holds for {fix.holds_for}", _CALLOUT_CHARS)[:2]]
        if len(finding.fixes) > 1:
            lines.append(("more", f"+{len(finding.fixes) - 1} more fix(es) in the list above"))
    return lines


def _edge_labels(view: ModelView) -> dict[tuple[str, str], tuple[str, bool]]:
    labels: dict[tuple[str, str], list[str]] = {}
    aux: dict[tuple[str, str], bool] = {}
    for edge in view.edges:
        key = (edge.source, edge.target)
        labels.setdefault(key, []).append(edge.label)
        aux[key] = aux.get(key, False) or edge.aux
    return {key: (", ".join(dict.fromkeys(texts)), aux[key]) for key, texts in labels.items()}


def _label_room(kind: str, m: Metrics) -> int:
    """How many characters an edge label of this kind may show before it is cut (full text on hover)."""
    # labels are drawn over the boxes, so a "next" label may reach a little into its neighbours
    room = {"next": m.column_gap + 24, "stack": m.node_width / 2 - 4, "arc": 3 * m.pitch, "aux": m.pitch}
    return int(room[kind] / _CHAR)


def _label_rectangles(placed: Layout, labels: dict[tuple[str, str], tuple[str, bool]],
                      m: Metrics) -> list[tuple[float, float, float, float]]:
    """Where the (non-aux) edge labels will be, so that callouts do not cover them."""
    rectangles = []
    for route in placed.routes:
        text, aux = labels.get((route.source, route.target), ("", False))
        if not text or aux:
            continue
        width = min(len(text), _label_room(route.kind, m)) * _CHAR
        x = route.label_x if route.kind in ("stack", "aux") else route.label_x - width / 2
        rectangles.append((x - 2, route.label_y - 11, width + 4, 14.0))
    return rectangles


def svg_graph(view: ModelView, prefix: str, metrics: Metrics | None = None) -> tuple[str, dict[str, object]]:
    """The SVG drawing of one model, and whether it has a lane of shape computations (for the toggle).

    ``prefix`` makes element ids unique when a page holds several models.
    """
    m = metrics or Metrics()
    nodes = _layout_nodes(view)
    edges = [(e.source, e.target) for e in view.edges]
    placed: Layout = layout(nodes, edges, m)
    index = {node.id: i for i, node in enumerate(view.nodes)}
    labels = _edge_labels(view)

    # Callouts beside their nodes where there is room, else in rows under the bands; the lane of shape
    # computations (hidden until the reader asks for it) goes under the callouts.
    requests = []
    callout_findings: dict[str, tuple[int, Finding]] = {}
    order = sorted(range(len(view.findings)), key=lambda i: -view.findings[i].severity.rank)
    for number in order:
        finding = view.findings[number]
        if finding.severity.value not in _CALLOUT_SEVERITIES or finding.node not in placed.boxes:
            continue
        key = f"c{number}"
        callout_findings[key] = (number, finding)
        requests.append((key, finding.node, _CALLOUT_WIDTH, 14 + len(_callout_lines(finding)) * _LINE))
    data_boxes = [b for b in placed.boxes.values() if not b.aux]
    data_bottom = max((b.bottom for b in data_boxes), default=m.margin)
    callouts = place_callouts_near(placed.boxes, requests, bottom=data_bottom + m.band_gap * 0.6, left=m.margin,
                                   top=m.margin, keep_clear=_label_rectangles(placed, labels, m))
    drawn_bottom = max([data_bottom, *(c.y + c.height for c in callouts)]) + m.margin
    has_aux = placed.aux_top is not None
    if has_aux:
        offset = max(0.0, drawn_bottom - (placed.aux_top or 0.0) + 16)
        placed = layout(nodes, edges, m, aux_offset=offset)
    boxes = placed.boxes
    width = max([placed.width, *(c.x + c.width + m.margin for c in callouts)])
    height = drawn_bottom
    aux_height = (placed.bottom + m.margin - drawn_bottom) if has_aux else 0.0
    focus = _focus_node(view)
    focus_attr = f' data-focus="{index[focus]}"' if focus is not None else ""

    out: list[str] = []
    w = out.append
    w(f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" id="{prefix}-svg"{focus_attr} width="{_n(width)}" '
      f'height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" data-width="{_n(width)}" '
      f'data-height="{_n(height)}" data-aux-height="{_n(aux_height)}" role="img" '
      f'aria-label="graph of {_e(view.path)}">')
    w(f'<defs><marker id="{prefix}-arrow" viewBox="0 0 8 8" refX="7.5" refY="4" markerWidth="7" '
      'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L8,4L0,8z" class="arrowhead"/></marker></defs>')
    # bands: a faint background per resolution level, so "one level deeper" is visible at a glance
    w('<g class="bands">')
    for level, top, bottom_y in placed.bands:
        w(f'<rect class="band" x="0" y="{_n(top - 10)}" width="{_n(width)}" height="{_n(bottom_y - top + 20)}"/>')
        w(f'<text class="band-label" x="4" y="{_n(top - 1)}">level {level}</text>')
    if has_aux:
        w(f'<text class="band-label aux" x="4" y="{_n((placed.aux_top or 0) - 12)}">shape computations</text>')
    w("</g>")

    arrow = f' marker-end="url(#{prefix}-arrow)"'
    w('<g class="edges">')
    label_svg: list[str] = []
    for route in placed.routes:
        text, aux = labels.get((route.source, route.target), ("", False))
        classes = f"edge {route.kind}" + (" aux" if aux else "")
        source, target = index[route.source], index[route.target]
        w(f'<path class="{classes}" d="{route.path}" data-s="{source}" data-t="{target}"{arrow}/>')
        if not text:
            continue
        shown = _fit(text, _label_room(route.kind, m))
        anchor = "start" if route.kind in ("stack", "aux") else "middle"
        title = f"<title>{_e(text)}</title>" if shown != text else ""
        label_svg.append(f'<text class="elabel {route.kind}{" aux" if aux else ""}" x="{_n(route.label_x)}" '
                         f'y="{_n(route.label_y)}" text-anchor="{anchor}">{title}{_e(shown)}</text>')
    w("</g>")

    w('<g class="leaders">')
    for callout in callouts:
        _, finding = callout_findings[callout.anchor]
        x0, y0, x1, y1 = leader(boxes[finding.node or ""], callout)
        w(f'<path class="leader sev-{finding.severity.value}" d="M{_n(x0)},{_n(y0)} L{_n(x1)},{_n(y1)}"/>')
    w("</g>")

    w('<g class="nodes">')
    tags: list[str] = []
    for i, node in enumerate(view.nodes):
        box = boxes.get(node.id)
        if box is None:
            continue
        w(_node_svg(node, i, box, prefix))
        if node.role:
            tag = _tag(node, view)
            if tag:
                tags.append(f'<text class="tag" x="{_n(box.x + 2)}" y="{_n(box.y - 5)}" '
                            f'fill="{node.color}">{_e(tag)}</text>')
    w("</g>")
    w('<g class="elabels">' + "".join(label_svg) + "</g>")
    w('<g class="tags">' + "".join(tags) + "</g>")

    w('<g class="callouts">')
    for callout in callouts:
        number, finding = callout_findings[callout.anchor]
        w(_callout_svg(callout.x, callout.y, callout.width, callout.height, number, finding, index))
    w("</g>")
    w("</svg>")

    return "".join(out), {"aux": has_aux}


def _node_svg(node: ViewNode, i: int, box: Box, prefix: str) -> str:
    classes = ["node", f"fam-{node.family}"]
    if node.aux:
        classes.append("aux")
    if node.role:
        classes.append("hl")
        classes.append(f"role-{node.role}")
    if node.severity:
        classes.append(f"sev-{node.severity}")
    findings = " ".join(str(f) for f in dict.fromkeys(f for f, _ in node.roles))
    data = f' data-f="{findings}"' if findings else ""
    title = f"{node.name} ({node.op})" + (f" — {node.location}" if node.location else "")
    parts = [f'<g class="{" ".join(classes)}" id="{prefix}-n{i}" data-i="{i}"{data} '
             f'transform="translate({_n(box.x)},{_n(box.y)})" tabindex="0">',
             f"<title>{_e(title)}</title>",
             f'<rect width="{_n(box.width)}" height="{_n(box.height)}" rx="6"/>']
    if box.aux:
        parts.append(f'<text class="op" x="6" y="16">{_e(_fit(node.label, 8))} '
                     f'<tspan class="name">{_e(short_name(node.name, 10))}</tspan></text>')
    else:
        chars = int((box.width - 12) / 6.4)
        parts.append(f'<text class="op" x="7" y="15">{_e(_fit(node.label, chars))}</text>')
        if node.attrs:
            parts.append(f'<text class="attrs" x="7" y="28">{_e(_fit(node.attrs, chars + 2))}</text>')
        parts.append(f'<text class="name" x="7" y="40">{_e(short_name(node.name, chars + 2))}</text>')
    parts.append("</g>")
    return "".join(parts)


def _callout_svg(x: float, y: float, width: float, height: float, number: int, finding: Finding,
                 index: dict[str, int]) -> str:
    sev = finding.severity.value
    target = index.get(finding.node or "")
    parts = [f'<g class="callout sev-{sev}" data-finding="{number}" data-t="{target}" '
             f'transform="translate({_n(x)},{_n(y)})" tabindex="0">',
             f'<rect width="{_n(width)}" height="{_n(height)}" rx="6"/>']
    ty = 18.0
    for css, line in _callout_lines(finding):
        parts.append(f'<text class="{css}" x="10" y="{_n(ty)}">{_e(line)}</text>')
        ty += _LINE
    parts.append("</g>")
    return "".join(parts)


def _focus_node(view: ModelView) -> str | None:
    """The node the page scrolls to first: the first failing join, else the first of the worst findings —
    the place a reader would look at first."""
    drawn = [f for f in view.findings if f.node is not None and view.get(f.node) is not None]
    for finding in drawn:
        if view.node(finding.node or "").role == "join":
            return finding.node
    worst = sorted(drawn, key=lambda f: -f.severity.rank)
    return worst[0].node if worst else None


# -- the page --------------------------------------------------------------------------------------------


def _css() -> str:
    """The stylesheet; colours come from :mod:`shapecheck.report.graphview`, as in the DOT output."""
    rules = [_CSS, f".node rect{{stroke:{STROKE}}}"]
    for family, fill in FAMILY_FILL.items():
        rules.append(f".fam-{family} rect{{fill:{fill}}}")
    for role, color in ROLE_COLOR.items():
        rules.append(f".role-{role} rect{{stroke:{color}}} .legend .role-{role}{{border-color:{color}}}")
    for severity, color in SEVERITY_COLOR.items():
        rules.append(f".role-finding.sev-{severity} rect,.callout.sev-{severity} rect{{stroke:{color}}} "
                     f".leader.sev-{severity}{{stroke:{color}}} .sev-{severity} .head{{fill:{color}}} "
                     f".badge.sev-{severity}{{background:{color}}} .legend .sev-{severity}{{border-color:{color}}} "
                     f".finding.sev-{severity}{{border-color:{color}}}")
    return "\n".join(rules)


_CSS = """
:root{--fg:#0f172a;--muted:#64748b;--line:#94a3b8;--bg:#fff;--panel:#f8fafc}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
background:var(--bg)}
header{padding:14px 20px 8px;border-bottom:1px solid #e2e8f0}
h1{font-size:19px;margin:0 0 2px}
h2{font-size:16px;margin:0;display:inline}
h3.sub{font-size:14px;margin:14px 0 0}
.meta{color:var(--muted);font-weight:normal;font-size:13px;margin-left:8px}
.summary{margin:2px 0}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:12px;color:var(--muted);margin:6px 0 2px}
.legend span{display:inline-flex;align-items:center;gap:5px}
.legend i{display:inline-block;width:18px;height:12px;border:2.5px solid var(--line);border-radius:3px}
.legend i.fam{border-width:1px}
main{padding:0 20px 40px}
section.model{margin:14px 0 24px}
section.model>summary{cursor:pointer;padding:6px 0}
.findings{margin:8px 0 10px;padding:0;list-style:none}
.finding{border-left:4px solid var(--line);padding:6px 10px;margin:6px 0;background:var(--panel);
border-radius:0 6px 6px 0}
.finding .where{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.finding ul{margin:4px 0 0;padding-left:20px}
.finding li{margin:1px 0}
.badge{color:#fff;border-radius:4px;padding:0 6px;font-weight:600;font-size:12px;background:#64748b}
.related{color:var(--muted)}
.finding button,.toolbar button{font:inherit;font-size:12px;padding:1px 8px;border:1px solid #cbd5e1;
border-radius:5px;background:#fff;cursor:pointer}
.toolbar{display:flex;flex-wrap:wrap;align-items:center;gap:6px;padding:6px 0;font-size:12px;color:var(--muted)}
.viewport{overflow:auto;border:1px solid #e2e8f0;border-radius:8px;max-height:78vh;background:#fff;cursor:grab;
position:relative}
.viewport.panning{cursor:grabbing}
svg.graph{display:block;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.band{fill:#f8fafc}
.band-label{font-size:10px;fill:#94a3b8}
.edge{fill:none;stroke:var(--line);stroke-width:1.3}
.edge.arc{stroke:#7c8da6;stroke-width:1.5}
.edge.aux{stroke-dasharray:4 3;stroke:#cbd5e1}
.edge.on{stroke:#0f172a;stroke-width:2.2}
.arrowhead{fill:#7c8da6}
.elabel{font-size:10px;fill:#475569;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.elabel.arc{fill:#334155}
.node{cursor:pointer}
.node rect{stroke-width:1.2}
.node .op{font-size:11.5px;font-weight:600;fill:#0f172a}
.node .attrs{font-size:10.5px;fill:#334155}
.node .name,.node tspan.name{font-size:9.5px;font-weight:normal;fill:#64748b}
.node.hl rect{stroke-width:3.2}
.node.role-join rect{filter:drop-shadow(0 0 4px rgba(220,38,38,.55))}
.node:hover rect,.node:focus rect{stroke:#0f172a;stroke-width:2.4;outline:none}
.node:focus{outline:none}
.node.selected rect{stroke:#0ea5e9;stroke-width:3.5}
.node.flash rect{animation:flash 1.2s ease-out 2}
@keyframes flash{50%{stroke-width:7}}
.tag{font-size:10.5px;font-weight:700;paint-order:stroke;stroke:#fff;stroke-width:3px}
.leader{fill:none;stroke-width:1.3;stroke-dasharray:5 3}
.callout{cursor:pointer}
.callout rect{fill:#fff;stroke-width:1.8}
.callout text{font-size:11px;fill:#1e293b}
.callout .head{font-weight:700;font-size:11.5px}
.callout .fix{fill:#166534;font-weight:600}
.callout .holds,.callout .more{fill:#64748b}
.model:not(.show-aux) .aux{display:none}
table.nodes{border-collapse:collapse;font-size:12.5px;margin-top:6px;width:100%}
table.nodes th,table.nodes td{border-bottom:1px solid #e2e8f0;padding:3px 8px;text-align:left;vertical-align:top}
table.nodes th{position:sticky;top:0;background:#f1f5f9}
table.nodes td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table.nodes tr{cursor:pointer}
table.nodes tr:hover{background:#f8fafc}
table.nodes tr.hl td:first-child{box-shadow:inset 4px 0 #dc2626}
details.table{margin-top:12px}
details.table>summary{cursor:pointer;font-weight:600}
#panel{position:fixed;right:14px;top:14px;width:min(420px,92vw);max-height:calc(100vh - 28px);overflow:auto;
background:#fff;border:1px solid #cbd5e1;border-radius:10px;box-shadow:0 10px 30px rgba(15,23,42,.18);
padding:12px 14px;font-size:13px;z-index:10}
#panel h3{margin:0 0 4px;font-size:15px;word-break:break-all}
#panel table{border-collapse:collapse;width:100%;font-size:12.5px}
#panel td{border-top:1px solid #e2e8f0;padding:3px 6px;vertical-align:top;word-break:break-word}
#panel td:first-child{color:var(--muted);white-space:nowrap}
#panel .close{float:right}
.error-box{border-left:4px solid #dc2626;background:#fef2f2;padding:8px 12px;border-radius:0 6px 6px 0}
footer{color:var(--muted);font-size:12px;padding:0 20px 20px}
"""

_JS = r"""
(function () {
  "use strict";
  var data = {};
  document.querySelectorAll("script.model-data").forEach(function (el) {
    data[el.dataset.model] = JSON.parse(el.textContent);
  });
  var panel = document.getElementById("panel");
  function esc(s) {
    var map = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"};
    return String(s).replace(/[&<>"]/g, function (c) { return map[c]; });
  }
  function fmt(v) { return typeof v === "string" ? v : JSON.stringify(v); }
  function zoomTo(sec, scale, cx, cy) {
    var svg = sec.querySelector("svg.graph"), vp = sec.querySelector(".viewport");
    if (!svg || !vp) return;
    var old = sec._scale || 1;
    scale = Math.max(0.05, Math.min(3, scale));
    var w = parseFloat(svg.dataset.width), h = parseFloat(svg.dataset.height);
    if (sec.classList.contains("show-aux")) h += parseFloat(svg.dataset.auxHeight);
    if (cx === undefined) { cx = vp.clientWidth / 2; cy = vp.clientHeight / 2; }
    var gx = (vp.scrollLeft + cx) / old, gy = (vp.scrollTop + cy) / old;
    svg.setAttribute("width", w * scale); svg.setAttribute("height", h * scale);
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    sec._scale = scale;
    vp.scrollLeft = gx * scale - cx; vp.scrollTop = gy * scale - cy;
    var label = sec.querySelector(".zoom-level"); if (label) label.textContent = Math.round(scale * 100) + "%";
  }
  function fit(sec) {
    var svg = sec.querySelector("svg.graph"), vp = sec.querySelector(".viewport");
    var s = Math.min(vp.clientWidth / parseFloat(svg.dataset.width), 1);
    zoomTo(sec, s, 0, 0); vp.scrollLeft = 0; vp.scrollTop = 0;
  }
  function centre(sec, i, flash) {
    var node = sec.querySelector('.node[data-i="' + i + '"]');
    if (!node) return;
    if (node.classList.contains("aux") && !sec.classList.contains("show-aux")) setAux(sec, true);
    var vp = sec.querySelector(".viewport"), s = sec._scale || 1;
    var m = node.transform.baseVal.consolidate().matrix, r = node.querySelector("rect");
    var x = (m.e + r.width.baseVal.value / 2) * s, y = (m.f + r.height.baseVal.value / 2) * s;
    vp.scrollLeft = x - vp.clientWidth / 2; vp.scrollTop = y - vp.clientHeight / 2;
    if (flash) { node.classList.remove("flash"); void node.getBBox(); node.classList.add("flash"); }
  }
  function setAux(sec, on) {
    sec.classList.toggle("show-aux", on);
    var box = sec.querySelector("input.aux-toggle"); if (box) box.checked = on;
    zoomTo(sec, sec._scale || 1);
  }
  function select(sec, i) {
    var d = data[sec.dataset.model], n = d.nodes[i];
    sec.querySelectorAll(".node.selected").forEach(function (e) { e.classList.remove("selected"); });
    sec.querySelectorAll(".edge.on").forEach(function (e) { e.classList.remove("on"); });
    var el = sec.querySelector('.node[data-i="' + i + '"]'); if (el) el.classList.add("selected");
    sec.querySelectorAll('.edge[data-s="' + i + '"],.edge[data-t="' + i + '"]').forEach(function (e) {
      e.classList.add("on");
    });
    function row(key, value) { return "<tr><td>" + esc(key) + "</td><td>" + value + "</td></tr>"; }
    var rows = "";
    Object.keys(n.attributes || {}).forEach(function (k) { rows += row(k, esc(fmt(n.attributes[k]))); });
    (n.inputs || []).forEach(function (t) { rows += row("input", esc(t[0]) + "<br><b>" + esc(t[1]) + "</b>"); });
    (n.outputs || []).forEach(function (t) { rows += row("output", esc(t[0]) + "<br><b>" + esc(t[1]) + "</b>"); });
    var fs = "";
    (n.findings || []).forEach(function (f) {
      var r = d.findings[f[0]];
      fs += "<p><span class='badge sev-" + r.severity + "'>" + esc(r.code) + "</span> <i>" + esc(f[1]) +
        "</i> " + esc(r.message) + "</p>";
    });
    panel.innerHTML = "<button class='close' type='button'>close</button><h3>" + esc(n.name) +
      "</h3><div class='meta'>" + esc(n.op) + (n.location ? " · line " + esc(n.location) : "") + "</div>" + fs +
      "<table>" + rows + "</table>";
    panel.hidden = false;
    panel.querySelector(".close").onclick = function () { panel.hidden = true; };
  }
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") panel.hidden = true; });
  document.querySelectorAll("section.model").forEach(function (sec) {
    var vp = sec.querySelector(".viewport"), svg = sec.querySelector("svg.graph");
    if (!vp || !svg) return;
    sec._scale = 1;
    sec.addEventListener("click", function (ev) {
      var node = ev.target.closest(".node");
      if (node) { select(sec, +node.dataset.i); return; }
      var callout = ev.target.closest(".callout,[data-goto]");
      if (callout) {
        var i = +(callout.dataset.t || callout.dataset.goto);
        centre(sec, i, true); select(sec, i); return;
      }
      var b = ev.target.closest("button[data-zoom]");
      if (b) {
        var z = b.dataset.zoom;
        if (z === "fit") fit(sec);
        else if (z === "1") zoomTo(sec, 1);
        else zoomTo(sec, (sec._scale || 1) * (z === "+" ? 1.25 : 0.8));
      }
    });
    sec.addEventListener("keydown", function (ev) {
      var node = ev.target.closest && ev.target.closest(".node");
      if (node && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); select(sec, +node.dataset.i); }
    });
    var toggle = sec.querySelector("input.aux-toggle");
    if (toggle) toggle.addEventListener("change", function () { setAux(sec, toggle.checked); });
    vp.addEventListener("wheel", function (ev) {
      if (!ev.ctrlKey && !ev.metaKey) return;
      ev.preventDefault();
      var r = vp.getBoundingClientRect();
      zoomTo(sec, (sec._scale || 1) * (ev.deltaY < 0 ? 1.15 : 1 / 1.15), ev.clientX - r.left, ev.clientY - r.top);
    }, {passive: false});
    var drag = null;
    vp.addEventListener("mousedown", function (ev) {
      if (ev.button !== 0 || ev.target.closest(".node,.callout")) return;
      drag = {x: ev.clientX, y: ev.clientY, l: vp.scrollLeft, t: vp.scrollTop};
      vp.classList.add("panning"); ev.preventDefault();
    });
    window.addEventListener("mousemove", function (ev) {
      if (!drag) return;
      vp.scrollLeft = drag.l - (ev.clientX - drag.x); vp.scrollTop = drag.t - (ev.clientY - drag.y);
    });
    window.addEventListener("mouseup", function () { drag = null; vp.classList.remove("panning"); });
    // a drawing at most a quarter wider than the window is shown whole; a larger one at full size,
    // scrolled to the first failing join. A folded section (a clean file of a check run) does this
    // when it is first opened, since a hidden viewport has no size.
    function firstView() {
      sec._shown = true;
      if (parseFloat(svg.dataset.width) * 0.8 <= vp.clientWidth) fit(sec);
      var focus = svg.dataset.focus;
      if (focus !== undefined && focus !== "") centre(sec, +focus, false);
    }
    if (vp.clientWidth > 0) firstView();
    var fold = sec.querySelector("details");
    if (fold) fold.addEventListener("toggle", function () { if (fold.open && !sec._shown) firstView(); });
  });
  document.documentElement.dataset.ready = "1";
})();
"""


def _legend() -> str:
    items = [f'<span><i class="role-{role}"></i>{_e(ROLE_WORDS[role])}</span>' for role in ("join", "floor-loss",
                                                                                             "upsampler")]
    items += [f'<span><i class="sev-{sev}"></i>{sev} at node</span>' for sev in ("error", "warning")]
    names = {"conv": "conv / linear", "pool": "pool", "up": "upsampler", "join": "join", "act": "activation / norm",
             "io": "input / output"}
    items += [f'<span><i class="fam" style="background:{FAMILY_FILL[f]}"></i>{_e(label)}</span>'
              for f, label in names.items()]
    return '<div class="legend">' + "".join(items) + "</div>"


def _finding_html(finding: Finding, number: int, view: ModelView, index: dict[str, int], prefix: str) -> str:
    sev = finding.severity.value
    target = index.get(finding.node or "")
    where = _e(finding.node or view.path)
    if finding.line is not None:
        where += f' <span class="meta">line {finding.line}:{finding.column or 1}</span>'
    goto = f' <button type="button" data-goto="{target}">show in graph</button>' if target is not None else ""
    parts = [f'<li class="finding sev-{sev}" id="{prefix}-f{number}"><span class="badge sev-{sev}">'
             f"{_e(finding.code)}</span> <b>{_e(finding.name)}</b> at <span class=\"where\">{where}</span>{goto}"
             f"<div>{_e(finding.message)}</div>"]
    items = [f'<li class="related">{_e(r.role)}: <span class="where">{_e(r.node)}</span> ({_e(r.op)}) — '
             f"{_e(r.message)}</li>" for r in finding.related]
    items += [f'<li>{"✓" if fix.confirmed else "•"} fix: {_e(fix_text(fix))}</li>' for fix in finding.fixes]
    if items:
        parts.append("<ul>" + "".join(items) + "</ul>")
    parts.append("</li>")
    return "".join(parts)


def _node_table(view: ModelView, prefix: str) -> str:
    data_inputs: dict[str, list[str]] = {}
    for edge in view.edges:
        data_inputs.setdefault(edge.target, []).append(edge.label)
    rows = []
    for i, node in enumerate(view.nodes):
        if node.kind != "node":
            continue
        inputs = "  ".join(data_inputs.get(node.id, ()))
        outputs = "  ".join(shape for _, shape in node.outputs)
        codes = " ".join(dict.fromkeys(view.findings[f].code for f, _ in node.roles))
        css = ' class="hl"' if node.own_findings else ""
        rows.append(f'<tr{css} data-goto="{i}"><td>{_e(node.name)}</td><td>{_e(node.op)}</td><td>{_e(node.attrs)}</td>'
                    f'<td class="mono">{_e(inputs)}</td><td class="mono">{_e(outputs)}</td>'
                    f"<td>{_e(node.remainder)}</td><td>{_e(codes)}</td></tr>")
    count = sum(1 for n in view.nodes if n.kind == "node")
    opened = " open" if count <= _OPEN_TABLE else ""  # a 1,000-row table is there to search, not to read
    return (f'<details class="table" id="{prefix}-table"{opened}><summary>Nodes ({count})</summary>'
            '<table class="nodes">'
            "<thead><tr><th>node</th><th>op</th><th>attributes</th><th>input</th><th>output</th>"
            "<th>floor rem.</th><th>findings</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></details>")


def _model_data(view: ModelView) -> str:
    nodes = []
    for node in view.nodes:
        nodes.append({
            "name": node.name,
            "op": node.op,
            "location": node.location,
            "attributes": node.attributes,
            "inputs": [list(pair) for pair in node.inputs],
            "outputs": [list(pair) for pair in node.outputs],
            "findings": [[f, role] for f, role in node.roles],
        })
    document = {"nodes": nodes, "findings": [finding_record(f) for f in view.findings]}
    # "</" would end the <script> element early; JSON allows the escaped form.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")


def _meta(view: ModelView) -> str:
    parts = [view.format or "?"]
    if view.dims:
        parts.append(", ".join(f"{k}={v}" for k, v in view.dims.items()))
    if view.symbols:
        parts.append("symbolic " + ", ".join(view.symbols))
    parts.append(plural(sum(1 for n in view.nodes if n.kind == "node"), "node"))
    counts = {s: sum(1 for f in view.findings if f.severity.value == s) for s in ("error", "warning", "info")}
    parts.append(", ".join(plural(c, s) for s, c in counts.items() if c) or "no findings")
    return " · ".join(parts)


def _model_section(view: ModelView, number: int, *, collapsible: bool) -> tuple[str, str]:
    """The ``<section>`` of one model and its data ``<script>``."""
    prefix = f"m{number}"
    svg, facts = svg_graph(view, prefix)
    index = {node.id: i for i, node in enumerate(view.nodes)}
    findings = "".join(_finding_html(f, n, view, index, prefix) for n, f in enumerate(view.findings))
    toolbar = ('<div class="toolbar"><button type="button" data-zoom="-" title="zoom out">−</button>'
               '<span class="zoom-level">100%</span><button type="button" data-zoom="+" title="zoom in">+</button>'
               '<button type="button" data-zoom="fit">fit width</button><button type="button" data-zoom="1">100%'
               "</button>")
    if facts["aux"]:
        toolbar += '<label><input type="checkbox" class="aux-toggle"> show shape computations</label>'
    toolbar += ("<span>· click a node for its attributes · drag to pan · ctrl+wheel to zoom · columns follow "
                "the data flow, bands the resolution level</span></div>")
    head = f'<h2>{_e(view.path)}</h2><span class="meta">{_e(_meta(view))}</span>'
    # The drawing first: the callouts on it already say what is wrong; the list below has every detail.
    body = f'<div class="graphbox">{toolbar}<div class="viewport">{svg}</div></div>'
    body += (f'<h3 class="sub">Findings</h3><ol class="findings">{findings}</ol>' if findings
             else '<p class="meta">No findings.</p>')
    body += _node_table(view, prefix)
    if view.notes:
        body += "<ul class=\"notes\">" + "".join(
            f"<li class=\"meta\">note: {_e(n.get('node') or '')}: {_e(n.get('message'))}</li>" for n in view.notes
        ) + "</ul>"
    if collapsible:
        opened = " open" if view.findings else ""
        section = (f'<section class="model" id="{prefix}" data-model="{number}"><details{opened}><summary>{head}'
                   f"</summary>{body}</details></section>")
    else:
        section = f'<section class="model" id="{prefix}" data-model="{number}">{head}{body}</section>'
    data = f'<script type="application/json" class="model-data" data-model="{number}">{_model_data(view)}</script>'
    return section, data


def _error_section(path: str, message: str, number: int) -> str:
    return (f'<section class="unreadable" id="m{number}"><h2>{_e(path)}</h2><p class="error-box">could not be '
            f"read: {_e(message)}</p></section>")


def write_html(views: Sequence[ModelView | tuple[str, str]], out: TextIO, *, title: str, summary_line: str) -> None:
    """The page: a header with the run's summary and a legend, then one section per model (or per file
    that could not be read, given as ``(path, message)``)."""
    sections: list[str] = []
    scripts: list[str] = []
    collapsible = len(views) > 1
    for number, view in enumerate(views):
        if isinstance(view, ModelView):
            section, data = _model_section(view, number, collapsible=collapsible)
            sections.append(section)
            scripts.append(data)
        else:
            sections.append(_error_section(view[0], view[1], number))
    out.write("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              '<meta name="viewport" content="width=device-width, initial-scale=1">'
              f"<title>{_e(title)}</title><style>{_css()}</style></head><body>")
    out.write(f"<header><h1>{_e(title)}</h1><p class=\"summary\">{_e(summary_line)}</p>{_legend()}</header><main>")
    for section in sections:
        out.write(section)
    out.write(f'</main><footer>shapecheck {_e(__version__)} · self-contained report: no network needed</footer>'
              '<aside id="panel" hidden></aside>')
    for data in scripts:
        out.write(data)
    out.write(f"<script>{_JS}</script></body></html>\n")


# -- check --format html ---------------------------------------------------------------------------------


def view_for_report(report: FileReport) -> ModelView:
    """Re-read and re-propagate a checked file at the dims it was checked with, to draw it.

    :class:`FileReport` stays small (it crosses process boundaries when files are checked in parallel),
    so the renderer pays one more load and walk per file — far less than the rules cost.
    """
    from shapecheck.load import load_model
    from shapecheck.propagate import propagate
    from shapecheck.report.graphview import build_view

    graph = load_model(report.path)
    known = set(graph.symbols())
    dims = {k: v for k, v in report.dims.items() if k in known}
    shapes = dict(report.input_shapes)
    result = propagate(graph, dims=dims, input_shapes=shapes)
    return build_view(result, report.findings)


@renderer("html")
def render_html(reports: Sequence[FileReport], out: TextIO, *, color: bool = False) -> None:
    """Every checked file as a section of one page; files that could not be read say why."""
    from shapecheck.errors import ShapecheckError

    views: list[ModelView | tuple[str, str]] = []
    for report in reports:
        if report.error is not None:
            views.append((report.path, error_parts(report)[1]))
            continue
        try:
            views.append(view_for_report(report))
        except ShapecheckError as error:  # changed on disk since it was checked
            views.append((report.path, str(error)))
    title = "shapecheck report" if len(reports) != 1 else f"shapecheck: {reports[0].path}"
    write_html(views, out, title=title, summary_line=summary(reports))
