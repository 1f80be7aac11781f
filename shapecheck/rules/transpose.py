"""Transposed convolutions: the output_padding that a floor made necessary, illegal values, checkerboards."""

from __future__ import annotations

from collections.abc import Iterable

from shapecheck.facts import FactKind
from shapecheck.findings import Finding, Severity
from shapecheck.rules import rule
from shapecheck.rules.analysis import Analysis


@rule("SC401", "output-padding-needed", severity=Severity.ERROR,
      summary="A ConvTranspose misses the size of the encoder tensor it mirrors by what output_padding fixes.")
def output_padding_needed(analysis: Analysis) -> Iterable[Finding]:
    """Finds the transposed conv whose output differs from the encoder tensor it is joined with by an
    amount that `output_padding` can make up.

    ## What it does
    For every failing join, looks at the last ConvTranspose on each branch; when a legal
    `output_padding` (`0 <= output_padding < stride`) gives it exactly the size of the other branch,
    reports it with that value as the first fix, verified by re-propagation and execution. In an
    encoder/decoder without skips (an autoencoder) whose output does not line up with its input, each
    strided transposed conv is compared with the size before the downsampling it mirrors.

    ## Why is this bad?
    A strided conv or pool maps `s` input sizes to one output size (the floor hides the difference); a
    transposed conv can only return one of them. `output_padding` says which.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 65, 65]}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 8, kernel_size: 3, padding: 1}
      - {name: pool, op: maxpool, kernel_size: 2, stride: 2}
      - {name: up, op: conv_transpose, out_channels: 8, kernel_size: 2, stride: 2}
      - {name: cat, op: concat, inputs: [up, enc], axis: 1}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 3, 65, 65]}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 8, kernel_size: 3, padding: 1}
      - {name: pool, op: maxpool, kernel_size: 2, stride: 2}
      - {name: up, op: conv_transpose, out_channels: 8, kernel_size: 2, stride: 2, output_padding: 1}
      - {name: cat, op: concat, inputs: [up, enc], axis: 1}
    ```
    """
    if not any(n.op == "ConvTranspose" for n in analysis.graph.nodes.values()):
        return
    from shapecheck.fix import mirror_repairs, repair_join  # only models with a transposed conv pay for it

    joins = dict.fromkeys(f.node for f in analysis.facts(FactKind.JOIN_MISMATCH))
    if not joins:
        for repair in mirror_repairs(analysis):
            yield analysis.finding(
                "SC401", repair.upsampler,
                f"output spatial size {list(repair.produced)} differs from {list(repair.wanted)}, the size before "
                f"{repair.downsampler!r}, the downsampling it mirrors; output_padding {repair.fix.value} restores it",
                fixes=[repair.fix],
                related=[analysis.related(repair.downsampler, "mirrored", "the downsampling this layer undoes")])
    for join in joins:
        facts = [f for f in analysis.facts(FactKind.JOIN_MISMATCH) if f.node == join]
        tensors = list(dict.fromkeys(t for f in facts for t in f.data.get("tensors", ())))
        repair = repair_join(analysis, join, tensors)
        fixes = [f for f in repair.fixes if f.attribute == "output_padding"]
        if not fixes or repair.upsampler is None:
            continue
        up = repair.upsampler
        shape = analysis.result.shape(analysis.graph.nodes[up].outputs[0]) or ()
        current = list(analysis.details(up).get("output_padding", ()))
        message = (f"output spatial size {list(shape[2:])} does not match the tensor it is joined with at {join!r}; "
                   f"output_padding {fixes[0].value} instead of {current} makes up the difference")
        yield analysis.finding("SC401", up, message, fixes=fixes,
                               related=[analysis.related(join, "join", "the join that fails")])


@rule("SC402", "illegal-output-padding", severity=Severity.ERROR,
      summary="output_padding >= max(stride, dilation): ONNX accepts it, the runtimes reject it.")
def illegal_output_padding(analysis: Analysis) -> Iterable[Finding]:
    """Finds ConvTranspose nodes whose `output_padding` is not below `max(stride, dilation)`.

    ## What it does
    Checks every axis of every transposed conv.

    ## Why is this bad?
    ONNX shape inference accepts any value, so the model exports and checks fine; onnxruntime and
    PyTorch reject it at run time ("must be less than max(stride, dilation)").

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 8, 8]}
    layers:
      - {name: up, op: conv_transpose, input: x, out_channels: 1, kernel_size: 3, stride: 2, output_padding: 2}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 8, 8]}
    layers:
      - {name: up, op: conv_transpose, input: x, out_channels: 1, kernel_size: 3, stride: 2, output_padding: 1}
    ```
    """
    for fact in analysis.facts(FactKind.BAD_ATTRIBUTE):
        if fact.data.get("attribute") == "output_padding":
            yield analysis.finding("SC402", fact.node, fact.message)


@rule("SC403", "checkerboard-risk", severity=Severity.INFO, default=False,
      summary="A transposed conv whose kernel size is not divisible by its stride (uneven overlap).")
def checkerboard_risk(analysis: Analysis) -> Iterable[Finding]:
    """Finds transposed convolutions whose kernel overlaps unevenly, the classic source of checkerboard
    artifacts (Odena et al., 2016). Off by default: it is about image quality, not shapes.

    ## What it does
    Reports a ConvTranspose where `kernel_size % stride != 0` on some axis.

    ## Why is this bad?
    Some output pixels receive more kernel taps than their neighbours, which shows as a grid pattern.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 8, 8]}
    layers:
      - {name: up, op: conv_transpose, input: x, out_channels: 1, kernel_size: 3, stride: 2, padding: 1,
         output_padding: 1}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 8, 8]}
    layers:
      - {name: up, op: conv_transpose, input: x, out_channels: 1, kernel_size: 4, stride: 2, padding: 1}
    ```
    """
    for node in analysis.graph.topological_order():
        if node.op != "ConvTranspose":
            continue
        details = analysis.details(node.name)
        pairs = list(zip(details.get("kernel", ()), details.get("strides", ())))
        uneven = [axis for axis, (k, s) in enumerate(pairs) if s > 1 and k % s]
        if uneven:
            yield analysis.finding(
                "SC403", node.name,
                f"kernel {list(details['kernel'])} is not divisible by stride {list(details['strides'])} on "
                f"spatial axis {', '.join(map(str, uneven))}: the output overlaps unevenly")
