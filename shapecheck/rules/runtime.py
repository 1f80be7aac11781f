"""Runtime divergence: models that ONNX accepts but the runtimes compute differently or reject."""

from __future__ import annotations

from collections.abc import Iterable

from shapecheck.facts import FactKind
from shapecheck.findings import Finding, Severity
from shapecheck.rules import rule
from shapecheck.rules.analysis import Analysis


@rule("SC501", "runtime-divergence", severity=Severity.WARNING, runnable_example=False,
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
    An ONNX model at opset 19 with `MaxPool(kernel_shape=[2], strides=[2], pads=[1, 1], ceil_mode=1)` on
    a length-5 input: `onnx.shape_inference` says 4, onnxruntime and PyTorch compute 3. (The YAML format
    follows the runtimes, so it cannot express the divergence.)

    ## Use instead
    Export at opset 22 or later, or avoid `ceil_mode` windows that start in the padding (pads smaller
    than `kernel - 1`, or no ceil_mode).
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


@rule("SC502", "baked-size", severity=Severity.WARNING,
      summary="A dynamic model's ConvTranspose output_padding fits only the sizes it was exported at.")
def baked_size(analysis: Analysis) -> Iterable[Finding]:
    """Finds a ConvTranspose `output_padding` in a model with symbolic spatial dims that makes the model
    work for some sizes and break others that would work without it — typically PyTorch's
    `ConvTranspose(x, output_size=skip.shape)` traced at one example size and exported with dynamic axes.

    ## What it does
    For every transposed conv with a non-zero `output_padding`, compares the input sizes the model
    accepts (one period of the model's stride product, by propagation) with and without it, and
    reports the sizes it holds for.

    ## Why is this bad?
    The right `output_padding` depends on the input size's residue, so a constant one is right for one
    class of sizes only; onnxruntime then fails on the others although PyTorch ran them.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, H, H]}
    dims: {H: 37}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 4, kernel_size: 3, padding: 1}
      - {name: pool, op: maxpool, kernel_size: 2}
      - {name: up, op: conv_transpose, out_channels: 4, kernel_size: 2, stride: 2, output_padding: 1}
      - {name: cat, op: concat, inputs: [up, enc], axis: 1}
    ```

    ## Use instead
    No constant `output_padding`; pad the input to a size the model accepts at every call (`shapecheck
    sizes` lists them), or pass PyTorch's `output_size=` at call time and export at a fixed size.
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, H, H]}
    dims: {H: 40}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 4, kernel_size: 3, padding: 1}
      - {name: pool, op: maxpool, kernel_size: 2}
      - {name: up, op: conv_transpose, out_channels: 4, kernel_size: 2, stride: 2}
      - {name: cat, op: concat, inputs: [up, enc], axis: 1}
    ```
    """
    if not analysis.graph.symbols():
        return
    from shapecheck.rules.sizes import CHECK_BUDGET, CHECK_SEARCH_RANGE, check_work, model_sizes
    from shapecheck.sizes import WorkBudgetExceeded, valid_sets_with
    from shapecheck.verify import Patch

    transposed = [n for n in analysis.graph.topological_order() if n.op == "ConvTranspose"
                  and any(analysis.details(n.name).get("output_padding", ()))]
    if not transposed:
        return
    shapes = analysis.result.input_shapes or None
    try:
        as_is = model_sizes(analysis, free=True)
    except WorkBudgetExceeded as error:
        yield _not_compared(analysis, transposed[0].name, error)
        return
    proven = [s for s, sizes in as_is.symbols.items() if sizes.valid.searched_to is None]
    if not proven:
        return  # a baked constant shows as one residue class; without a period there is nothing to compare
    limits = {"search_range": CHECK_SEARCH_RANGE, "budget": CHECK_BUDGET, "symbols": proven,
              "work": check_work(analysis)}
    for node in transposed:
        padding = tuple(analysis.details(node.name)["output_padding"])
        zeros = Patch(node.name, {"output_padding": (0,) * len(padding)})
        try:
            without = valid_sets_with(analysis.graph, [zeros], input_shapes=shapes, **limits)
        except WorkBudgetExceeded as error:
            yield _not_compared(analysis, node.name, error)
            return
        for symbol in proven:
            sizes, other = as_is.symbols[symbol], without.symbols.get(symbol)
            if other is None or other.valid.searched_to is not None:
                continue
            window = range(1, 4 * max(sizes.valid.period, other.valid.period, 1) + sizes.valid.start + 1)
            lost = [n for n in window if n in other.valid and n not in sizes.valid]
            if lost:
                yield analysis.finding(
                    "SC502", node.name,
                    f"output_padding {list(padding)} is baked for one class of sizes: the model runs for "
                    f"{sizes.valid.describe()}, but with output_padding 0 for {other.valid.describe()} (e.g. "
                    f"{symbol}={lost[0]} runs only without it); the padding a transposed conv needs depends on "
                    "the input size",
                    data={"symbol": symbol, "with": sizes.valid.describe(), "without": other.valid.describe()})
                break


def _not_compared(analysis: Analysis, node: str, error: Exception) -> Finding:
    """Say that the baked-size comparison was not made, rather than staying silent about it."""
    message = (f"whether output_padding is baked for one class of sizes was not checked: {error} (check's "
               "bound); `shapecheck sizes` lists the sizes the model accepts without it")
    return analysis.finding("SC502", node, message, severity=Severity.INFO)
