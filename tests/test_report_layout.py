"""The drawing's layout, on its own: columns follow the data, bands the resolution, a U-Net looks like a U,
skips are arcs that nest, nothing overlaps, annotations find room beside their node."""

from __future__ import annotations

import itertools
import re

import pytest

from shapecheck.report.layout import Box, LayoutNode, Metrics, layout, leader, place_callouts, place_callouts_near


def _unet(levels: int = 3, *, relu: bool = True) -> tuple[list[LayoutNode], list[tuple[str, str]]]:
    """A classic U-Net in layout terms: conv (+relu) per level, pool down, up + concat with the skip."""
    nodes: list[LayoutNode] = [LayoutNode("in")]
    edges: list[tuple[str, str]] = []

    def add(node_id: str, inputs: tuple[str, ...], step: int = 0, attach: bool = False) -> str:
        nodes.append(LayoutNode(node_id, inputs, step, attach))
        edges.extend((source, node_id) for source in inputs)
        return node_id

    x = "in"
    skips = []
    for level in range(levels):
        x = add(f"enc{level}", (x,))
        if relu:
            x = add(f"enc{level}_relu", (x,), attach=True)
        skips.append(x)
        x = add(f"pool{level}", (x,), step=1)
    x = add("bottleneck", (x,))
    for level in reversed(range(levels)):
        up = add(f"up{level}", (x,), step=-1)
        x = add(f"cat{level}", (up, skips[level]))
        x = add(f"dec{level}", (x,))
    add("out", (x,))
    return nodes, edges


def _overlap(a: Box, b: Box) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def test_a_unet_is_drawn_as_a_u() -> None:
    nodes, edges = _unet(3)
    placed = layout(nodes, edges)
    boxes = placed.boxes
    # encoder descends one band per pool, the bottleneck is lowest, the decoder climbs back
    assert [boxes[f"enc{i}"].level for i in range(3)] == [0, 1, 2]
    assert boxes["bottleneck"].level == 3
    assert [boxes[f"cat{i}"].level for i in range(3)] == [0, 1, 2]
    assert boxes["out"].level == 0
    # a deeper level is lower on the page, and the decoder is right of the encoder at every level
    assert boxes["enc0"].y < boxes["enc1"].y < boxes["enc2"].y < boxes["bottleneck"].y
    for i in range(3):
        assert boxes[f"cat{i}"].x > boxes[f"enc{i}"].x
        assert boxes[f"cat{i}"].y == boxes[f"enc{i}"].y  # a skip joins two nodes of the same band


def test_every_edge_runs_left_to_right() -> None:
    nodes, edges = _unet(4)
    boxes = layout(nodes, edges).boxes
    for source, target in edges:
        if boxes[source].column == boxes[target].column:  # stacked under its producer
            assert boxes[target].y > boxes[source].y
        else:
            assert boxes[target].column > boxes[source].column


def test_unary_ops_stack_under_their_producer() -> None:
    nodes, edges = _unet(2)
    placed = layout(nodes, edges)
    conv, relu = placed.boxes["enc0"], placed.boxes["enc0_relu"]
    assert (relu.column, relu.x) == (conv.column, conv.x) and relu.y > conv.bottom
    kinds = {(r.source, r.target): r.kind for r in placed.routes}
    assert kinds[("enc0", "enc0_relu")] == "stack"
    # the stack saves a column per activation
    flat = layout(*_unet(2, relu=False))
    assert max(b.column for b in placed.boxes.values()) == max(b.column for b in flat.boxes.values())


def test_an_op_that_feeds_two_consumers_is_not_stacked_away() -> None:
    nodes = [LayoutNode("a"), LayoutNode("b", ("a",), attach=True), LayoutNode("c", ("a",))]
    boxes = layout(nodes, [("a", "b"), ("a", "c")]).boxes
    assert boxes["b"].column == boxes["c"].column == boxes["a"].column + 1


def test_skip_connections_are_arcs_that_nest() -> None:
    nodes, edges = _unet(3)
    placed = layout(nodes, edges)
    routes = {(r.source, r.target): r for r in placed.routes}
    apexes = []
    for level in range(3):
        route = routes[(f"enc{level}_relu", f"cat{level}")]
        assert route.kind == "arc"
        assert route.label_y < placed.boxes[f"cat{level}"].y  # the arc (and its label) passes above
        apexes.append(route.label_y)
    # the outer skip (level 0) spans the most columns and flies highest
    assert apexes[0] < apexes[1] < apexes[2]
    assert all(r.kind in ("next", "stack") for key, r in routes.items() if not key[1].startswith("cat"))


def test_no_boxes_overlap_and_everything_is_inside_the_drawing() -> None:
    nodes, edges = _unet(4)
    nodes.append(LayoutNode("shape", ("enc1",), aux=True))
    nodes.append(LayoutNode("gather", ("shape",), aux=True))
    nodes.append(LayoutNode("resize", ("dec1", "gather")))
    edges += [("enc1", "shape"), ("shape", "gather"), ("dec1", "resize"), ("gather", "resize")]
    placed = layout(nodes, edges)
    boxes = list(placed.boxes.values())
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b)
    for box in boxes:
        assert box.x >= 0 and box.right <= placed.width and box.y >= 0 and box.bottom <= placed.height
    for route in placed.routes:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", route.path)]
        assert min(numbers) >= 0, route


