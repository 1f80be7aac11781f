"""Where each node of a model drawing goes: a layered layout shaped like the network, in pure Python.

The drawing (:mod:`shapecheck.report.html`) wants a U-Net to *look* like a U, so the two axes mean
something:

- **x is the topological generation** (longest path from an input, over data edges): the encoder sits
  on the left, the decoder on the right, and every edge runs left to right.
- **y is the resolution level**: a downsampler (stride > 1, or an output smaller than its input) steps
  one band down, an upsampler one band up. The encoder descends, the bottleneck sits lowest, the decoder
  climbs back, and a skip connection joins two nodes of the *same* band — drawn as an arc over the nodes
  between them, so the arcs of a U-Net nest like the diagram in the paper.

Two departures from a plain layered layout keep a 200-node export readable on a laptop screen:

- a shape-preserving unary op (Relu, BatchNorm, …) whose producer feeds nothing else is **stacked under
  its producer** in the same column (Netron does the same), instead of costing a column of its own;
- **shape computations** (``Shape → Gather → Concat`` feeding a Pad or a Resize, Constant nodes) go to a
  lane under the bands, each just left of the node it feeds, so they neither push the real layers apart
  nor hide them.

Nothing here knows about ONNX, shapes or findings: the input is node ids with their data inputs and a
few flags, the output is boxes, SVG path data and label positions. That keeps it testable on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Box", "Callout", "Layout", "LayoutNode", "Metrics", "Route", "layout", "leader", "place_callouts",
           "place_callouts_near"]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Sizes in SVG pixels. The defaults fit three lines of 11 px text in a box and a shape label such as
    ``1×16×37×37`` in the gap between two columns."""

    node_width: float = 124.0
    node_height: float = 46.0
    aux_width: float = 104.0
    aux_height: float = 24.0
    column_gap: float = 76.0
    stack_gap: float = 16.0
    unit_gap: float = 20.0
    band_gap: float = 70.0
    margin: float = 24.0
    arc_clearance: float = 22.0

    @property
    def pitch(self) -> float:
        """Distance between the left edges of two neighbouring columns."""
        return self.node_width + self.column_gap


@dataclass(frozen=True, slots=True)
class LayoutNode:
    """One node to place.

    ``inputs`` are the ids of the nodes whose outputs this one reads (in input order; repeats allowed).
    ``level_step`` is +1 for a downsampler, −1 for an upsampler. ``attach`` marks a shape-preserving
    unary op that may stack under its producer; ``aux`` a shape computation for the bottom lane.
    """

    id: str
    inputs: tuple[str, ...] = ()
    level_step: int = 0
    attach: bool = False
    aux: bool = False


@dataclass(frozen=True, slots=True)
class Box:
    """A placed node: top-left corner, size, and the grid cell it occupies."""

    x: float
    y: float
    width: float
    height: float
    column: int
    level: int
    aux: bool = False

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        return self.y + self.height / 2

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True, slots=True)
class Route:
    """One drawn edge: SVG path data and where its label goes.

    ``kind`` is ``next`` (neighbouring columns), ``stack`` (down a stack), ``arc`` (over the nodes between,
    a skip connection or a residual) or ``aux`` (to or from the shape-computation lane).
    """

    source: str
    target: str
    path: str
    label_x: float
    label_y: float
    kind: str


@dataclass
class Layout:
    """The placed drawing: a box per node, a route per edge, the total size and the band of each level."""

    boxes: dict[str, Box]
    routes: list[Route]
    width: float
    height: float
    bands: list[tuple[int, float, float]] = field(default_factory=list)
    aux_top: float | None = None
    #: The first y below everything drawn: callouts go from here down.
    bottom: float = 0.0


@dataclass(frozen=True, slots=True)
class Callout:
    """A placed annotation box (a finding's text beside its node)."""

    anchor: str
    x: float
    y: float
    width: float
    height: float


