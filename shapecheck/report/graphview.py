"""A checked model as something to draw: nodes with labels, colours and roles, edges with shapes.

The HTML report, the DOT output and the Markdown summaries all show the same model the same way, so
what a node is called, which colour it gets and which finding it belongs to is decided once, here, from
the propagation result and the findings. Geometry is :mod:`shapecheck.report.layout`'s job.

Roles come from :attr:`Finding.related`: the node a finding is *at* (the join that fails), the layer
whose floor dropped a row (``floor-loss``), the upsampler that did not restore it (``upsampler``) — each
gets its own colour, in every format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shapecheck.findings import Finding, Severity
from shapecheck.graph import Node
from shapecheck.propagate import Propagation
from shapecheck.report.values import to_json
from shapecheck.symbolic import Dim, format_dim

__all__ = ["FAMILY_FILL", "ROLE_COLOR", "ROLE_WORDS", "SEVERITY_COLOR", "STROKE", "ModelView", "ViewEdge",
           "ViewNode", "build_view", "pretty_dim", "pretty_shape", "short_name"]

#: Box fill by op family (light, so that text and highlight strokes stay readable).
FAMILY_FILL: dict[str, str] = {
    "conv": "#dbeafe",
    "pool": "#ccfbf1",
    "up": "#ede9fe",
    "join": "#fef3c7",
    "act": "#f1f5f9",
    "shape": "#f8fafc",
    "io": "#e2e8f0",
    "other": "#ffffff",
}
#: Default box outline.
STROKE = "#64748b"
#: Outline of the node a finding is at, by severity.
SEVERITY_COLOR: dict[str, str] = {"error": "#dc2626", "warning": "#d97706", "info": "#2563eb"}
#: Outline of a node by the role it plays in a finding (``Related.role``, plus ``join``).
ROLE_COLOR: dict[str, str] = {
    "join": "#dc2626",
    "floor-loss": "#ea580c",
    "upsampler": "#7c3aed",
    "mirrored": "#0891b2",
}
#: What each role is called on the drawing.
ROLE_WORDS: dict[str, str] = {
    "join": "join fails",
    "floor-loss": "floor drops rows",
    "upsampler": "upsampler",
    "mirrored": "mirrored downsampler",
}
#: Priority when a node plays several roles: the join is what fails, so it wins.
_ROLE_ORDER = ("join", "floor-loss", "upsampler", "mirrored")

_CONV = frozenset({"Conv", "Gemm", "MatMul", "YamlLinear", "QLinearConv", "ConvInteger"})
_POOL = frozenset({"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "AdaptiveAvgPool",
                   "PixelUnshuffle", "SpaceToDepth"})
_UP = frozenset({"ConvTranspose", "Resize", "Upsample", "YamlUpsample", "DepthToSpace", "PixelShuffle"})
_DOWN_OPS = frozenset({"Conv", "MaxPool", "AveragePool", "LpPool", "SpaceToDepth", "PixelUnshuffle"})
#: Shape-preserving unary ops: they stack under their producer in the drawing.
_UNARY = frozenset({
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Gelu", "HardSigmoid", "HardSwish",
    "Softplus", "Softsign", "Mish", "Clip", "BatchNormalization", "InstanceNormalization", "LayerNormalization",
    "GroupNormalization", "Dropout", "Identity", "Softmax", "LogSoftmax", "LRN", "Cast", "Abs", "Neg", "Exp",
    "Log", "Sqrt", "Erf", "ThresholdedRelu", "Swish",
})
#: Long op names shortened on the boxes (the details panel and the table keep the full name).
_SHORT_OPS = {
    "ConvTranspose": "ConvT", "BatchNormalization": "BatchNorm", "InstanceNormalization": "InstanceNorm",
    "LayerNormalization": "LayerNorm", "GroupNormalization": "GroupNorm", "GlobalAveragePool": "GlobalAvgPool",
    "YamlUpsample": "Upsample", "YamlLinear": "Linear", "YamlFlatten": "Flatten", "YamlReshape": "Reshape",
    "YamlPad": "Pad", "YamlCrop": "Crop", "ConstantOfShape": "ConstOfShape",
}

_FLOOR = re.compile(r"floor\(")


def pretty_dim(dim: Dim) -> str:
    """``37``, ``H``, ``⌊H/2⌋``, ``?`` — a size as the drawing shows it (floors as ⌊ ⌋, which read faster
    than ``floor(…)`` and keep labels short)."""
    value = format_dim(dim)
    if value is None:
        return "?"
    text = str(value)
    if "floor(" not in text:
        return text
    out: list[str] = []
    depth_stack: list[bool] = []  # for each open paren: does it close a floor?
    index = 0
    while index < len(text):
        if _FLOOR.match(text, index):
            out.append("⌊")
            depth_stack.append(True)
            index += len("floor(")
            continue
        char = text[index]
        if char == "(":
            depth_stack.append(False)
            out.append(char)
        elif char == ")":
            out.append("⌋" if depth_stack and depth_stack.pop() else ")")
        else:
            out.append(char)
        index += 1
    return "".join(out)


def pretty_shape(shape: Sequence[Dim] | None) -> str:
    """``1×16×37×37``; ``?`` when unknown, ``scalar`` for rank 0."""
    if shape is None:
        return "?"
    return "×".join(pretty_dim(d) for d in shape) if shape else "scalar"


@dataclass(frozen=True)
class ViewNode:
    """One box of the drawing: a model node, or a graph input or output (``kind``)."""

    id: str
    name: str
    op: str
    kind: str
    label: str
    attrs: str
    family: str
    aux: bool = False
    attach: bool = False
    level_step: int = 0
    location: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    #: Floor remainder of a strided conv or pool per spatial axis (``1,0``), empty for other nodes.
    remainder: str = ""
    #: (index into ModelView.findings, role) for every finding this node belongs to; role ``finding``
    #: for the node the finding is at.
    roles: tuple[tuple[int, str], ...] = ()

    #: Severity of the worst finding *at* this node (``None`` when there is none).
    severity: str | None = None

    @property
    def own_findings(self) -> tuple[int, ...]:
        """Indexes of the findings located at this node."""
        return tuple(i for i, role in self.roles if role == "finding")

    @property
    def role(self) -> str | None:
        """The role that colours this node: ``join``, ``floor-loss``, ``upsampler``, ``mirrored``, or
        ``finding`` (coloured by severity), or ``None`` when no finding involves it."""
        roles = {role for _, role in self.roles}
        for role in _ROLE_ORDER:
            if role in roles:
                return role
        return "finding" if "finding" in roles else None

    @property
    def color(self) -> str:
        """The outline colour: the role's, else the severity's, else the default."""
        role = self.role
        if role in ROLE_COLOR:
            return ROLE_COLOR[role]
        if role == "finding" and self.severity:
            return SEVERITY_COLOR[self.severity]
        return STROKE


@dataclass(frozen=True)
class ViewEdge:
    """A tensor from one box to another, labelled with its shape (and its value, if small and known)."""

    source: str
    target: str
    tensor: str
    label: str
    aux: bool = False


@dataclass(frozen=True)
class ModelView:
    """What every visual format shows of one model."""

    path: str
    format: str | None
    dims: dict[str, int]
    symbols: tuple[str, ...]
    nodes: tuple[ViewNode, ...]
    edges: tuple[ViewEdge, ...]
    findings: tuple[Finding, ...]
    notes: tuple[dict[str, Any], ...] = ()
    error: str | None = None

    def node(self, node_id: str) -> ViewNode:
        """The box with this id (a node name, ``#in:x`` or ``#out:y``); KeyError when there is none."""
        return self._by_id[node_id]

    def get(self, node_id: str) -> ViewNode | None:
        """The box with this id, or None."""
        return self._by_id.get(node_id)

    @cached_property
    def _by_id(self) -> dict[str, ViewNode]:
        return {n.id: n for n in self.nodes}


def _family(node: Node, data_inputs: int, aux: bool) -> str:
    if aux:
        return "shape"
    if node.op in _UP:
        return "up"
    if node.op in _POOL:
        return "pool"
    if node.op in _CONV:
        return "conv"
    if data_inputs >= 2:
        return "join"
    if node.op in _UNARY:
        return "act"
    return "other"


def _is_aux(node: Node, result: Propagation) -> bool:
    """A shape computation: every output is a small integer tensor whose value the engine knows, or a
    scalar or vector (``Shape``, ``Gather`` of a dim, ``Unsqueeze``, ``Concat`` of sizes, Constant)."""
    outputs = [t for t in node.outputs if t]
    if not outputs:
        return False
    if node.op in ("Constant", "ConstantOfShape"):
        return True
    for tensor in outputs:
        known = result.tensors.get(tensor)
        if known is None or known.shape is None:
            return False
        if known.value is None and len(known.shape) > 1:
            return False
    return True


def _is_value(result: Propagation, tensor: str) -> bool:
    known = result.tensors.get(tensor)
    return known is not None and known.value is not None


def _spatial(shape: Sequence[Dim] | None) -> list[Dim]:
    return list(shape[2:]) if shape is not None and len(shape) >= 3 else []


def _level_step(node: Node, result: Propagation, data_inputs: list[str]) -> int:
    """+1 when the node shrinks the spatial axes (a new, deeper band), −1 when it grows them.

    Concrete sizes decide when both sides are known ints (this also covers Resize, whose scales live in
    a tensor); otherwise the op and its strides do, so symbolic models (no ``--dim``) draw the same U.
    """
    if not data_inputs:
        return 0
    before = _spatial(result.shape(data_inputs[0]))
    after = _spatial(result.shape(next((t for t in node.outputs if t), "")))
    if before and len(before) == len(after) and all(isinstance(d, int) and d > 0 for d in (*before, *after)):
        ratios = [b / a for a, b in zip(before, after)]
        if all(r <= 0.75 for r in ratios):
            return 1
        if all(r >= 1.33 for r in ratios):
            return -1
        return 0
    strides = result.details.get(node.name, {}).get("strides", ())
    strided = any(isinstance(s, int) and s > 1 for s in strides)
    if node.op in _DOWN_OPS:
        return 1 if strided or node.op == "SpaceToDepth" else 0
    if node.op == "ConvTranspose":
        return -1 if strided else 0
    if node.op in _UP:
        return -1
    return 0


def _remainder(details: dict[str, Any]) -> str:
    values = details.get("remainder")
    strides = details.get("strides", ())
    if not values or not any(isinstance(s, int) and s > 1 for s in strides):
        return ""
    return ",".join(pretty_dim(v) for v in values)


def _value_text(result: Propagation, tensor: str) -> str:
    known = result.tensors.get(tensor)
    value = None if known is None else known.value
    if value is None or getattr(value, "size", 99) > 8:
        return ""
    flat = [pretty_dim(v) for v in getattr(value, "flat", [])]
    return " = [" + ", ".join(flat) + "]" if getattr(value, "ndim", 1) else f" = {flat[0]}"


def short_name(name: str, limit: int = 22) -> str:
    """``/ups.0/up/ConvTranspose`` → ``ups.0/up/ConvTranspose``, cut from the left to fit ``limit``: the
    end of an exported name says what the layer is, the start is the same for every node."""
    text = name.lstrip("/")
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def _attributes(node: Node, result: Propagation) -> dict[str, Any]:
    details = result.details.get(node.name)
    if details is not None:
        return to_json(details)
    small = {k: v for k, v in node.attrs.items() if not hasattr(v, "shape") or getattr(v, "size", 0) <= 16}
    return to_json(small)


def build_view(result: Propagation, findings: Sequence[Finding] = (), *,
               notes: Sequence[dict[str, Any]] = ()) -> ModelView:
    """Everything the visual formats show of one propagated model and its findings."""
    from shapecheck.report.inspect import attribute_summary

    graph = result.graph
    ordered = graph.topological_order()
    roles: dict[str, list[tuple[int, str]]] = {}
    severity: dict[str, Severity] = {}
    for index, finding in enumerate(findings):
        if finding.node is not None:
            roles.setdefault(finding.node, []).append((index, "finding"))
            worst = severity.get(finding.node)
            if worst is None or finding.severity.rank > worst.rank:
                severity[finding.node] = finding.severity
            at = graph.nodes.get(finding.node)
            if finding.code.startswith("SC2") and at is not None and len(set(graph.data_inputs(at))) >= 2:
                roles[finding.node].append((index, "join"))
        for related in finding.related:
            roles.setdefault(related.node, []).append((index, related.role))

    nodes: list[ViewNode] = []
    edges: list[ViewEdge] = []
    input_id = {name: f"#in:{name}" for name, spec in graph.inputs.items() if name not in graph.constants}
    for name, node_id in input_id.items():
        shape = pretty_shape(result.shape(name))
        nodes.append(ViewNode(node_id, name, "Input", "input", "input", shape, "io",
                              outputs=((name, shape),)))
    aux_nodes = {node.name for node in ordered if _is_aux(node, result)}
    for node in ordered:
        data_inputs = graph.data_inputs(node)
        aux = node.name in aux_nodes
        # what the node computes on, as opposed to the sizes and pads a shape computation feeds it
        tensors_in = [t for t in data_inputs if (graph.producer(t) is None or graph.producer(t).name not in aux_nodes)
                      and not _is_value(result, t)]
        out_shape = result.shape(next((t for t in node.outputs if t), ""))
        in_shape = result.shape(tensors_in[0]) if tensors_in else None
        attach = (node.op in _UNARY and len(set(tensors_in)) == 1 and not aux
                  and (in_shape is None or out_shape is None or tuple(in_shape) == tuple(out_shape)))
        details = result.details.get(node.name, {})
        nodes.append(ViewNode(
            id=node.name,
            name=node.name,
            op=node.op,
            kind="node",
            label=_SHORT_OPS.get(node.op, node.op),
            attrs=attribute_summary(details) if details else "",
            family=_family(node, len(set(tensors_in)), aux),
            aux=aux,
            attach=attach,
            level_step=0 if aux else _level_step(node, result, tensors_in),
            location=str(node.location) if node.location else None,
            attributes=_attributes(node, result),
            inputs=tuple((t, pretty_shape(result.shape(t)) + _value_text(result, t)) for t in node.inputs if t),
            outputs=tuple((t, pretty_shape(result.shape(t)) + _value_text(result, t)) for t in node.outputs if t),
            remainder=_remainder(details),
            roles=tuple(roles.get(node.name, ())),
            severity=severity[node.name].value if node.name in severity else None,
        ))
        for tensor in dict.fromkeys(data_inputs):
            producer = graph.producer(tensor)
            source = producer.name if producer is not None else input_id.get(tensor)
            if source is None:
                continue
            label = pretty_shape(result.shape(tensor)) + _value_text(result, tensor)
            edges.append(ViewEdge(source, node.name, tensor, label, aux or source in aux_nodes))
    for tensor in graph.outputs:
        producer = graph.producer(tensor)
        source = producer.name if producer is not None else input_id.get(tensor)
        if source is None:
            continue
        shape = pretty_shape(result.shape(tensor))
        node_id = f"#out:{tensor}"
        nodes.append(ViewNode(node_id, tensor, "Output", "output", "output", shape, "io", inputs=((tensor, shape),)))
        edges.append(ViewEdge(source, node_id, tensor, shape))
    return ModelView(
        path=graph.path,
        format=graph.format,
        dims=dict(result.bindings),
        symbols=tuple(s for s in graph.symbols() if s not in result.bindings),
        nodes=tuple(nodes),
        edges=tuple(edges),
        findings=tuple(findings),
        notes=tuple(notes),
    )

