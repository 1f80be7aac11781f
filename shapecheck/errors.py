"""The two kinds of failure that are not findings.

A model problem (a join whose sizes differ) is a *finding* and leads to exit 1. These exceptions are for
input that could not be read at all (:class:`LoadError`) or parameters that make no sense
(:class:`SpecError`); the command line turns either into exit 2 and one line of text.
"""

from __future__ import annotations

#: Longest message kept whole. A longer one — a 5,000-character value echoed back, a cycle through
#: 300 nodes — keeps its start and its end, so the one line stays readable in a terminal or CI log.
MAX_MESSAGE = 1000


def _clip(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    keep = MAX_MESSAGE // 2 - 20
    return f"{message[:keep]} … [{len(message) - 2 * keep} characters] … {message[-keep:]}"


class ShapecheckError(Exception):
    """Base class of every error that shapecheck reports to the user as one line (exit 2)."""

    def __init__(self, message: str, *, path: str | None = None, where: str | None = None) -> None:
        message = _clip(message)
        super().__init__(message)
        self.message = message
        self.path = path
        self.where = where

    def __str__(self) -> str:
        place = ":".join(part for part in (self.path, self.where) if part)
        return f"{place}: {self.message}" if place else self.message


class LoadError(ShapecheckError):
    """The model file could not be read: not ONNX, bad YAML, unknown op, a cycle, a bad dim."""


class SpecError(ShapecheckError):
    """A parameter is outside its legal range (a zero stride, an illegal output_padding, ...)."""