def _f(value: float) -> str:
    """Coordinates with one decimal at most: SVG text stays short (1,000 nodes ≈ 5,000 numbers)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _cubic_mid(p0: tuple[float, float], c1: tuple[float, float], c2: tuple[float, float],
               p3: tuple[float, float]) -> tuple[float, float]:
    """The point at t = ½ of a cubic Bézier — where an edge's label sits."""
    return ((p0[0] + 3 * c1[0] + 3 * c2[0] + p3[0]) / 8, (p0[1] + 3 * c1[1] + 3 * c2[1] + p3[1]) / 8)


def _cubic(p0: tuple[float, float], c1: tuple[float, float], c2: tuple[float, float],
           p3: tuple[float, float]) -> str:
    return (f"M{_f(p0[0])},{_f(p0[1])} C{_f(c1[0])},{_f(c1[1])} {_f(c2[0])},{_f(c2[1])} "
            f"{_f(p3[0])},{_f(p3[1])}")


class _Grid:
    """Stacks, generations and levels of the data nodes (everything that is not a shape computation)."""

    def __init__(self, nodes: Sequence[LayoutNode]) -> None:
        self.by_id = {node.id: node for node in nodes}
        consumers: dict[str, set[str]] = {}
        for node in nodes:
            for source in node.inputs:
                consumers.setdefault(source, set()).add(node.id)
        self.consumers = consumers
        #: stack root of every data node, and the members of each stack (root first)
        self.root: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}
        self.generation: dict[str, int] = {}
        self.level: dict[str, int] = {}
        for node in nodes:
            if not node.aux:
                self._place(node)

    def _data_inputs(self, node: LayoutNode) -> list[str]:
        return [s for s in dict.fromkeys(node.inputs) if s in self.root]

    def _place(self, node: LayoutNode) -> None:
        sources = self._data_inputs(node)
        if node.attach and len(sources) == 1 and self.consumers.get(sources[0]) == {node.id}:
            parent = sources[0]
            root = self.root[parent]
            if self.members[root][-1] == parent:  # only the bottom of a stack grows
                self.root[node.id] = root
                self.members[root].append(node.id)
                return
        self.root[node.id] = node.id
        self.members[node.id] = [node.id]
        roots = [self.root[s] for s in sources]
        self.generation[node.id] = 1 + max((self.generation[r] for r in roots), default=-1)
        self.level[node.id] = max((self.level[r] for r in roots), default=0) + node.level_step


