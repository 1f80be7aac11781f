"""The op registry: one shape rule per ONNX operator, one module per op family.

Adding an op touches one place — its family module — which registers the rule with ``@op("Name")``.
The propagation driver only ever calls :func:`lookup`; it holds no op names of its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from shapecheck.graph import Node
from shapecheck.ops.base import Context, Tensor

OpRule = Callable[[Node, list[Tensor | None], Context], Sequence[Tensor]]

#: Family modules under ``shapecheck.ops``; each registers its rules when imported.
FAMILIES: tuple[str, ...] = ("conv", "pool", "elementwise", "yaml_only", "shape", "resize", "linear")

_REGISTRY: dict[str, OpRule] = {}
_loaded = False


def op(*names: str) -> Callable[[OpRule], OpRule]:
    """Register ``rule`` as the shape rule of each ONNX op in ``names``."""

    def register(rule: OpRule) -> OpRule:
        for name in names:
            if name in _REGISTRY:
                raise RuntimeError(f"two shape rules registered for {name}")
            _REGISTRY[name] = rule
        return rule

    return register


def _load_families() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for family in FAMILIES:
            importlib.import_module(f"shapecheck.ops.{family}")


def lookup(name: str) -> OpRule | None:
    """The rule for op ``name``, or ``None`` when shapecheck has none (a coverage note)."""
    _load_families()
    return _REGISTRY.get(name)


def supported_ops() -> list[str]:
    """Every op name with a rule, sorted."""
    _load_families()
    return sorted(_REGISTRY)
