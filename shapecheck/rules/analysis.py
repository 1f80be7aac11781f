"""What rules read: the graph, the propagation result, and the branch tracing behind root causes.

A join that fails has two branches that left a common ancestor with one size and arrived with two. The
tracer names the strided layers on each branch whose floor dropped positions on the failing axis, and
the upsamplers that did not restore them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shapecheck.facts import Fact, FactKind
from shapecheck.findings import Finding, Fix, Related, Severity
from shapecheck.graph import ModelGraph, Node
from shapecheck.propagate import Propagation

__all__ = ["DOWNSAMPLERS", "UPSAMPLERS", "Analysis", "Branch", "dropped_text"]

#: Ops that shrink spatial axes with a floor (their details carry ``remainder``).
DOWNSAMPLERS = frozenset({"Conv", "MaxPool", "AveragePool", "LpPool"})
#: Ops that grow spatial axes.
UPSAMPLERS = frozenset({"ConvTranspose", "Resize", "Upsample", "DepthToSpace", "YamlUpsample",
                        "PixelShuffle"})


@dataclass(frozen=True)
class Branch:
    """The nodes from a common ancestor (exclusive) to the join's input (inclusive), in order."""

    tensor: str
    nodes: tuple[Node, ...]


_AXIS_WORDS = {1: ("sample",), 2: ("row", "column"), 3: ("slice", "row", "column")}


def dropped_text(counts: dict[int, object], spatial_rank: int) -> str:
    """``the last 1 row and 1 column``: what a floor leaves unread, in words for spatial axes."""
    words = _AXIS_WORDS.get(spatial_rank)
    parts = []
    for axis, count in counts.items():
        word = words[axis] if words and axis < len(words) else f"position on spatial axis {axis}"
        plural = "" if count == 1 else "s"
        parts.append(f"{count} {word}{plural}")
    return "the last " + " and ".join(parts)


class Analysis:
    """One checked model at one set of dims: what rules read, and the factory for their findings."""

    def __init__(self, result: Propagation, *, confirm: bool = True, memory_budget: int = 256 << 20) -> None:
        self.result = result
        self.graph: ModelGraph = result.graph
        self.confirm = confirm
        self.memory_budget = memory_budget
        self.position = {node.name: i for i, node in enumerate(self.graph.topological_order())}
        #: Per-analysis memo shared by rules (e.g. the repairs of a join, used by SC201 and SC401).
        self.cache: dict[str, Any] = {}
        #: (node, engine sizes, kernel sizes) where execution contradicted the engine: SC901.
        self.disagreements: list[tuple[str, Any, Any]] = []

    # -- findings -------------------------------------------------------------------------------
    def finding(
        self,
        code: str,
        node: str | None,
        message: str,
        *,
        related: Iterable[Related] = (),
        fixes: Iterable[Fix] = (),
        severity: Severity | None = None,
        data: dict[str, Any] | None = None,
    ) -> Finding:
        """A finding of rule ``code`` located at ``node`` (YAML line and column when there are some)."""
        from shapecheck.rules import get_rule

        declared = get_rule(code)
        model_node = self.graph.nodes.get(node) if node else None
        location = model_node.location if model_node else None
        return Finding(
            order=self.position.get(node, -1) if node else -1,
            code=code,
            name=declared.name,
            severity=severity or declared.severity,
            message=message,
            node=node,
            op=model_node.op if model_node else None,
            line=location.line if location else None,
            column=location.column if location else None,
            related=tuple(related),
            fixes=tuple(fixes),
            data=tuple(sorted((data or {}).items())),
        )

    def related(self, node: str, role: str, message: str) -> Related:
        return Related(node, self.graph.nodes[node].op, role, message)

    # -- facts ----------------------------------------------------------------------------------
    def facts(self, *kinds: FactKind) -> list[Fact]:
        return [f for f in self.result.facts if f.kind in kinds]

    def details(self, node: str) -> dict[str, Any]:
        return self.result.details.get(node, {})

    # -- branches -------------------------------------------------------------------------------
    def descendants(self, node: str) -> set[str]:
        """Every node downstream of ``node``."""
        return self.graph.downstream(node)

    def _upstream(self, tensor: str) -> set[str]:
        producer = self.graph.producer(tensor)
        if producer is None:
            return set()
        return self.graph.upstream(producer.name) | {producer.name}

    def branches(self, tensors: Iterable[str]) -> tuple[str | None, list[Branch]]:
        """The nearest common ancestor node of ``tensors`` and each tensor's branch from it.

        ``None`` as the ancestor means the branches only meet at graph inputs.
        """
        tensors = list(tensors)
        upstream = [self._upstream(t) for t in tensors]
        common = set.intersection(*upstream) if upstream else set()
        ancestor = max(common, key=lambda n: self.position[n]) if common else None
        below = self.descendants(ancestor) if ancestor else None
        result = []
        for tensor, nodes in zip(tensors, upstream):
            members = nodes if below is None else nodes & below
            ordered = sorted(members, key=lambda n: self.position[n])
            result.append(Branch(tensor, tuple(self.graph.nodes[n] for n in ordered)))
        return ancestor, result

    def floor_losses(self, branch: Branch, axis: int) -> list[tuple[Node, Any]]:
        """Downsamplers on ``branch`` whose floor dropped positions on spatial ``axis``, with the count."""
        losses = []
        for node in branch.nodes:
            if node.op not in DOWNSAMPLERS:
                continue
            remainder = self.details(node.name).get("remainder")
            # A join can also fail on the batch or channel axis (``axis`` < 0 here): no floor explains it.
            if remainder and 0 <= axis < len(remainder) and remainder[axis] not in (0, None):
                losses.append((node, remainder[axis]))
        return losses

    def upsamplers(self, branch: Branch) -> list[Node]:
        return [n for n in branch.nodes if n.op in UPSAMPLERS]
