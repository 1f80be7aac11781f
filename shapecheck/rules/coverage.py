"""Coverage notes and internal errors: what shapecheck could not check, and where it contradicted itself."""

from __future__ import annotations

from collections.abc import Iterable

from shapecheck.facts import FactKind
from shapecheck.findings import Finding, Severity
from shapecheck.rules import rule
from shapecheck.rules.analysis import Analysis


@rule("SC101", "unsupported-op", severity=Severity.INFO, runnable_example=False,
      summary="An op shapecheck has no shape rule for; reported once per op type.")
def unsupported_op(analysis: Analysis) -> Iterable[Finding]:
    """Reports each op type without a shape rule once, with the number of nodes.

    ## What it does
    Names the op; its shapes come from the model's own `value_info` or ONNX shape inference if either
    has them, otherwise they are unknown and the nodes after it are not checked (SC103).

    ## Why is this bad?
    A check that silently skipped part of the model would claim more than it knows.

    ## Example
    An ONNX model with a node shapecheck has no rule for, such as `com.microsoft::FusedConv`.

    ## Use instead
    Nothing to change in the model. Export with standard ONNX ops (e.g. without runtime-specific fusion)
    to have every node checked.
    """
    by_op: dict[str, list[str]] = {}
    for fact in analysis.facts(FactKind.UNSUPPORTED_OP):
        by_op.setdefault(fact.data.get("op", "?"), []).append(fact.node)
    for op, nodes in by_op.items():
        yield analysis.finding("SC101", nodes[0], f"no shape rule for {op} ({len(nodes)} node(s)); their "
                               "shapes come from the model's value_info or ONNX shape inference, if any")


@rule("SC102", "unresolved", severity=Severity.INFO, runnable_example=False,
      summary="A shape or value (a computed pad, size or scale) could not be determined.")
def unresolved(analysis: Analysis) -> Iterable[Finding]:
    """Reports a node whose shape could not be computed because a parameter stayed unknown.

    ## What it does
    Names the node and the input that could not be resolved.

    ## Why is this bad?
    Everything after it is unchecked; a `--dim` binding or a simpler export usually resolves it.

    ## Example
    An ONNX `Reshape` whose target shape is computed from a tensor's *values* (not its shape).

    ## Use instead
    Export with the shape computed from `x.shape` so it stays a chain of shape ops, or bind `--dim`.
    """
    for fact in analysis.facts(FactKind.UNRESOLVED):
        if not fact.data.get("internal"):
            yield analysis.finding("SC102", fact.node, fact.message)


@rule("SC103", "not-checked", severity=Severity.INFO, runnable_example=False,
      summary="Part of the model was not checked: a subgraph, external data, or nodes after an unknown shape.")
def not_checked(analysis: Analysis) -> Iterable[Finding]:
    """Reports what was not looked at: If/Loop bodies, weights stored as external data (never read), and
    the nodes downstream of an unknown shape — once, at their cause.

    ## What it does
    One note per cause.

    ## Why is this bad?
    It is not bad in itself; it says how far the check's "no findings" reaches.

    ## Example
    An ONNX model whose weights are stored as external data, or with an `If` node.

    ## Use instead
    Nothing to change: the note says how far the check reaches.
    """
    for note in analysis.graph.notes:
        yield analysis.finding("SC103", note.node, note.message)
    for fact in analysis.facts(FactKind.NOT_CHECKED):
        yield analysis.finding("SC103", fact.node, fact.message)


@rule("SC901", "internal-disagreement", severity=Severity.ERROR, runnable_example=False,
      summary="shapecheck contradicted itself: the kernel and the engine disagree, or a rule failed.")
def internal_disagreement(analysis: Analysis) -> Iterable[Finding]:
    """Reports a bug in shapecheck, never hidden: the NumPy kernel produced another size than the
    arithmetic engine claimed, or an op rule raised.

    ## What it does
    Names the node and both sizes.

    ## Why is this bad?
    One of the two derivations is wrong, so nothing shapecheck says about this node can be trusted.
    Please report it with the model.

    ## Example
    None: this is a bug in shapecheck, not in the model.

    ## Use instead
    Report it with the model and the command line.
    """
    for fact in analysis.facts(FactKind.UNRESOLVED):
        if fact.data.get("internal"):
            yield analysis.finding("SC901", fact.node, fact.message)
    seen = set()
    for node, engine, kernel_sizes in analysis.disagreements:
        if (node, engine, kernel_sizes) in seen:
            continue
        seen.add((node, engine, kernel_sizes))
        yield analysis.finding("SC901", node, f"the engine computed spatial size {list(engine)} but the NumPy "
                               f"kernel produced {list(kernel_sizes)}")
