"""The ONNX project's own conformance cases, run through shapecheck.kernel.

Sources, all shipped in the onnx wheel (located through ``os.path.dirname(onnx.__file__)``):

* ``backend/test/data/node/test_{conv,convtranspose,maxpool,averagepool}*`` — model.onnx plus
  ``test_data_set_*/{input,output}_*.pb``, when the wheel ships them;
* ``backend/test/case/node`` — the Python definitions those node directories are generated from
  (``onnx.backend.test.case.node.collect_testcases``); used for every node case not found on disk,
  because some onnx wheels ship the definitions without the generated data;
* ``backend/test/data/pytorch-converted/test_Conv*``, ``test_ConvTranspose2d*``, ``test_*Pool*``.

Every case is run node by node with our kernels (Unsqueeze/Squeeze, which the PyTorch exports wrap around
1-D pooling, are applied with NumPy) and compared with the stored outputs to 1e-4. A case is skipped
only for a feature outside the kernel's scope, with the reason; ``test_conformance_coverage`` prints
how many ran and why the others were skipped.
"""

from __future__ import annotations

import collections
import glob
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from shapecheck import kernel

ONNX_DIR = os.path.dirname(onnx.__file__)
DATA_DIR = os.path.join(ONNX_DIR, "backend", "test", "data")
NODE_PREFIXES = ("test_conv", "test_convtranspose", "test_maxpool", "test_averagepool")
TORCH_PATTERNS = ("test_Conv*", "test_ConvTranspose2d*", "test_*Pool*")
KERNEL_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool"}
MIN_CASES_RUN = 80  # 56 node cases (some skipped) + 43 PyTorch-converted cases with onnx 1.23


@dataclass(frozen=True)
class Case:
    source: str  # node-data, node-definition or pytorch-converted
    name: str
    model: onnx.ModelProto
    data_sets: tuple[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]], ...]

    @property
    def id(self) -> str:
        return f"{self.source}/{self.name}"


def _read_tensor(path: str) -> np.ndarray:
    tensor = onnx.TensorProto()
    with open(path, "rb") as handle:
        tensor.ParseFromString(handle.read())
    return numpy_helper.to_array(tensor)


def _disk_case(source: str, directory: str) -> Case:
    data_sets = []
    for data_dir in sorted(glob.glob(os.path.join(directory, "test_data_set_*"))):
        inputs = tuple(_read_tensor(p) for p in sorted(glob.glob(os.path.join(data_dir, "input_*.pb"))))
        outputs = tuple(_read_tensor(p) for p in sorted(glob.glob(os.path.join(data_dir, "output_*.pb"))))
        data_sets.append((inputs, outputs))
    model = onnx.load(os.path.join(directory, "model.onnx"))
    return Case(source, os.path.basename(directory), model, tuple(data_sets))


def _node_definition_cases(missing: set[str] | None) -> list[Case]:
    """The node cases from onnx's Python definitions (those not already found on disk)."""
    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unrelated definitions warn about float overflow
        collected = node_cases.collect_testcases()
    cases = []
    for case in collected:
        if not case.name.startswith(NODE_PREFIXES) or (missing is not None and case.name not in missing):
            continue
        data_sets = tuple(
            (tuple(np.asarray(a) for a in inputs), tuple(np.asarray(a) for a in outputs))
            for inputs, outputs in case.data_sets
        )
        cases.append(Case("node-definition", case.name, case.model, data_sets))
    return cases


def collect_cases() -> list[Case]:
    cases: list[Case] = []
    node_dir = os.path.join(DATA_DIR, "node")
    on_disk = sorted(
        d for d in glob.glob(os.path.join(node_dir, "test_*")) if os.path.basename(d).startswith(NODE_PREFIXES)
    )
    cases += [_disk_case("node-data", d) for d in on_disk]
    disk_names = {os.path.basename(d) for d in on_disk}
    definitions = _node_definition_cases(None)
    cases += [c for c in definitions if c.name not in disk_names]
    torch_dirs = set()
    for pattern in TORCH_PATTERNS:
        torch_dirs.update(glob.glob(os.path.join(DATA_DIR, "pytorch-converted", pattern)))
    cases += [_disk_case("pytorch-converted", d) for d in sorted(torch_dirs)]
    return cases


# ----------------------------------------------------------------------------------------------------
# Scope: which cases the kernel can run, decided from the model alone (before running anything)
# ----------------------------------------------------------------------------------------------------


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in values.items()}


