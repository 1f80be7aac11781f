"""Findings are data: frozen, sortable records with a code, a severity, the node, related nodes and fixes.

Only the report layer turns them into text, JSON, SARIF or workflow commands. A finding's message says
what is wrong; each fix's title says what to do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding", "Fix", "Related", "Severity"]


class Severity(enum.Enum):
    """How bad a finding is; ``--fail-on`` compares with :attr:`rank`."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True, slots=True)
class Related:
    """Another node that explains a finding (the pool whose floor dropped a row, the upsampler…)."""

    node: str
    op: str
    role: str
    message: str


@dataclass(frozen=True, slots=True)
class Fix:
    """One way to make a finding go away, verified before it is shown.

    ``attribute`` and ``value`` say exactly what changes on ``node`` (ONNX attribute or YAML key);
    ``holds_for`` says for which input sizes it is right (a constant output_padding fixes one parity
    class); ``safe`` is False when the change alters the model beyond the sizes (e.g. cropping data);
    ``confirmed`` is True when the NumPy kernel, executing the affected branch, reproduced the sizes;
    ``note`` says why it was not executed when the memory or time budget stopped it, so that "not
    confirmed" on a huge model is not mistaken for "the kernel disagreed".
    """

    title: str
    node: str
    attribute: str | None
    value: Any
    holds_for: str
    safe: bool
    confirmed: bool
    kind: str = "attribute"
    note: str = ""


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One problem at one node. Ordered by topological position, then code, so output is deterministic."""

    order: int
    code: str
    name: str = field(compare=False)
    severity: Severity = field(compare=False)
    message: str = field(compare=False)
    node: str | None = field(compare=True)
    op: str | None = field(compare=False, default=None)
    line: int | None = field(compare=False, default=None)
    column: int | None = field(compare=False, default=None)
    related: tuple[Related, ...] = field(compare=False, default=())
    fixes: tuple[Fix, ...] = field(compare=False, default=())
    data: tuple[tuple[str, Any], ...] = field(compare=False, default=())