def layout(nodes: Sequence[LayoutNode], edges: Iterable[tuple[str, str]],
           metrics: Metrics | None = None, *, aux_offset: float = 0.0) -> Layout:
    """Place ``nodes`` (given in topological order) and route ``edges`` (source id, target id).

    Edges whose ends are unknown ids are ignored; an edge is routed once per pair however many tensors
    it carries (the caller puts all their labels on that one route). ``aux_offset`` leaves that much
    room between the bands and the shape-computation lane (for annotations placed under the bands).
    """
    edges = list(edges)
    m = metrics or Metrics()
    grid = _Grid(nodes)
    boxes: dict[str, Box] = {}

    # -- bands: one per level, as tall as its tallest cell ------------------------------------------
    if grid.level:
        lowest = min(grid.level.values())
        for root in grid.level:
            grid.level[root] -= lowest
    cells: dict[tuple[int, int], list[str]] = {}
    for root in grid.members:
        cells.setdefault((grid.generation[root], grid.level[root]), []).append(root)

    def unit_height(root: str) -> float:
        count = len(grid.members[root])
        return count * m.node_height + (count - 1) * m.stack_gap

    levels = sorted({level for _, level in cells})
    band_height = {level: 0.0 for level in levels}
    for (_, level), roots in cells.items():
        total = sum(unit_height(r) for r in roots) + (len(roots) - 1) * m.unit_gap
        band_height[level] = max(band_height[level], total)
    band_top: dict[int, float] = {}
    y = m.margin
    bands = []
    for level in range(levels[-1] + 1 if levels else 0):
        height = band_height.get(level, m.node_height)
        band_top[level] = y
        bands.append((level, y, y + height))
        y += height + m.band_gap

    for (column, level), roots in cells.items():
        top = band_top[level]
        x = m.margin + column * m.pitch
        for root in roots:
            for member in grid.members[root]:
                boxes[member] = Box(x, top, m.node_width, m.node_height, column, level)
                top += m.node_height + m.stack_gap
            top += m.unit_gap - m.stack_gap

    # -- the shape-computation lane: each aux node left of what it feeds --------------------------
    aux_nodes = [n for n in nodes if n.aux]
    aux_top = None
    if aux_nodes:
        y += aux_offset
        aux_top = y
        wanted: dict[str, int] = {}
        for node in reversed(aux_nodes):
            targets = [grid.generation[grid.root[c]] if c in grid.root else wanted.get(c)
                       for c in grid.consumers.get(node.id, ())]
            targets = [t for t in targets if t is not None]
            if targets:
                wanted[node.id] = max(0, min(targets) - 1)
            else:
                sources = [grid.generation[grid.root[s]] for s in node.inputs if s in grid.root]
                wanted[node.id] = max(sources, default=-1) + 1
        stacks: dict[int, int] = {}
        aux_x_offset = (m.node_width - m.aux_width) / 2
        for node in aux_nodes:
            column = wanted[node.id]
            row = stacks.get(column, 0)
            stacks[column] = row + 1
            boxes[node.id] = Box(m.margin + column * m.pitch + aux_x_offset, aux_top + row * (m.aux_height + 10),
                                 m.aux_width, m.aux_height, column, -1, aux=True)
        y = aux_top + max(stacks.values()) * (m.aux_height + 10) - 10 + m.band_gap

    routes = [route for route in _routes(edges, boxes, grid, m) if route is not None]
    columns = max((b.column for b in boxes.values()), default=0) + 1
    width = 2 * m.margin + columns * m.pitch - m.column_gap
    top = min((_route_top(r) for r in routes), default=m.margin)
    shift = max(0.0, m.margin - top + 14)  # room for the highest arc and its label
    if shift:
        boxes = {k: Box(b.x, b.y + shift, b.width, b.height, b.column, b.level, b.aux) for k, b in boxes.items()}
        routes = [r for r in _routes(edges, boxes, grid, m) if r is not None]
        bands = [(level, a + shift, b + shift) for level, a, b in bands]
        aux_top = None if aux_top is None else aux_top + shift
        y += shift
    bottom = y - m.band_gap + m.margin
    return Layout(boxes, routes, width, bottom + m.margin, bands, aux_top, bottom)


def _route_top(route: Route) -> float:
    return route.label_y - 12 if route.kind == "arc" else route.label_y


def _routes(edges: Iterable[tuple[str, str]], boxes: Mapping[str, Box], grid: _Grid,
            m: Metrics) -> list[Route | None]:
    seen: set[tuple[str, str]] = set()
    routes: list[Route | None] = []
    for source, target in edges:
        if (source, target) in seen or source not in boxes or target not in boxes:
            continue
        seen.add((source, target))
        routes.append(_route(source, target, boxes[source], boxes[target], grid, m))
    return routes


