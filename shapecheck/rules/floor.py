"""Floor loss: strided layers that never read the last rows of their input."""

from __future__ import annotations

from collections.abc import Iterable

from shapecheck.facts import FactKind
from shapecheck.findings import Finding, Severity
from shapecheck.rules import rule
from shapecheck.rules.analysis import DOWNSAMPLERS, UPSAMPLERS, Analysis, dropped_text
from shapecheck.symbolic import format_dim


def _bites(analysis: Analysis, later: set[str]) -> bool:
    """The lost rows matter when an upsampler downstream fails to restore them: a join after it fails,
    or the model's output no longer lines up with its input."""
    if not any(analysis.graph.nodes[n].op in UPSAMPLERS for n in later):
        return False
    if any(f.node in later for f in analysis.facts(FactKind.JOIN_MISMATCH)):
        return True
    graph, result = analysis.graph, analysis.result
    if len(graph.inputs) == 1 and len(graph.outputs) == 1:
        producer = graph.producer(graph.outputs[0])
        source, target = result.shape(next(iter(graph.inputs))), result.shape(graph.outputs[0])
        if producer is not None and producer.name in later and source and target and len(source) == len(target):
            return any(a != b for a, b in zip(source[2:], target[2:]))
    return False


@rule("SC301", "floor-drops-input", severity=Severity.WARNING,
      summary="A strided conv or pool never reads the last input rows: its floor drops them.")
def floor_drops_input(analysis: Analysis) -> Iterable[Finding]:
    """Finds strided convolutions and pools whose floor leaves trailing input positions unread at the
    checked size. A warning when an upsampler after it does not restore them (a join downstream fails,
    or the output no longer lines up with the input); info otherwise.

    ## What it does
    Computes the floor remainder `(n + p_b + p_e − d(k−1) − 1) mod s` per axis and reports the
    positions beyond the end padding that no window reaches.

    ## Why is this bad?
    The dropped rows are silently ignored, and an encoder/decoder cannot restore them: the decoder
    output is one row short, which breaks the skip connection or the reconstruction.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 65, 65]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2}
      - {name: up, op: upsample, scale_factor: 2}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 64, 64]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2}
      - {name: up, op: upsample, scale_factor: 2}
    ```
    """
    for node in analysis.graph.topological_order():
        if node.op not in DOWNSAMPLERS:
            continue
        details = analysis.details(node.name)
        remainders = details.get("remainder") or ()
        pads = details.get("pads") or ()
        lost = []
        for axis, remainder in enumerate(remainders):
            if not isinstance(remainder, int) or remainder == 0 or details["strides"][axis] == 1:
                continue
            end_pad = pads[axis][1] if axis < len(pads) and pads[axis] is not None else 0
            if remainder > end_pad:
                lost.append((axis, remainder - end_pad))
        if not lost:
            continue
        shape_in = analysis.result.shape(node.inputs[0]) or ()
        shape_out = analysis.result.shape(node.outputs[0]) or ()
        kept = [a + 2 for a, _ in lost if a + 2 < len(shape_in)]
        sizes = (" x ".join(str(format_dim(shape_in[a])) for a in kept) + " floors to "
                 + " x ".join(str(format_dim(shape_out[a])) for a in kept)).replace(" x ", "×")
        parts = [f"{dropped_text(dict(lost), len(remainders))} of its input ({sizes})"]
        later = analysis.descendants(node.name)
        bites = _bites(analysis, later)
        yield analysis.finding("SC301", node.name, f"{node.op} never reads " + "".join(parts),
                               severity=Severity.WARNING if bites else Severity.INFO,
                               data={"axes": [a + 2 for a, _ in lost]})
