"""Facts: what propagation met on its way (a mismatch, something it could not check).

Propagation never raises on a model problem; it records a :class:`Fact` and goes on with the
best-defined shape. The rules layer turns facts into findings with codes, severities and fixes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fact", "FactKind"]


class FactKind(enum.Enum):
    """What kind of thing happened at a node."""

    JOIN_MISMATCH = "join-mismatch"  # Concat / Add / ... inputs disagree on a non-joined axis
    NON_POSITIVE = "non-positive"  # a kernel wider than its padded input, an empty tensor
    CHANNEL_MISMATCH = "channel-mismatch"  # weight vs input channels, groups, norm widths
    RANK_MISMATCH = "rank-mismatch"  # an input of the wrong rank, attribute lengths that don't fit
    BAD_ATTRIBUTE = "bad-attribute"  # an attribute value a runtime rejects (e.g. output_padding)
    EXPECT_MISMATCH = "expect-mismatch"  # a YAML ``expect:`` that does not hold
    UNSUPPORTED_OP = "unsupported-op"  # no shape rule for this op
    UNRESOLVED = "unresolved"  # a shape or value the engine could not determine
    NOT_CHECKED = "not-checked"  # subgraphs, external data: parts that were not looked at


@dataclass(frozen=True, slots=True)
class Fact:
    """One observation at one node; ``data`` holds the numbers (sizes, axes, tensors) as plain values."""

    kind: FactKind
    node: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
