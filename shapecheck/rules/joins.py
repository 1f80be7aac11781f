"""Joins and sizes: tensors that meet with different sizes, channels that don't fit, empty outputs."""

from __future__ import annotations

from collections.abc import Iterable

from shapecheck.facts import Fact, FactKind
from shapecheck.findings import Finding, Related, Severity
from shapecheck.rules import rule
from shapecheck.rules.analysis import Analysis, dropped_text
from shapecheck.symbolic import format_dim


def _sizes(analysis: Analysis, tensor: str, axes: list[int]) -> str:
    """``65×65``: a tensor's sizes on the given axes."""
    shape = analysis.result.shape(tensor) or ()
    return "×".join(str(format_dim(shape[a])) if a < len(shape) else "?" for a in axes)


def _label(analysis: Analysis, tensor: str) -> str:
    """A join input named by the node that produces it (model inputs by their name)."""
    producer = analysis.graph.producer(tensor)
    return f"{producer.name!r} ({producer.op})" if producer else f"input {tensor!r}"


def _root_cause(analysis: Analysis, tensors: list[str], axes: list[int]) -> tuple[list[Related], list[str]]:
    """Related nodes (the floor loss, the upsampler) on the branches into a join, one per node, and the
    sentences of the root-cause summary."""
    _, branches = analysis.branches(tensors)
    losses: dict[str, list[int]] = {}
    ups: dict[str, list[int]] = {}
    for branch in branches:
        for axis in axes:
            # The first floor loss after the common ancestor is the one this join mirrors; deeper
            # ones belong to deeper joins.
            for node, _ in analysis.floor_losses(branch, axis - 2)[:1]:
                losses.setdefault(node.name, []).append(axis)
            for node in analysis.upsamplers(branch)[-1:]:
                ups.setdefault(node.name, []).append(axis)
    related, summary = [], []
    for name, node_axes in losses.items():
        node = analysis.graph.nodes[name]
        before, after = _sizes(analysis, node.inputs[0], node_axes), _sizes(analysis, node.outputs[0], node_axes)
        remainders = analysis.details(name).get("remainder", ())
        dropped = dropped_text({a - 2: format_dim(remainders[a - 2]) for a in node_axes if a - 2 < len(remainders)},
                               len(remainders))
        related.append(analysis.related(name, "floor-loss", f"its floor maps {before} to {after}: {dropped} of "
                                        "its padded input are never read"))
        summary.append(f"{name!r} ({node.op}) floors {before} to {after}")
    for name, node_axes in ups.items():
        node = analysis.graph.nodes[name]
        before, after = _sizes(analysis, node.inputs[0], node_axes), _sizes(analysis, node.outputs[0], node_axes)
        related.append(analysis.related(name, "upsampler", f"it maps {before} to {after}, not the size of the "
                                        "tensor it is joined with"))
        summary.append(f"{name!r} ({node.op}) maps {before} to {after}")
    return related, summary


def _by_node(facts: Iterable[Fact]) -> dict[str, list[Fact]]:
    grouped: dict[str, list[Fact]] = {}
    for fact in facts:
        grouped.setdefault(fact.node, []).append(fact)
    return grouped


@rule("SC201", "join-size-mismatch", severity=Severity.ERROR,
      summary="Tensors joined by Concat, Add, Mul, ... differ in size on an axis they must share.")
