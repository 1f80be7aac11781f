"""The model as a DAG: typed nodes over a ``networkx.DiGraph``, whatever file it came from.

Both loaders (ONNX and YAML) produce a :class:`ModelGraph`. Nodes carry ONNX operator names and
attributes as plain Python values (ints, tuples, strings, :class:`~shapecheck.arith.AutoPad`) — never
protobufs — so the op rules downstream are written once for both formats. Edges run producer →
consumer and carry the tensor names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shapecheck.errors import LoadError
from shapecheck.symbolic import Dim, Expr

if TYPE_CHECKING:  # networkx costs ~75 ms to import: only the rules that walk branches pay it
    import networkx as nx

__all__ = ["LoadNote", "ModelGraph", "Node", "SourceLocation", "TensorSpec"]


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """1-based line and column of a YAML layer (ONNX nodes have none)."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Node:
    """One operator. ``inputs`` may contain ``""`` for an omitted optional input, as in ONNX."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    domain: str = ""
    location: SourceLocation | None = None
    index: int = 0

    def attr(self, name: str, default: Any = None) -> Any:
        """An attribute's value, or ``default`` when the model does not set it."""
        return self.attrs.get(name, default)


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A tensor the model declares: a graph input, an initializer or a constant.

    ``value`` holds the contents of small integer tensors only (shape arithmetic: pads, sizes,
    scales); weights keep just their shape, so checking a model never reads its weights.
    """

    shape: tuple[Dim, ...] | None
    value: Any = None
    dtype: int | None = None


@dataclass(frozen=True, slots=True)
class LoadNote:
    """Something the loader could not (or chose not to) read, reported as a coverage note."""

    kind: str
    message: str
    node: str | None = None


class ModelGraph:
    """A loaded model: nodes in a DAG, declared tensors, and what the loader noticed.

    The constructor validates what every consumer relies on: unique node names, one producer per
    tensor, and no cycle (a cycle is a :class:`LoadError` naming its nodes).
    """

    def __init__(
        self,
        *,
        path: str,
        format: str,
        nodes: Iterable[Node],
        inputs: Mapping[str, TensorSpec],
        outputs: Iterable[str],
        constants: Mapping[str, TensorSpec] | None = None,
        value_info: Mapping[str, tuple[Dim, ...]] | None = None,
        dim_defaults: Mapping[str, int] | None = None,
        opset: int = 17,
        notes: Iterable[LoadNote] = (),
        fallback_shapes: Callable[[], Mapping[str, tuple[Dim, ...]]] | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.opset = opset
        self.inputs: dict[str, TensorSpec] = dict(inputs)
        self.constants: dict[str, TensorSpec] = dict(constants or {})
        self.outputs: list[str] = list(outputs)
        self.value_info: dict[str, tuple[Dim, ...]] = dict(value_info or {})
        self.dim_defaults: dict[str, int] = dict(dim_defaults or {})
        self.notes: list[LoadNote] = list(notes)
        self._fallback_shapes = fallback_shapes
        self._fallback_cache: Mapping[str, tuple[Dim, ...]] | None = None
        self.nodes: dict[str, Node] = {}
        self._producer: dict[str, str] = {}
        #: A tensor's consumers: one name (most tensors) or a list of names, so that a 100k-node graph
        #: does not hold 100k one-element lists.
        self._consumers: dict[str, str | list[str]] = {}
        for node in nodes:
            self._add(node)
        self._dag: nx.DiGraph | None = None
        self._order = self._topological_order()

    def _add(self, node: Node) -> None:
        if node.name in self.nodes:
            raise LoadError(f"two nodes are named {node.name!r}", path=self.path, where=_where(node))
        self.nodes[node.name] = node
        for tensor in node.outputs:
            if not tensor:
                continue
            other = self._producer.get(tensor)
            if other is not None:
                raise LoadError(
                    f"tensor {tensor!r} is produced by both {other!r} and {node.name!r}",
                    path=self.path,
                    where=_where(node),
                )
            self._producer[tensor] = node.name
        for tensor in node.inputs:
            if not tensor:
                continue
            others = self._consumers.get(tensor)
            if others is None:
                self._consumers[tensor] = node.name
            elif isinstance(others, str):
                self._consumers[tensor] = [others, node.name]
            else:
                others.append(node.name)

    @property
    def dag(self) -> nx.DiGraph:
        """The networkx DAG (producer → consumer, edge attribute ``tensors``), built on first use.

        Checking a model in file order needs no graph library; the rules that walk branches do, and
        a 100k-node model should not pay for it when only its shapes are asked for.
        """
        if self._dag is None:
            import networkx as nx

            dag = nx.DiGraph()
            dag.add_nodes_from(self.nodes)
            edges: dict[tuple[str, str], list[str]] = {}
            for node in self.nodes.values():
                for tensor in node.inputs:
                    source = self._producer.get(tensor)
                    if source is not None:
                        edges.setdefault((source, node.name), []).append(tensor)
            dag.add_edges_from((u, v, {"tensors": t}) for (u, v), t in edges.items())
            self._dag = dag
        return self._dag

    def _is_topological(self, ordered: list[Node]) -> bool:
        done: set[str] = set()
        producer = self._producer
        for node in ordered:
            for tensor in node.inputs:
                if tensor in producer and producer[tensor] not in done:
                    return False
            done.add(node.name)
        return True

    def _topological_order(self) -> list[Node]:
        """File order when it is already topological (ONNX requires it; YAML layers usually are),
        else networkx's lexicographic topological sort by file index; a cycle is a LoadError."""
        in_file_order = sorted(self.nodes.values(), key=lambda n: n.index)
        if self._is_topological(in_file_order):
            return in_file_order
        import networkx as nx

        try:
            names = list(nx.lexicographical_topological_sort(self.dag, key=lambda n: self.nodes[n].index))
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(self.dag)
            members = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
            raise LoadError(f"the graph has a cycle: {members}", path=self.path) from None
        return [self.nodes[name] for name in names]

    # -- questions the rest of shapecheck asks --------------------------------------------------
    def topological_order(self) -> list[Node]:
        """Nodes so that producers come first; ties keep file order (deterministic output)."""
        return self._order

    def producer(self, tensor: str) -> Node | None:
        """The node that writes ``tensor``, or ``None`` for graph inputs and constants."""
        name = self._producer.get(tensor)
        return None if name is None else self.nodes[name]

    def consumers(self, tensor: str) -> list[Node]:
        """Nodes that read ``tensor``, in file order."""
        return [self.nodes[name] for name in self._consumer_names(tensor)]

    def _consumer_names(self, tensor: str) -> Sequence[str]:
        names = self._consumers.get(tensor, ())
        return (names,) if isinstance(names, str) else names

    def downstream(self, name: str) -> set[str]:
        """Every node that reads, directly or not, what node ``name`` writes (a plain walk: no graph
        library needed on the hot path of ``check``)."""
        return self._reach(name, lambda node: [c for t in node.outputs for c in self._consumer_names(t)])

    def upstream(self, name: str) -> set[str]:
        """Every node whose output node ``name`` depends on."""
        return self._reach(name, lambda node: [self._producer[t] for t in node.inputs if t in self._producer])

    def _reach(self, start: str, neighbours: Callable[[Node], list[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(neighbours(self.nodes[start]))
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(neighbours(self.nodes[name]))
        return seen

    def is_constant(self, tensor: str) -> bool:
        return tensor in self.constants

    def data_inputs(self, node: Node) -> list[str]:
        """Inputs that are neither omitted nor constants (weights, shape tensors)."""
        return [t for t in node.inputs if t and t not in self.constants]

    def joins(self) -> list[Node]:
        """Nodes where two or more computed tensors meet (Concat, Add, ...), in topological order."""
        return [n for n in self._order if len(set(self.data_inputs(n))) >= 2]

    def symbols(self) -> list[str]:
        """Symbolic dims of the graph inputs, in order of first appearance."""
        seen: dict[str, None] = {}
        for spec in self.inputs.values():
            for dim in spec.shape or ():
                if isinstance(dim, Expr):
                    seen.update(dict.fromkeys(sorted(dim.symbols())))
        return list(seen)

    def fallback_shape(self, tensor: str) -> tuple[Dim, ...] | None:
        """A shape from the model itself (value_info, or ONNX shape inference run once, lazily)."""
        if tensor in self.value_info:
            return self.value_info[tensor]
        if self._fallback_shapes is None:
            return None
        if self._fallback_cache is None:
            self._fallback_cache = self._fallback_shapes()
        return self._fallback_cache.get(tensor)

    def __len__(self) -> int:
        return len(self.nodes)


def _where(node: Node) -> str:
    return str(node.location) if node.location else f"node {node.name!r}"