def _route(source: str, target: str, a: Box, b: Box, grid: _Grid, m: Metrics) -> Route | None:
    if a.aux or b.aux:
        return _aux_route(source, target, a, b)
    if grid.root.get(target) == grid.root.get(source) and a.column == b.column:
        x = a.cx
        return Route(source, target, f"M{_f(x)},{_f(a.bottom)} L{_f(x)},{_f(b.y)}", x + 5,
                     (a.bottom + b.y) / 2 + 4, "stack")
    span = b.column - a.column
    if span == 1:
        p0, p3 = (a.right, a.cy), (b.x, b.cy)
        dx = (p3[0] - p0[0]) / 2
        c1, c2 = (p0[0] + dx, p0[1]), (p3[0] - dx, p3[1])
        mid = _cubic_mid(p0, c1, c2, p3)
        return Route(source, target, _cubic(p0, c1, c2, p3), mid[0], mid[1] - 5, "next")
    # An arc over the columns between: from the source's right side up and over to the target's top.
    # Its height grows with the span, so that the skips of a U-Net nest instead of crossing.
    lift = m.arc_clearance + 9 * math.log2(max(span, 2))
    top = min(a.y, b.y) - lift
    p0, p3 = (a.right, a.y + 10), (b.x + 16, b.y)
    height = (top - min(p0[1], p3[1])) / 0.75  # a cubic reaches ¾ of its control points' offset
    c1 = (p0[0] + m.column_gap / 2, min(p0[1], p3[1]) + height)
    c2 = (p3[0] - m.column_gap / 3, min(p0[1], p3[1]) + height)
    mid = _cubic_mid(p0, c1, c2, p3)
    return Route(source, target, _cubic(p0, c1, c2, p3), mid[0], mid[1] - 5, "arc")


def _aux_route(source: str, target: str, a: Box, b: Box) -> Route:
    if a.aux and b.aux:
        if a.column == b.column:
            p0, p3 = (a.cx, a.bottom), (b.cx, b.y)
            if p3[1] < p0[1]:
                p0, p3 = (a.cx, a.y), (b.cx, b.bottom)
            return Route(source, target, f"M{_f(p0[0])},{_f(p0[1])} L{_f(p3[0])},{_f(p3[1])}", p0[0] + 4,
                         (p0[1] + p3[1]) / 2, "aux")
        p0, p3 = (a.right, a.cy), (b.x, b.cy)
        if p3[0] < p0[0]:
            p0, p3 = (a.x, a.cy), (b.right, b.cy)
    elif a.aux:  # up into the data node it parameterises, entering from below-left
        p0, p3 = (a.cx, a.y), (b.x + 10, b.bottom)
    else:  # a data tensor read by a shape computation (Shape, Size)
        p0, p3 = (a.x + a.width - 14, a.bottom), (b.cx, b.y)
    dy = (p3[1] - p0[1]) / 2
    dx = (p3[0] - p0[0]) / 2
    if a.aux != b.aux:
        c1, c2 = (p0[0], p0[1] + dy), (p3[0], p3[1] - dy)
    else:
        c1, c2 = (p0[0] + dx, p0[1]), (p3[0] - dx, p3[1])
    mid = _cubic_mid(p0, c1, c2, p3)
    return Route(source, target, _cubic(p0, c1, c2, p3), mid[0] + 4, mid[1], "aux")


def place_callouts(anchors: Sequence[tuple[str, float, float, float]], top: float, *, left: float = 0.0,
                   gap: float = 16.0) -> list[Callout]:
    """Place annotation boxes in rows from ``top`` down, each as close under its anchor as it fits.

    ``anchors`` are ``(anchor id, anchor centre x, width, height)``. A box is centred on its anchor when
    it can be (never left of ``left``) and goes to the first row with room for it: a greedy interval
    packing, so boxes never overlap and nearby findings stay near their nodes. Each row is as tall as
    its tallest box.
    """
    rights: list[float] = []
    heights: list[float] = []
    assigned: list[tuple[str, float, float, float, int]] = []
    for anchor, centre, width, height in sorted(anchors, key=lambda item: item[1]):
        x = max(left, centre - width / 2)
        row = next((i for i, right in enumerate(rights) if x >= right + gap), len(rights))
        if row == len(rights):
            rights.append(x + width)
            heights.append(height)
        else:
            rights[row] = x + width
            heights[row] = max(heights[row], height)
        assigned.append((anchor, x, width, height, row))
    tops = []
    y = top
    for height in heights:
        tops.append(y)
        y += height + gap
    return [Callout(anchor, x, tops[row], width, height) for anchor, x, width, height, row in assigned]