def join_size_mismatch(analysis: Analysis) -> Iterable[Finding]:
    """Finds joins (Concat on any axis but its own, broadcasting Add/Sub/Mul/Div/Sum/Max/Min/Where) whose
    inputs differ in size, and traces both branches back to their common ancestor to name the cause.

    ## What it does
    Reports a Concat, Add or other join whose inputs have different sizes on an axis where they must
    agree, with the **root cause**: the strided conv or pool on one branch whose floor dropped positions
    and the upsampler on the other that did not restore them. Fixes (an `output_padding`, an
    `output_shape`, an encoder change, or the nearest valid input sizes) are listed only after they
    were verified by re-propagation and by executing the branch with the NumPy kernel.

    ## Why is this bad?
    The runtime fails at this node ("Sizes of tensors must match … Got 37 and 38"), but only for the
    input sizes that hit the floor, so the model passes the tests at 64×64 and breaks in production.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 65, 65]}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 8, kernel_size: 3, padding: 1}
      - {name: pool, op: maxpool, kernel_size: 2, stride: 2}
      - {name: mid, op: conv, out_channels: 8, kernel_size: 3, padding: 1}
      - {name: up, op: upsample, scale_factor: 2}
      - {name: cat, op: concat, inputs: [up, enc], axis: 1}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 64, 64]}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 8, kernel_size: 3, padding: 1}
      - {name: pool, op: maxpool, kernel_size: 2, stride: 2}
      - {name: mid, op: conv, out_channels: 8, kernel_size: 3, padding: 1}
      - {name: up, op: upsample, scale_factor: 2}
      - {name: cat, op: concat, inputs: [up, enc], axis: 1}
    ```
    """
    for join, facts in _by_node(analysis.facts(FactKind.JOIN_MISMATCH)).items():
        from shapecheck.fix import repair_join  # only models with a failing join pay for the fixer

        op = analysis.graph.nodes[join].op
        tensors = list(dict.fromkeys(t for f in facts for t in f.data.get("tensors", ())))
        axes = sorted({f.data["axis"] for f in facts})
        inputs = ", ".join(f"{_label(analysis, t)} is {_sizes(analysis, t, axes)}" for t in tensors)
        where = f"axis {axes[0]}" if len(axes) == 1 else "axes " + ", ".join(map(str, axes))
        message = f"{op} joins tensors of different sizes on {where}: {inputs}"
        related, causes = _root_cause(analysis, tensors, axes)
        if causes:
            message += ". Root cause: " + "; ".join(causes)
        repair = repair_join(analysis, join, tensors)
        yield analysis.finding("SC201", join, message, related=related, fixes=repair.fixes,
                               data={"axes": axes})


@rule("SC202", "channel-mismatch", severity=Severity.ERROR,
      summary="A weight, group count or normalisation layer does not fit the channels it receives.")
def channel_mismatch(analysis: Analysis) -> Iterable[Finding]:
    """Finds channel counts that cannot work: a Conv weight for another input width, groups that don't
    divide the channels, a BatchNorm of the wrong width.

    ## What it does
    Reports the node and both channel counts.

    ## Why is this bad?
    The runtime rejects the model at load or at the first call; the message rarely names the layer
    that was edited last.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 32, 32]}
    layers:
      - {name: conv, op: conv, input: x, in_channels: 4, out_channels: 8, kernel_size: 3, padding: 1}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 32, 32]}
    layers:
      - {name: conv, op: conv, input: x, in_channels: 3, out_channels: 8, kernel_size: 3, padding: 1}
    ```
    """
    for fact in analysis.facts(FactKind.CHANNEL_MISMATCH):
        yield analysis.finding("SC202", fact.node, fact.message)


@rule("SC203", "non-positive-size", severity=Severity.ERROR,
      summary="A kernel is wider than its padded input, so the output would be empty.")
def non_positive_size(analysis: Analysis) -> Iterable[Finding]:
    """Finds convolutions and pools whose window does not fit the padded input at the checked size.

    ## What it does
    Reports the node, the axis, the input size and the (non-positive) output size.

    ## Why is this bad?
    PyTorch raises "Output size is too small"; onnxruntime may silently produce an empty tensor and a
    meaningless result.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 4, 4]}
    layers:
      - {name: conv, op: conv, input: x, out_channels: 1, kernel_size: 7}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 4, 4]}
    layers:
      - {name: conv, op: conv, input: x, out_channels: 1, kernel_size: 7, padding: 3}
    ```
    """
    for node, facts in _by_node(analysis.facts(FactKind.NON_POSITIVE)).items():
        yield analysis.finding("SC203", node, "; ".join(f.message for f in facts),
                               data={"axes": [f.data.get("axis") for f in facts]})


@rule("SC207", "rank-mismatch", severity=Severity.ERROR, runnable_example=False,
      summary="An input, weight or attribute has the wrong number of axes for the op.")