def test_shape_computations_go_to_a_lane_under_the_bands_left_of_what_they_feed() -> None:
    nodes = [LayoutNode("x"), LayoutNode("conv", ("x",)), LayoutNode("shape", ("conv",), aux=True),
             LayoutNode("gather", ("shape",), aux=True), LayoutNode("pad", ("conv", "gather")),
             LayoutNode("const", (), aux=True), LayoutNode("add", ("pad", "const"))]
    edges = [(s, n.id) for n in nodes for s in n.inputs]
    placed = layout(nodes, edges)
    b = placed.boxes
    assert placed.aux_top is not None
    data_bottom = max(box.bottom for box in b.values() if not box.aux)
    assert all(b[k].aux and b[k].y > data_bottom for k in ("shape", "gather", "const"))
    # the shape computation does not push the pad a column to the right: it sits beside the data
    assert b["pad"].column == b["conv"].column + 1
    assert b["gather"].column == b["pad"].column - 1 and b["shape"].column == b["gather"].column - 1
    assert b["const"].column == b["add"].column - 1
    kinds = {(r.source, r.target): r.kind for r in placed.routes}
    assert kinds[("gather", "pad")] == "aux" and kinds[("conv", "shape")] == "aux"


def test_aux_offset_moves_only_the_shape_lane() -> None:
    nodes = [LayoutNode("x"), LayoutNode("c", (), aux=True), LayoutNode("y", ("x", "c"))]
    edges = [("x", "y"), ("c", "y")]
    a, b = layout(nodes, edges), layout(nodes, edges, aux_offset=200)
    assert a.boxes["y"] == b.boxes["y"] and b.boxes["c"].y == a.boxes["c"].y + 200


def test_wide_fan_in_stacks_in_the_band() -> None:
    nodes = [LayoutNode("x")] + [LayoutNode(f"b{i}", ("x",)) for i in range(5)]
    nodes.append(LayoutNode("sum", tuple(f"b{i}" for i in range(5))))
    edges = [(s, n.id) for n in nodes for s in n.inputs]
    placed = layout(nodes, edges)
    column = {placed.boxes[f"b{i}"].column for i in range(5)}
    assert column == {1}
    ys = sorted(placed.boxes[f"b{i}"].y for i in range(5))
    assert all(b - a >= Metrics().node_height for a, b in itertools.pairwise(ys))


def test_empty_and_single_node_models() -> None:
    assert layout([], []).boxes == {}
    single = layout([LayoutNode("only")], [])
    assert single.boxes["only"].column == 0 and single.routes == []


@pytest.mark.parametrize("count", [1, 5, 40])
def test_callout_rows_never_overlap(count: int) -> None:
    anchors = [(f"c{i}", 40.0 * i, 300.0, 60.0 + (i % 3) * 20) for i in range(count)]
    placed = place_callouts(anchors, 500.0, left=10.0)
    assert len(placed) == count
    for a, b in itertools.combinations(placed, 2):
        assert not (a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height)
    assert all(c.y >= 500 and c.x >= 10 for c in placed)


def test_callouts_sit_beside_their_node_in_empty_space() -> None:
    nodes, edges = _unet(3)
    placed = layout(nodes, edges)
    requests = [("c0", "cat0", 340.0, 120.0), ("c1", "cat1", 340.0, 120.0), ("c2", "pool2", 340.0, 80.0)]
    bottom = max(b.bottom for b in placed.boxes.values()) + 40
    callouts = place_callouts_near(placed.boxes, requests, bottom=bottom, left=24, top=0)
    assert {c.anchor for c in callouts} == {"c0", "c1", "c2"}
    for callout in callouts:
        as_box = Box(callout.x, callout.y, callout.width, callout.height, 0, 0)
        assert not any(_overlap(as_box, box) for box in placed.boxes.values())
        anchor = placed.boxes[dict(c0="cat0", c1="cat1", c2="pool2")[callout.anchor]]
        # near: within two bands of its node, not in the rows under the drawing
        assert abs(callout.y - anchor.bottom) < 300
        x0, _, x1, _ = leader(anchor, callout)
        assert anchor.x <= x0 <= anchor.right and callout.x <= x1 <= callout.x + callout.width
    for a, b in itertools.combinations(callouts, 2):
        assert not (a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height)


def test_callouts_fall_back_to_rows_under_the_drawing_when_crowded() -> None:
    nodes = [LayoutNode(f"n{i}", (f"n{i - 1}",) if i else ()) for i in range(4)]
    edges = [(f"n{i - 1}", f"n{i}") for i in range(1, 4)]
    placed = layout(nodes, edges)
    requests = [(f"c{i}", "n1", 300.0, 200.0) for i in range(12)]
    callouts = place_callouts_near(placed.boxes, requests, bottom=400.0, left=0, top=0)
    assert len(callouts) == 12
    assert any(c.y >= 400 for c in callouts)
    for a, b in itertools.combinations(callouts, 2):
        assert not (a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height)
