"""Symbolic sizes: integer expressions over named dims (``H``, ``W``, ONNX ``dim_param``).

A dimension is an ``int``, an :class:`Expr`, or ``None`` when nothing is known. Expressions support the
operators :mod:`shapecheck.arith` uses (``+ - * // %`` with ints), so the one formula per operator also
computes closed forms such as ``2*floor((H - 1)/2) + 2`` without a second copy of the arithmetic.

The canonical form is a linear combination of *atoms* (a symbol, ``floor(e / c)``, or a product of
expressions) plus a constant; nested floors are merged (``⌊(⌊e/a⌋ + b)/c⌋ = ⌊(e + ab)/(ac)⌋``), so two
branches that compute the same size usually end in the same expression. Structural equality is
therefore *sound* (equal expressions are equal for every binding) but not complete; undecided
comparisons return ``None`` and are left to the size analysis, never merged away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

Dim = Union[int, "Expr", None]

__all__ = ["Dim", "Expr", "declared_shape", "dims_equal", "evaluate", "format_dim", "is_concrete", "symbol"]


@dataclass(frozen=True, slots=True)
class _Symbol:
    name: str

    def key(self) -> str:
        return self.name

    def value(self, bindings: Mapping[str, int]) -> int | None:
        return bindings.get(self.name)

    def render(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class _Floor:
    numerator: Expr
    divisor: int

    def key(self) -> str:
        return f"~floor({self.numerator.render()}/{self.divisor})"

    def value(self, bindings: Mapping[str, int]) -> int | None:
        inner = self.numerator.value(bindings)
        return None if inner is None else inner // self.divisor

    def render(self) -> str:
        inner = self.numerator.render()
        return f"floor({inner}/{self.divisor})" if self.numerator.is_atom() else f"floor(({inner})/{self.divisor})"


@dataclass(frozen=True, slots=True)
class _Product:
    factors: tuple[Expr, ...]

    def key(self) -> str:
        return "~prod(" + ",".join(f.render() for f in self.factors) + ")"

    def value(self, bindings: Mapping[str, int]) -> int | None:
        result = 1
        for factor in self.factors:
            part = factor.value(bindings)
            if part is None:
                return None
            result *= part
        return result

    def render(self) -> str:
        return "*".join(f.render() if f.is_atom() else f"({f.render()})" for f in self.factors)


_Atom = Union[_Symbol, _Floor, _Product]


@dataclass(frozen=True, slots=True)
class Expr:
    """``const + Σ coef·atom`` with atoms sorted by key; build with :func:`symbol` and operators."""

    const: int
    terms: tuple[tuple[_Atom, int], ...]

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def _make(const: int, coefs: dict[_Atom, int]) -> int | Expr:
        terms = tuple(sorted(((a, c) for a, c in coefs.items() if c), key=lambda item: item[0].key()))
        return Expr(const, terms) if terms else const

    def _coefs(self) -> dict[_Atom, int]:
        return dict(self.terms)

    def is_atom(self) -> bool:
        """A lone atom with coefficient 1 and no constant (renders without parentheses)."""
        return self.const == 0 and len(self.terms) == 1 and self.terms[0][1] == 1

    # -- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other: int | Expr) -> int | Expr:
        if isinstance(other, int):
            return Expr._make(self.const + other, self._coefs())
        if isinstance(other, Expr):
            coefs = self._coefs()
            for atom, coef in other.terms:
                coefs[atom] = coefs.get(atom, 0) + coef
            return Expr._make(self.const + other.const, coefs)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> int | Expr:
        return self * -1

    def __sub__(self, other: int | Expr) -> int | Expr:
        if isinstance(other, (int, Expr)):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: int) -> int | Expr:
        return (-self) + other

    def __mul__(self, other: int | Expr) -> int | Expr:
        if isinstance(other, int):
            return Expr._make(self.const * other, {a: c * other for a, c in self.terms})
        if isinstance(other, Expr):
            product = _Product(tuple(sorted((self, other), key=lambda e: e.render())))
            return Expr._make(0, {product: 1})
        return NotImplemented

    __rmul__ = __mul__

    def __floordiv__(self, divisor: int) -> int | Expr:
        if not isinstance(divisor, int):
            return NotImplemented
        if divisor <= 0:
            raise ZeroDivisionError("symbolic sizes are only divided by positive integers")
        if divisor == 1:
            return self
        # Terms whose coefficient the divisor divides leave the floor: ⌊(c·q·x + rest)/c⌋ = q·x + ⌊rest/c⌋.
        outside: dict[_Atom, int] = {}
        inside: dict[_Atom, int] = {}
        for atom, coef in self.terms:
            (outside if coef % divisor == 0 else inside)[atom] = coef
        quotient = Expr._make(0, {a: c // divisor for a, c in outside.items()})
        if not inside:
            return quotient + self.const // divisor
        rest = Expr(self.const, tuple((a, c) for a, c in self.terms if a in inside))
        # ⌊(⌊e/a⌋ + b)/c⌋ = ⌊(e + a·b)/(a·c)⌋: merge nested floors into one.
        if len(rest.terms) == 1 and rest.terms[0][1] == 1 and isinstance(rest.terms[0][0], _Floor):
            inner = rest.terms[0][0]
            merged = (inner.numerator + inner.divisor * rest.const) // (inner.divisor * divisor)
            return quotient + merged
        # Keep the constant inside the floor in [0, divisor): ⌊(e + c·q + r)/c⌋ = q + ⌊(e + r)/c⌋.
        whole = rest.const // divisor
        rest = Expr(rest.const - whole * divisor, rest.terms)
        return quotient + whole + Expr._make(0, {_Floor(rest, divisor): 1})

    def __mod__(self, divisor: int) -> int | Expr:
        if not isinstance(divisor, int):
            return NotImplemented
        return self - divisor * (self // divisor)

    # -- reading --------------------------------------------------------------------------------
    def value(self, bindings: Mapping[str, int]) -> int | None:
        """The integer value under ``bindings``, or ``None`` when a symbol is unbound."""
        total = self.const
        for atom, coef in self.terms:
            part = atom.value(bindings)
            if part is None:
                return None
            total += coef * part
        return total

    def symbols(self) -> frozenset[str]:
        """Names of the symbols this expression depends on."""
        names: set[str] = set()
        for atom, _ in self.terms:
            if isinstance(atom, _Symbol):
                names.add(atom.name)
            elif isinstance(atom, _Floor):
                names |= atom.numerator.symbols()
            else:
                for factor in atom.factors:
                    names |= factor.symbols()
        return frozenset(names)

    def render(self) -> str:
        """Readable, stable text: ``2*floor((H - 1)/2) + 2``."""
        parts: list[str] = []
        for atom, coef in self.terms:
            text = atom.render()
            magnitude = abs(coef)
            body = text if magnitude == 1 else f"{magnitude}*{text}"
            parts.append(("- " if coef < 0 else "+ ") + body)
        if self.const:
            parts.append(("- " if self.const < 0 else "+ ") + str(abs(self.const)))
        text = " ".join(parts)
        return text[2:] if text.startswith("+ ") else "-" + text[2:]

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Expr({self.render()!r})"


def symbol(name: str) -> Expr:
    """The expression consisting of one named dim."""
    return Expr(0, ((_Symbol(name), 1),))


def evaluate(dim: Dim, bindings: Mapping[str, int]) -> Dim:
    """Substitute bound symbols; an expression whose symbols are all bound becomes an int."""
    if isinstance(dim, Expr):
        value = dim.value(bindings)
        return dim if value is None else value
    return dim


def dims_equal(a: Dim, b: Dim) -> bool | None:
    """``True``/``False`` when decided for every binding, ``None`` when it depends or is unknown."""
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    difference = a - b
    if isinstance(difference, int):
        return difference == 0
    return None


def format_dim(dim: Dim) -> int | str | None:
    """JSON form of a dim: an int, a symbol or expression text, or ``None`` when unknown."""
    if isinstance(dim, Expr):
        return dim.render()
    return dim


def declared_shape(shape: tuple[int | str | None, ...]) -> tuple[Dim, ...]:
    """A declared shape of ints, symbol names and ``None`` as dims (what loaders produce)."""
    return tuple(symbol(d) if isinstance(d, str) else d for d in shape)


def is_concrete(shape: tuple[Dim, ...] | None) -> bool:
    """True when the shape is known and every dim is an int."""
    return shape is not None and all(isinstance(d, int) for d in shape)