def rank_mismatch(analysis: Analysis) -> Iterable[Finding]:
    """Finds tensors and attributes whose number of axes the op cannot take: a 4-D weight on a 1-D Conv,
    a pool on a rank-2 tensor, `output_padding` or `pads` with a value count that does not fit the
    spatial axes, Concat inputs of different ranks.

    ## What it does
    Reports the node and both ranks (or the count of values and of axes). The node's output shape is
    unknown from there on, unless the model declares it.

    ## Why is this bad?
    onnxruntime refuses to load the model or fails at the first call; shape inference in other tools
    often stops silently at such a node, so everything after it goes unchecked.

    ## Example
    An ONNX `Conv` on a `(1, 1, L)` input whose weight is `(8, 4, 8, 3)`, typically left by editing a
    1-D model into a 2-D one by hand. (The YAML loader refuses such layers outright, with the line.)

    ## Use instead
    A weight of rank 3, `(M, C/group, k)`, for a 1-D conv.
    """
    for node, facts in _by_node(analysis.facts(FactKind.RANK_MISMATCH)).items():
        yield analysis.finding("SC207", node, "; ".join(dict.fromkeys(f.message for f in facts)))


@rule("SC204", "reconstruction-mismatch", severity=Severity.WARNING,
      summary="A model that downsamples and upsamples returns another spatial size than it was given.")
def reconstruction_mismatch(analysis: Analysis) -> Iterable[Finding]:
    """Finds encoder/decoder models (autoencoders, segmentation heads) whose output's spatial size differs
    from their input's.

    ## What it does
    Compares the spatial sizes of the single input and the single output when the model contains both
    downsampling and upsampling layers.

    ## Why is this bad?
    Nothing fails: the runtime happily returns 64×64 for a 65×65 input, and the loss or the metric
    quietly compares misaligned pixels.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 65, 65]}
    layers:
      - {name: down, op: conv, input: x, out_channels: 4, kernel_size: 2, stride: 2}
      - {name: up, op: conv_transpose, out_channels: 1, kernel_size: 2, stride: 2}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 64, 64]}
    layers:
      - {name: down, op: conv, input: x, out_channels: 4, kernel_size: 2, stride: 2}
      - {name: up, op: conv_transpose, out_channels: 1, kernel_size: 2, stride: 2}
    ```
    """
    graph, result = analysis.graph, analysis.result
    ops = {n.op for n in graph.nodes.values()}
    if len(graph.inputs) != 1 or len(graph.outputs) != 1 or not ops & {"Conv", "MaxPool", "AveragePool"}:
        return
    upsampled = [n for n in graph.nodes.values() if n.op in {"ConvTranspose", "Resize", "Upsample",
                                                             "DepthToSpace", "YamlUpsample", "PixelShuffle"}]
    if not upsampled:
        return
    source = result.shape(next(iter(graph.inputs)))
    target = result.shape(graph.outputs[0])
    if source is None or target is None or len(source) != len(target) or len(source) < 3:
        return
    if any(isinstance(d, int) for d in source[2:]) and source[2:] != target[2:] and all(
        isinstance(d, int) for d in (*source[2:], *target[2:])
    ):
        producer = graph.producer(graph.outputs[0])
        last_up = upsampled[-1]
        yield analysis.finding(
            "SC204", producer.name if producer else None,
            f"the model maps spatial size {list(source[2:])} to {list(target[2:])}: the output does not "
            "line up with the input",
            related=[analysis.related(last_up.name, "upsampler", "the last upsampling layer")],
        )


@rule("SC205", "expect-mismatch", severity=Severity.ERROR,
      summary="A YAML layer's `expect:` shape does not hold.")
def expect_mismatch(analysis: Analysis) -> Iterable[Finding]:
    """Finds YAML layers whose declared `expect:` output shape differs from the propagated one.

    ## What it does
    Compares every `expect:` with the computed shape under the checked dims.

    ## Why is this bad?
    The author wrote down what the layer should produce; a difference means the network is not the
    one that was designed.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 65, 65]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2, expect: [1, 3, 33, 33]}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 65, 65]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2, ceil_mode: true, expect: [1, 3, 33, 33]}
    ```
    """
    for fact in analysis.facts(FactKind.EXPECT_MISMATCH):
        yield analysis.finding("SC205", fact.node, fact.message)