class _Obstacles:
    """Rectangles bucketed by x, so that testing a candidate callout costs a few boxes, not all of them."""

    BUCKET = 256.0

    def __init__(self) -> None:
        self._buckets: dict[int, list[tuple[float, float, float, float]]] = {}

    def add(self, x: float, y: float, width: float, height: float) -> None:
        for bucket in range(int(x // self.BUCKET), int((x + width) // self.BUCKET) + 1):
            self._buckets.setdefault(bucket, []).append((x, y, x + width, y + height))

    def hits(self, x: float, y: float, width: float, height: float) -> bool:
        right, bottom = x + width, y + height
        for bucket in range(int(x // self.BUCKET), int(right // self.BUCKET) + 1):
            for x0, y0, x1, y1 in self._buckets.get(bucket, ()):
                if x < x1 and x0 < right and y < y1 and y0 < bottom:
                    return True
        return False


def place_callouts_near(boxes: Mapping[str, Box], requests: Sequence[tuple[str, str, float, float]], *,
                        bottom: float, left: float = 0.0, top: float = 0.0, pad: float = 8.0,
                        keep_clear: Iterable[tuple[float, float, float, float]] = ()) -> list[Callout]:
    """Put each annotation box beside its node where the drawing is empty, else in rows under ``bottom``.

    ``requests`` are ``(callout id, anchor node id, width, height)``, most important first (it gets the
    closest free spot). Candidates are tried nearest first: under the node (centred, then flush left or
    right, a little lower each time), then to its right and left. A spot is free when it overlaps no
    node box (nor the tag line above one), none of the ``keep_clear`` rectangles ``(x, y, width, height)``
    — edge labels — and no callout placed before. In a U-Net most of the drawing
    is empty — under a decoder join the deeper levels lie to the left — so most callouts sit right by
    their node; the rest fall back to :func:`place_callouts` rows under the drawing.
    """
    obstacles = _Obstacles()
    for box in boxes.values():
        if not box.aux:
            obstacles.add(box.x - pad, box.y - 16 - pad, box.width + 2 * pad, box.height + 16 + 2 * pad)
    for rectangle in keep_clear:
        obstacles.add(*rectangle)
    placed: list[Callout] = []
    fallback: list[tuple[str, float, float, float]] = []
    for key, anchor, width, height in requests:
        box = boxes[anchor]
        candidates: list[tuple[float, float]] = []
        for step in range(6):
            y = box.bottom + 22 + step * 40
            candidates += [(box.cx - width / 2, y), (box.x - 10, y), (box.right + 10 - width, y)]
            if step < 3:
                side_y = box.y - 8 + step * 40
                candidates += [(box.right + 28, side_y), (box.x - 28 - width, side_y)]
        for x, y in candidates:
            if x < left or y < top or obstacles.hits(x - pad, y - pad, width + 2 * pad, height + 2 * pad):
                continue
            placed.append(Callout(key, x, y, width, height))
            obstacles.add(x, y, width, height)
            break
        else:
            fallback.append((key, box.cx, width, height))
    if fallback:
        floor = max([bottom, *(c.y + c.height + 24 for c in placed)])
        placed += place_callouts(fallback, floor, left=left)
    return placed


def leader(box: Box, callout: Callout) -> tuple[float, float, float, float]:
    """The line from a node to its callout: between the nearest points of the two rectangles."""
    px = min(max(box.cx, callout.x + 10), callout.x + callout.width - 10)
    py = min(max(box.cy, callout.y), callout.y + callout.height)
    qx = min(max(px, box.x), box.right)
    qy = min(max(py, box.y), box.bottom)
    return qx, qy, px, py
