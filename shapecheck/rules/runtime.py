"""Runtime divergence: models that ONNX accepts but the runtimes compute differently or reject."""

from __future__ import annotations

from collections.abc import Iterable

from shapecheck.facts import FactKind
from shapecheck.findings import Finding, Severity
from shapecheck.rules import rule
from shapecheck.rules.analysis import Analysis


@rule("SC501", "runtime-divergence", severity=Severity.WARNING,
      summary="ONNX shape inference and the runtimes compute different sizes for this node.")
def runtime_divergence(analysis: Analysis) -> Iterable[Finding]:
    """Finds nodes whose output size depends on which tool you ask, and says what each one computes.

    ## What it does
    Reports ConvTranspose with `auto_pad` SAME_* together with `output_padding` (ONNX shape inference
    adds output_padding, onnxruntime does not — onnx/onnx#4299); ConvTranspose with `output_shape`,
    `auto_pad` NOTSET and an odd total padding (onnxruntime puts the extra pad at the start, the ONNX
    reference evaluator raises); MaxPool/AveragePool `ceil_mode` whose last window starts in the end
    padding under opset < 22 (ONNX shape inference keeps that window, the runtimes drop it —
    onnx/onnx#5711). shapecheck follows the runtimes.

    ## Why is this bad?
    A model checked with `onnx.shape_inference` is then run with other sizes; graph optimisers and
    converters that trust the declared shapes produce wrong code.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 5, 5]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2, padding: 1, ceil_mode: true}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 5, 5]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2, padding: 1}
    ```
    """
    graph = analysis.graph
    for node in graph.topological_order():
        details = analysis.details(node.name)
        inference = details.get("onnx_inference_sizes")
        if inference is not None and details.get("onnx_inference_applies", True):
            produced = (analysis.result.shape(node.outputs[0]) or ())[2:]
            if node.op == "ConvTranspose":
                why = "auto_pad SAME_* with output_padding"
            else:
                why = "ceil_mode with a last window that starts in the end padding"
            opset = f" (opset {graph.opset})" if graph.format == "onnx" else ""
            yield analysis.finding(
                "SC501", node.name,
                f"{why}: ONNX shape inference{opset} computes {list(inference)}, onnxruntime and PyTorch "
                f"compute {list(produced)}; shapecheck follows the runtimes")
        if node.op == "ConvTranspose" and node.attr("output_shape") is not None and \
                details.get("auto_pad", "NOTSET") == "NOTSET":
            odd = [axis for axis, pads in enumerate(details.get("pads", ())) if pads and sum(pads) % 2]
            if odd:
                yield analysis.finding(
                    "SC501", node.name,
                    f"output_shape with auto_pad NOTSET needs an odd total padding on spatial axis "
                    f"{', '.join(map(str, odd))}: onnxruntime puts the extra pad at the start, the ONNX "
                    "reference evaluator raises an internal error")


@rule("SC503", "runtime-rejects-attribute", severity=Severity.ERROR,
      summary="An attribute value that ONNX accepts but onnxruntime or PyTorch reject at run time.")
def runtime_rejects_attribute(analysis: Analysis) -> Iterable[Finding]:
    """Finds attribute values the runtimes refuse: pooling pads not smaller than the kernel, Conv
    `auto_pad` SAME_* with dilation > 1 (onnxruntime).

    ## What it does
    Reports the node and the value, with what the runtime says.

    ## Why is this bad?
    The model passes `onnx.checker` and fails when the session is created or first run.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 8, 8]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2, padding: 2}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, 8, 8]}
    layers:
      - {name: pool, op: maxpool, input: x, kernel_size: 2, stride: 2, padding: 1}
    ```
    """
    for fact in analysis.facts(FactKind.BAD_ATTRIBUTE):
        if fact.data.get("attribute") != "output_padding":
            yield analysis.finding("SC503", fact.node, fact.message)
    for node in analysis.graph.topological_order():
        note = analysis.details(node.name).get("runtime_note")
        if note:
            yield analysis.finding("SC503", node.name, note)