def out_of_scope(case: Case) -> str | None:
    """Why the kernel cannot run this case, or None."""
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE}
    for node in case.model.graph.node:
        if node.op_type not in KERNEL_OPS | {"Unsqueeze", "Squeeze"}:
            return f"op {node.op_type} is not a kernel op (out of scope)"
        present_outputs = [o for o in node.output if o]
        if node.op_type == "MaxPool" and len(present_outputs) > 1:
            return "MaxPool's second output (Indices) is out of scope"
        if node.op_type == "MaxPool" and _attrs(node).get("storage_order", 0):
            return "MaxPool storage_order only affects Indices (out of scope)"
    for value in case.model.graph.input:
        elem = value.type.tensor_type.elem_type
        if elem not in float_types:
            name = onnx.TensorProto.DataType.Name(elem)
            return f"input {value.name!r} is {name}; the kernel computes in float32/float64 only"
    return None


# ----------------------------------------------------------------------------------------------------
# Running a case with our kernels
# ----------------------------------------------------------------------------------------------------


def _run_conv(inputs: list[np.ndarray | None], attrs: dict[str, Any]) -> np.ndarray:
    return kernel.conv(*inputs, **attrs)


def _run_conv_transpose(inputs: list[np.ndarray | None], attrs: dict[str, Any]) -> np.ndarray:
    return kernel.conv_transpose(*inputs, **attrs)


def _run_max_pool(inputs: list[np.ndarray | None], attrs: dict[str, Any]) -> np.ndarray:
    attrs.pop("storage_order", None)
    return kernel.max_pool(inputs[0], **attrs)


def _run_average_pool(inputs: list[np.ndarray | None], attrs: dict[str, Any]) -> np.ndarray:
    return kernel.average_pool(inputs[0], **attrs)


def _run_unsqueeze(inputs: list[np.ndarray | None], attrs: dict[str, Any]) -> np.ndarray:
    axes = attrs.get("axes", inputs[1] if len(inputs) > 1 else None)
    out = inputs[0]
    for axis in sorted(int(a) for a in axes):
        out = np.expand_dims(out, axis)
    return out


def _run_squeeze(inputs: list[np.ndarray | None], attrs: dict[str, Any]) -> np.ndarray:
    axes = attrs.get("axes", inputs[1] if len(inputs) > 1 else None)
    return np.squeeze(inputs[0], axis=tuple(int(a) for a in axes))


RUNNERS: dict[str, Callable[[list[np.ndarray | None], dict[str, Any]], np.ndarray]] = {
    "Conv": _run_conv,
    "ConvTranspose": _run_conv_transpose,
    "MaxPool": _run_max_pool,
    "AveragePool": _run_average_pool,
    "Unsqueeze": _run_unsqueeze,
    "Squeeze": _run_squeeze,
}


def run_case(model: onnx.ModelProto, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    graph = model.graph
    values: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    feeds = [v.name for v in graph.input if v.name not in values]
    values.update(zip(feeds, inputs, strict=True))
    for node in graph.node:
        args = [values[name] if name else None for name in node.input]
        values[node.output[0]] = RUNNERS[node.op_type](args, _attrs(node))
    return [values[v.name] for v in graph.output]


CASES = collect_cases()
SCOPE = {case.id: out_of_scope(case) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_onnx_conformance_case(case: Case) -> None:
    reason = SCOPE[case.id]
    if reason:
        pytest.skip(reason)
    assert case.data_sets, "the case has no data set"
    for inputs, expected in case.data_sets:
        got = run_case(case.model, inputs)
        assert len(got) == len(expected)
        for ours, theirs in zip(got, expected, strict=True):
            assert ours.shape == theirs.shape
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_conformance_coverage() -> None:
    """Print (pytest -s) how many conformance cases were found, run and skipped, and why."""
    skipped = collections.Counter(reason for reason in SCOPE.values() if reason)
    run = [case_id for case_id, reason in SCOPE.items() if not reason]
    by_source = collections.Counter(case_id.split("/")[0] for case_id in run)
    print(f"\nONNX conformance: {len(CASES)} cases found, {len(run)} run ({dict(by_source)}), "
          f"{sum(skipped.values())} skipped")  # fmt: skip
    for reason, count in skipped.most_common():
        print(f"  skipped {count}: {reason}")
    ops = collections.Counter(node.op_type for case in CASES if not SCOPE[case.id] for node in case.model.graph.node)
    assert all(ops[op] for op in KERNEL_OPS), f"some kernel op has no conformance case: {dict(ops)}"
    assert len(run) >= MIN_CASES_RUN
