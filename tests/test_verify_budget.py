"""The confirming execution stays inside its budget: :func:`shapecheck.verify.probe_cost` is an upper
bound of what the NumPy kernel allocates (measured with tracemalloc, which sees NumPy's buffers), and a
node past the memory or time budget is not executed — the fix says "not confirmed" and why."""

from __future__ import annotations

import os
import time
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shapecheck.check import check_file
from shapecheck.errors import SpecError
from shapecheck.graph import Node
from shapecheck.verify import MAX_PROBE_STEPS, _run_node, probe_cost

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ODD = os.path.join(REPO, "fixtures", "yaml", "tiny_unet_odd.yaml")


class _NoShapes:
    """The propagation result ``_run_node`` asks for weight shapes (the probes here give kernel_shape)."""

    def shape(self, tensor: str) -> None:
        return None


@st.composite
def _nodes(draw) -> tuple[Node, tuple[int, ...]]:
    op = draw(st.sampled_from(("Conv", "ConvTranspose", "MaxPool", "AveragePool")))
    rank = draw(st.integers(1, 3))
    largest = {1: 4000, 2: 120, 3: 20}[rank]
    spatial = tuple(draw(st.integers(1, largest)) for _ in range(rank))
    axis = st.integers(1, 4)
    attrs: dict = {"kernel_shape": tuple(draw(axis) for _ in range(rank)),
                   "strides": tuple(draw(axis) for _ in range(rank))}
    if draw(st.booleans()):
        attrs["auto_pad"] = draw(st.sampled_from(("SAME_UPPER", "SAME_LOWER", "VALID")))
    else:
        attrs["pads"] = tuple(draw(st.integers(0, 3)) for _ in range(2 * rank))
    if op != "AveragePool":
        attrs["dilations"] = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    if op in ("Conv", "ConvTranspose"):
        attrs["group"] = draw(st.sampled_from((1, 2, 8, 16)))
    if op == "ConvTranspose":
        attrs["output_padding"] = tuple(draw(st.integers(0, s - 1)) for s in attrs["strides"])
    else:
        attrs["ceil_mode"] = draw(st.integers(0, 1))
    if op == "AveragePool":
        attrs["count_include_pad"] = draw(st.integers(0, 1))
    return Node("n", op, ("x", "w"), ("y",), attrs), spatial


def _warm_up() -> None:
    """Import the kernel and start its thread pool before measuring (one-off Python allocations)."""
    for op in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
        node = Node("n", op, ("x", "w"), ("y",), {"kernel_shape": (2, 2), "strides": (2, 2), "group": 2})
        _run_node(node, [(8, 8)], _NoShapes())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_nodes())
def test_probe_cost_bounds_what_the_kernel_allocates(case: tuple[Node, tuple[int, ...]]) -> None:
    node, spatial = case
    _warm_up()
    cost = probe_cost(node, spatial, node.attrs["kernel_shape"])
    tracemalloc.start()
    try:
        _run_node(node, [spatial], _NoShapes())
    except SpecError:  # geometry the kernel refuses (pads >= kernel, a window past the input)
        return
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak <= cost.bytes, (peak, cost)


def test_a_huge_node_is_not_executed_and_the_fix_says_why() -> None:
    """tiny_unet_odd at H=W=65 is confirmed by execution; with a 1 MB budget it is not, with the reason."""
    confirmed = check_file(ODD, confirm=True)
    assert any(fix.confirmed for f in confirmed.findings for fix in f.fixes)
    report = check_file(ODD, confirm=True, memory_budget=1 << 20, dims={"H": 4001, "W": 4001})
    fixes = [fix for f in report.findings for fix in f.fixes if fix.kind == "attribute"]
    assert fixes and not any(fix.confirmed for fix in fixes)
    assert all("above the memory budget of 1 MB" in fix.note for fix in fixes), [fix.note for fix in fixes]


def test_a_kernel_with_too_many_steps_is_not_executed() -> None:
    """A transposed conv with stride 2**20 loops over 2**20 output phases: seconds of Python, not run."""
    node = Node("up", "ConvTranspose", ("x", "w"), ("y",), {"kernel_shape": (1,), "strides": (1 << 20,)})
    cost = probe_cost(node, (1,), (1,))
    assert cost.steps > MAX_PROBE_STEPS
    from shapecheck.verify import _over_budget

    start = time.perf_counter()
    assert "would take too long" in _over_budget(node, (1,), _NoShapes(), 1 << 40)  # type: ignore[arg-type]
    assert time.perf_counter() - start < 0.1


def test_malformed_attributes_are_not_sized_and_not_executed() -> None:
    from shapecheck.verify import _over_budget

    node = Node("c", "Conv", ("x", "w"), ("y",), {"kernel_shape": (3, 3), "strides": (2,)})
    assert "cannot be estimated (its strides attribute)" in _over_budget(node, (8, 8), _NoShapes(), 1 << 30)  # type: ignore[arg-type]


def test_an_attribute_the_kernel_does_not_read_does_not_stop_execution() -> None:
    """``group`` was read (with int()) for every op: a Relu carrying group=[1] made the kernel 'fail'."""
    from shapecheck.graph import ModelGraph, TensorSpec
    from shapecheck.propagate import propagate
    from shapecheck.verify import execute_branch

    relu = Node("act", "Relu", ("x",), ("y",), {"group": (1,)})
    graph = ModelGraph(path="m", format="onnx", nodes=[relu], inputs={"x": TensorSpec((1, 1, 8, 8))},
                       outputs=["y"])
    run = execute_branch(propagate(graph), [relu])
    assert run.confirmed and not run.disagreements and run.sizes == {"y": (8, 8)}
