"""Read a YAML model (format version 1) into a :class:`~shapecheck.graph.ModelGraph`.

The format is written for someone who knows PyTorch: layer parameters carry PyTorch's names
(``kernel_size``, ``stride``, ``padding``, ``out_channels``…) and defaults (a pool's stride is its kernel
size). Each layer is *translated* into an ONNX-equivalent :class:`~shapecheck.graph.Node`, so the same
shape rules serve ONNX and YAML models; the few PyTorch layers whose ONNX form needs constant input
tensors map to the YAML-only rules of :mod:`shapecheck.ops.yaml_only`.

What this loader promises:

* ``yaml.safe_load`` semantics (no Python tags), a file-size limit and a budget on the number of YAML
  nodes *after* alias expansion, so a "billion laughs" document is refused before it is expanded.
* Every error is a :class:`~shapecheck.errors.LoadError` whose ``where`` is the ``line:col`` of the
  offending YAML node and whose message starts with the field path (``layers[3].stride: …``).
* Attributes are normalised here, once: the rank of every tensor is known while reading (input ranks
  are declared, and every op's output rank follows from its inputs), so an int such as
  ``kernel_size: 3`` becomes one value per spatial axis and a list of the wrong length is a load error.
* Importing this module never imports ``onnx``.

``python -m shapecheck.load.yaml --doc [FILE]`` prints (or rewrites in FILE) the op reference of
``docs/yaml-format.md``; it is generated from the layer models below, so the docs cannot drift.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NoReturn

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from shapecheck.arith import effective_kernel
from shapecheck.errors import LoadError
from shapecheck.graph import ModelGraph, Node, SourceLocation, TensorSpec
from shapecheck.load._files import read_model_bytes
from shapecheck.symbolic import Dim, Expr, declared_shape, symbol

__all__ = ["FORMAT_VERSION", "LAYERS", "MAX_FILE_BYTES", "MAX_YAML_NODES", "load_yaml", "reference_markdown"]

#: The format version this loader reads (the required top-level ``shapecheck:`` key).
FORMAT_VERSION = 1
#: Largest YAML file read, in bytes; a model description is a few kilobytes.
MAX_FILE_BYTES = 10 << 20
#: Largest number of YAML nodes after alias expansion (a 10k-layer model stays far below it).
MAX_YAML_NODES = 100_000
#: ONNX semantics the translated graph follows (ceil-mode pooling as PyTorch and onnxruntime run it).
OPSET = 22

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ==== YAML with positions ===============================================================================


@dataclass
class _Marks:
    """Where a mapping or sequence and each of its entries start in the file."""

    start: yaml.Mark
    keys: dict[Any, yaml.Mark] = field(default_factory=dict)
    values: dict[Any, yaml.Mark] | list[yaml.Mark] = field(default_factory=dict)


class _Loader(yaml.SafeLoader):
    """``SafeLoader`` that records the marks of every container and refuses duplicate keys.

    Marks are kept in a side table keyed by the ``id`` of each constructed dict or list (the data stays
    plain Python, as pydantic wants it); the table lives as long as the data does.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.container_marks: dict[int, _Marks] = {}

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's safe constructors can fail with a plain Python error on a malformed tagged scalar
        (``!!timestamp 2001-12-143`` raises AttributeError); make that a YAML error at the node."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as error:
            value = node.value if isinstance(node, yaml.ScalarNode) else node.id
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {str(value)[:40]!r} as {node.tag} ({type(error).__name__})",
                node.start_mark) from None

    def construct_marked_map(self, node: yaml.MappingNode) -> Iterable[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        self._refuse_duplicate_keys(node)
        data.update(self.construct_mapping(node))  # merges ``<<`` keys into node.value first
        marks = _Marks(node.start_mark)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node)
            marks.keys[key] = key_node.start_mark
            marks.values[key] = value_node.start_mark  # type: ignore[index]
        self.container_marks[id(data)] = marks

    def construct_marked_seq(self, node: yaml.SequenceNode) -> Iterable[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))
        starts = [child.start_mark for child in node.value]
        self.container_marks[id(data)] = _Marks(node.start_mark, values=starts)

    def _refuse_duplicate_keys(self, node: yaml.MappingNode) -> None:
        """PyYAML keeps the last of two equal keys; a linter must not silently drop a parameter."""
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            if key in seen:
                first = seen[key]
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given at {first.line + 1}:{first.column + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_marked_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_marked_seq)
# YAML 1.1 reads ``1e-5`` (no dot) as a string; PyTorch users write eps that way, so read it as a float.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def _where(mark: yaml.Mark | None) -> str | None:
    return None if mark is None else f"{mark.line + 1}:{mark.column + 1}"


def _check_expansion(root: yaml.Node, path: str) -> None:
    """Refuse documents whose alias expansion exceeds :data:`MAX_YAML_NODES` nodes, or is infinite.

    The composed node graph shares aliased nodes, so this count is linear in the file size even when
    the expansion is exponential; nothing is expanded before the budget is known to hold.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise LoadError("the document refers to itself through an alias (a recursive structure)",
                            path=path, where=_where(node.start_mark))
        active.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_YAML_NODES:
                raise LoadError(f"the document expands to more than {MAX_YAML_NODES} YAML nodes through its "
                                "anchors and aliases; refusing it (a YAML alias bomb?)",
                                path=path, where=_where(node.start_mark))
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


def _read_yaml(path: str, max_bytes: int) -> tuple[Any, dict[int, _Marks]]:
    """The document as plain data and the marks of its containers; every failure is a LoadError."""
    try:
        text = read_model_bytes(path, max_bytes, "YAML").decode("utf-8")
    except UnicodeDecodeError as error:
        raise LoadError(f"the file is not UTF-8 text (byte {error.start})", path=path) from None
    try:
        loader = _Loader(text)  # the reader refuses control characters (NUL…) here, before parsing
    except yaml.reader.ReaderError as error:
        at = error.position
        where = f"{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"
        raise LoadError(f"YAML: character #x{error.character:04x} is not allowed in YAML text ({error.reason})",
                        path=path, where=where) from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise LoadError("the file is empty; a model starts with `shapecheck: 1`", path=path, where="1:1")
        _check_expansion(root, path)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or "invalid YAML"
        if error.context and error.problem_mark is not None:
            problem = f"{problem} ({error.context})"
        raise LoadError(f"YAML: {problem}", path=path, where=_where(mark)) from None
    except yaml.YAMLError as error:
        raise LoadError(f"YAML: {error}", path=path) from None
    except RecursionError:
        raise LoadError("the document is nested too deeply", path=path) from None
    except (ValueError, TypeError, OverflowError) as error:  # PyYAML's scanner: chr() of "\U0011ffff"
        raise LoadError(f"YAML: cannot read the text here ({type(error).__name__}: {error})", path=path,
                        where=_where(loader.get_mark())) from None
    finally:
        loader.dispose()
    return data, loader.container_marks


@dataclass
class _Source:
    """Maps a field path such as ``("layers", 3, "stride")`` back to a ``line:col`` in the file."""

    path: str
    root: Any
    marks: dict[int, _Marks]

    def position(self, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the deepest node on ``loc`` that exists (a key's own when ``key``)."""
        obj = self.root
        marks = self.marks.get(id(obj))
        mark = marks.start if marks else None
        for depth, part in enumerate(loc):
            marks = self.marks.get(id(obj))
            if marks is None:
                break
            last = depth == len(loc) - 1
            if isinstance(obj, dict) and isinstance(marks.values, dict) and part in obj:
                mark = marks.keys[part] if key and last else marks.values[part]
                obj = obj[part]
            elif isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj):
                mark = marks.values[part]  # type: ignore[index]
                obj = obj[part]
            else:
                break
        return (1, 1) if mark is None else (mark.line + 1, mark.column + 1)

    def where(self, loc: Sequence[str | int], *, key: bool = False) -> str:
        line, column = self.position(loc, key=key)
        return f"{line}:{column}"

    def error(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> LoadError:
        text = f"{_field_path(loc)}: {message}" if loc else message
        return LoadError(text, path=self.path, where=self.where(loc, key=key))


def _field_path(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int) or not _SYMBOL.fullmatch(str(part)):
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# ==== parameter kinds ===================================================================================
# Each kind is a plain validator with one clear message (pydantic's union errors list every branch) and a
# label that the generated docs print as the parameter's type.


@dataclass(frozen=True)
class _Label:
    """The type of a parameter as the docs print it."""

    text: str


def _reject(message: str) -> NoReturn:
    raise PydanticCustomError("shapecheck", "{message}", {"message": message})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _got(value: Any) -> str:
    return f"got {value!r}"


def _int_at_least(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            _reject(f"expected an integer >= {minimum}, {_got(value)}")
        return value

    return check


def _ints_at_least(minimum: int) -> Callable[[Any], int | tuple[int, ...]]:
    def check(value: Any) -> int | tuple[int, ...]:
        if _is_int(value) and value >= minimum:
            return value
        if isinstance(value, list) and value and all(_is_int(v) and v >= minimum for v in value):
            return tuple(value)
        _reject(f"expected an integer >= {minimum} or a non-empty list of them (one per spatial axis), "
                f"{_got(value)}")

    return check


def _pairs(value: Any, minimum: int | None) -> int | tuple[tuple[int, int], ...] | None:
    """``p`` or a list whose entries are ``p`` or ``[begin, end]``; ``None`` when malformed."""
    def ok(v: Any) -> bool:
        return _is_int(v) and (minimum is None or v >= minimum)

    if ok(value):
        return value
    if not isinstance(value, list) or not value:
        return None
    pairs: list[tuple[int, int]] = []
    for entry in value:
        if ok(entry):
            pairs.append((entry, entry))
        elif isinstance(entry, list) and len(entry) == 2 and all(ok(v) for v in entry):
            pairs.append((entry[0], entry[1]))
        else:
            return None
    return tuple(pairs)


def _amounts(value: Any) -> int | tuple[tuple[int, int], ...]:
    result = _pairs(value, 0)
    if result is None:
        _reject("expected an integer >= 0, or a list with one entry per spatial axis, each an integer >= 0 "
                f"or a [begin, end] pair, {_got(value)}")
    return result


def _conv_padding(value: Any) -> str | int | tuple[tuple[int, int], ...]:
    if value in ("same", "valid"):
        return value
    result = _pairs(value, 0)
    if result is None:
        _reject("expected 'same', 'valid', an integer >= 0, or a list with one entry per spatial axis, each "
                f"an integer >= 0 or a [begin, end] pair, {_got(value)}")
    return result


def _signed_amounts(value: Any) -> int | tuple[tuple[int, int], ...]:
    result = _pairs(value, None)
    if result is None:
        _reject("expected an integer, or a list with one entry per spatial axis, each an integer or a "
                f"[begin, end] pair (negative crops), {_got(value)}")
    return result


def _positive_number(value: Any) -> float | None:
    """A finite number > 0 as a float (PyTorch's scale_factor is a Python float); ``None`` otherwise."""
    if (_is_int(value) or isinstance(value, float)) and 0 < value < float("inf"):
        return float(value)
    return None


def _scales(value: Any) -> float | tuple[float, ...]:
    single = _positive_number(value)
    if single is not None:
        return single
    if isinstance(value, list) and value:
        each = [_positive_number(v) for v in value]
        if all(f is not None for f in each):
            return tuple(each)  # type: ignore[arg-type]
    _reject(f"expected a number > 0 or a non-empty list of them (one per spatial axis), {_got(value)}")


def _output_size(value: Any) -> int | tuple[int | None, ...]:
    if _is_int(value) and value >= 1:
        return value
    if isinstance(value, list) and value and all(v is None or (_is_int(v) and v >= 1) for v in value):
        return tuple(value)
    _reject("expected an integer >= 1 or a list with one entry per spatial axis, each an integer >= 1 or "
            f"null (keep the input size), {_got(value)}")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        _reject(f"a name is letters, digits, '_' and '-' (no dots or spaces), {_got(value)}")
    return value


def _input_dim(value: Any) -> int | str:
    if (_is_int(value) and value >= 1) or (isinstance(value, str) and _SYMBOL.fullmatch(value)):
        return value
    _reject(f"a dim is an integer >= 1 or a symbol name such as H, {_got(value)}")


def _input_shape(value: Any) -> tuple[int | str, ...]:
    if not isinstance(value, list) or not value:
        _reject(f"an input shape is a non-empty list such as [1, 3, H, W], {_got(value)}")
    return tuple(_input_dim(v) for v in value)


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
}


def _dim_expression(text: str) -> Dim:
    """``H``, ``H//2``, ``2*H + 1``: ints, symbols, ``+ - * //`` and parentheses, as a symbolic dim."""

    def build(node: ast.AST) -> Dim:
        if isinstance(node, ast.Constant) and _is_int(node.value):
            return node.value
        if isinstance(node, ast.Name):
            return symbol(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -build(node.operand)  # type: ignore[operator]
        if isinstance(node, ast.BinOp):
            left, right = build(node.left), build(node.right)
            if isinstance(node.op, ast.FloorDiv):
                if not _is_int(right) or right < 1:  # type: ignore[operator]
                    raise ValueError("// needs a positive integer on its right")
                return left // right  # type: ignore[operator]
            operation = _BINARY.get(type(node.op))
            if operation is not None:
                return operation(left, right)
        raise ValueError("only integers, symbols, + - * // and parentheses are allowed")

    try:
        return build(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError) as error:
        _reject(f"cannot read the dim {text!r}: {error.msg if isinstance(error, SyntaxError) else error}")
    except RecursionError:
        _reject(f"cannot read the dim {text[:40]!r}…: nested too deeply")


def _expect_shape(value: Any) -> tuple[Dim, ...]:
    if not isinstance(value, list):
        _reject(f"expect is a list of dims such as [1, 16, H//2, W//2], {_got(value)}")
    shape: list[Dim] = []
    for entry in value:
        if entry is None or (_is_int(entry) and entry >= 0):
            shape.append(entry)
        elif isinstance(entry, str):
            shape.append(_dim_expression(entry))
        else:
            _reject(f"an expected dim is an integer >= 0, a symbol or expression such as H//2, or null (any "
                    f"size), {_got(entry)}")
    return tuple(shape)


def _reshape_target(value: Any) -> tuple[Dim, ...]:
    if not isinstance(value, list) or not value:
        _reject(f"shape is a non-empty list such as [1, -1], {_got(value)}")
    shape: list[Dim] = []
    for entry in value:
        if _is_int(entry) and (entry >= 1 or entry == -1):
            shape.append(entry)
        elif isinstance(entry, str):
            shape.append(_dim_expression(entry))
        else:
            _reject(f"a target dim is an integer >= 1, -1 (inferred) or a symbol expression, {_got(entry)}")
    if shape.count(-1) > 1:
        _reject("only one dim can be -1")
    return tuple(shape)


def _number(minimum: float, *, inclusive: bool, maximum: float | None = None) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        low_ok = _is_int(value) or isinstance(value, float)
        if low_ok:
            low_ok = value >= minimum if inclusive else value > minimum
        if not low_ok or (maximum is not None and value > maximum):
            bound = f"{'>=' if inclusive else '>'} {minimum}"
            if maximum is not None:
                bound += f" and <= {maximum}"
            _reject(f"expected a number {bound}, {_got(value)}")
        return float(value)

    return check


def _kind(validator: Callable[[Any], Any], label: str) -> Any:
    return Annotated[Any, PlainValidator(validator), _Label(label)]


_PER_AXIS = "one per spatial axis"
PositiveInt = _kind(_int_at_least(1), "int ≥ 1")
AnyInt = _kind(lambda v: v if _is_int(v) else _reject(f"expected an integer, {_got(v)}"), "int")
PositiveInts = _kind(_ints_at_least(1), f"int ≥ 1, or a list ({_PER_AXIS})")
PositiveIntList = _kind(_ints_at_least(1), "int ≥ 1, or a list of them")
NonNegativeInts = _kind(_ints_at_least(0), f"int ≥ 0, or a list ({_PER_AXIS})")
Amounts = _kind(_amounts, f"int ≥ 0, or a list ({_PER_AXIS}) of ints or `[begin, end]` pairs")
ConvPadding = _kind(_conv_padding, f"`same`, `valid`, int ≥ 0, or a list ({_PER_AXIS}) of ints or "
                    "`[begin, end]` pairs")
SignedAmounts = _kind(_signed_amounts, f"int, or a list ({_PER_AXIS}) of ints or `[begin, end]` pairs; "
                      "negative crops")
Scales = _kind(_scales, f"number > 0, or a list ({_PER_AXIS})")
OutputSize = _kind(_output_size, f"int ≥ 1, or a list ({_PER_AXIS}) of ints ≥ 1 or `null` (keep)")
Name = _kind(_name, "name")
ExpectShape = _kind(_expect_shape, "list of int, symbol, expression (`H//2`) or `null`")
ReshapeTarget = _kind(_reshape_target, "list of int ≥ 1, `-1` or symbol expression")
InputShape = _kind(_input_shape, "list of int ≥ 1 or symbol")
Eps = _kind(_number(0.0, inclusive=False), "number > 0")
Fraction01 = _kind(_number(0.0, inclusive=True, maximum=1.0), "number in [0, 1]")
AnyNumber = _kind(_number(float("-inf"), inclusive=True), "number")


def _version(value: Any) -> int:
    if value != FORMAT_VERSION or not _is_int(value):
        _reject(f"this shapecheck reads format version {FORMAT_VERSION}, the file says {value!r}")
    return value


# ==== translation context ================================================================================


@dataclass(frozen=True)
class _Translation:
    """A layer as an ONNX-equivalent node: op, attributes, output rank, and shape-only constant inputs."""

    op: str
    attrs: dict[str, Any]
    rank: int
    constants: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class _Site:
    """One layer while it is translated: its inputs, their ranks, and where to point errors."""

    source: _Source
    index: int
    name: str
    op: str
    inputs: tuple[str, ...]
    ranks: tuple[int, ...]
    input_field: str | None  # the key that named the inputs, ``None`` when implied (previous layer)

    @property
    def rank(self) -> int:
        return self.ranks[0]

    def error(self, key: str | None, message: str) -> NoReturn:
        loc: tuple[str | int, ...] = ("layers", self.index) + ((key,) if key else ())
        raise self.source.error(loc, f"{message} (layer {self.name!r})")

    def describe_input(self) -> str:
        return f"input {self.inputs[0]!r} has rank {self.rank}"

    def spatial(self, minimum_rank: int = 3) -> int:
        """The number of spatial axes; a layer that needs ``(N, C, *spatial)`` refuses a lower rank."""
        if self.rank < minimum_rank:
            self.error(self.input_field, f"{self.op} needs an input of rank >= {minimum_rank} "
                       f"(N, C, spatial…), but {self.describe_input()}")
        return self.rank - 2

    def per_axis(self, key: str, value: int | Sequence[Any], count: int) -> tuple[Any, ...]:
        """An int for every axis, or a list whose length must equal the number of spatial axes."""
        if not isinstance(value, (tuple, list)):
            return (value,) * count
        if len(value) != count:
            self.error(key, f"{key} has {len(value)} values but input {self.inputs[0]!r} (rank {self.rank}) "
                       f"has {count} spatial ax{'is' if count == 1 else 'es'}")
        return tuple(value)

    def flat_pads(self, key: str, value: int | tuple[tuple[int, int], ...], count: int) -> tuple[int, ...]:
        """ONNX's flat ``[b1, b2, …, e1, e2, …]`` from an int or per-axis ``(begin, end)`` pairs."""
        pairs = ((value, value),) * count if isinstance(value, int) else self.per_axis(key, value, count)
        return tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs)

    def axis(self, key: str, value: int, rank: int) -> int:
        if not -rank <= value < rank:
            self.error(key, f"{key} {value} is outside [-{rank}, {rank}) for {self.describe_input()}")
        return value % rank


# ==== layers ===========================================================================================


class _Layer(BaseModel):
    """Keys every layer has."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: YAML op name -> the op of the translated node, as the docs print it.
    OPS: ClassVar[dict[str, str]] = {}
    #: Keys documented once for all layers rather than in each op's table.
    COMMON: ClassVar[tuple[str, ...]] = ("op", "name", "input", "inputs", "expect")

    op: str = Field(description="the layer type (see below)")
    name: Name = Field(description="unique name of the layer and of its output tensor")
    expect: ExpectShape | None = Field(None, description="the output shape you expect; a difference is "
                                       "reported as an expect-mismatch finding")

    def sources(self) -> tuple[str, tuple[str, ...] | None]:
        """The key naming the inputs and their names (``None``: the previous layer's output)."""
        return "input", None

    def translate(self, site: _Site) -> _Translation:
        raise NotImplementedError


class _OneInput(_Layer):
    input: Name | None = Field(None, description="the input tensor; default: the previous layer's output")

    def sources(self) -> tuple[str, tuple[str, ...] | None]:
        return "input", None if self.input is None else (self.input,)


class _Join(_Layer):
    inputs: list[Name] = Field(min_length=2, description="the input tensors (two or more)")

    def sources(self) -> tuple[str, tuple[str, ...] | None]:
        return "inputs", tuple(self.inputs)


# -- convolution -------------------------------------------------------------------------------------------


def _check_groups(site: _Site, groups: int, **channels: int | None) -> None:
    for key, count in channels.items():
        if count is not None and count % groups:
            site.error("groups", f"{key} {count} is not divisible by groups {groups} (PyTorch refuses "
                       "to build this layer)")


class Conv(_OneInput):
    """``nn.Conv1d/2d/3d`` — the dimensionality follows from the input's rank.

    `padding: same` pads `dilation·(kernel_size−1)` in total, the odd one at the end, as PyTorch does;
    like PyTorch it needs `stride: 1`. `[begin, end]` pairs give asymmetric padding (ONNX `pads`).
    """

    OPS: ClassVar[dict[str, str]] = {"conv": "Conv"}
    in_channels: PositiveInt | None = Field(None, description="checked against the input's channels")
    out_channels: PositiveInt = Field(description="output channels")
    kernel_size: PositiveInts = Field(description="kernel size")
    stride: PositiveInts = Field(1, description="stride")
    padding: ConvPadding = Field(0, description="zero padding on both sides of each spatial axis")
    dilation: PositiveInts = Field(1, description="spacing between kernel taps")
    groups: PositiveInt = Field(1, description="channel groups; must divide in and out channels")
    bias: bool = Field(True, description="no effect on shapes")
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = Field(
        "zeros", description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        count = site.spatial()
        kernel = site.per_axis("kernel_size", self.kernel_size, count)
        strides = site.per_axis("stride", self.stride, count)
        dilations = site.per_axis("dilation", self.dilation, count)
        if self.padding == "same":
            if any(s != 1 for s in strides):
                site.error("padding", "padding 'same' needs stride 1 (PyTorch refuses it otherwise)")
            totals = [effective_kernel(k, d) - 1 for k, d in zip(kernel, dilations)]
            pads = tuple(t // 2 for t in totals) + tuple(t - t // 2 for t in totals)
        elif self.padding == "valid":
            pads = (0,) * (2 * count)
        else:
            pads = site.flat_pads("padding", self.padding, count)
        _check_groups(site, self.groups, in_channels=self.in_channels, out_channels=self.out_channels)
        attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": strides, "pads": pads}
        attrs.update(dilations=dilations, group=self.groups, out_channels=self.out_channels)
        if self.in_channels is not None:
            attrs["in_channels"] = self.in_channels
        if self.padding_mode != "zeros":
            attrs["padding_mode"] = self.padding_mode
        return _Translation("Conv", attrs, site.rank)


class ConvTranspose(_OneInput):
    """``nn.ConvTranspose1d/2d/3d``: `stride·(n−1) + dilation·(kernel_size−1) + 1 − pads + output_padding`.

    `padding` removes that many positions from each side; `[begin, end]` pairs (an ONNX extension of
    PyTorch's symmetric padding) remove different amounts. An `output_padding` that is not smaller than
    `max(stride, dilation)` is reported as a finding, since PyTorch and onnxruntime reject it at run time.
    """

    OPS: ClassVar[dict[str, str]] = {"conv_transpose": "ConvTranspose"}
    in_channels: PositiveInt | None = Field(None, description="the input's channels (recorded; see *Checks*)")
    out_channels: PositiveInt = Field(description="output channels")
    kernel_size: PositiveInts = Field(description="kernel size")
    stride: PositiveInts = Field(1, description="stride (the upsampling factor)")
    padding: Amounts = Field(0, description="positions removed from both sides of each spatial axis")
    output_padding: NonNegativeInts = Field(0, description="positions added at the end of each spatial axis")
    dilation: PositiveInts = Field(1, description="spacing between kernel taps")
    groups: PositiveInt = Field(1, description="channel groups; must divide in and out channels")
    bias: bool = Field(True, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        count = site.spatial()
        _check_groups(site, self.groups, in_channels=self.in_channels, out_channels=self.out_channels)
        attrs: dict[str, Any] = {
            "kernel_shape": site.per_axis("kernel_size", self.kernel_size, count),
            "strides": site.per_axis("stride", self.stride, count),
            "pads": site.flat_pads("padding", self.padding, count),
            "dilations": site.per_axis("dilation", self.dilation, count),
            "output_padding": site.per_axis("output_padding", self.output_padding, count),
            "group": self.groups,
            "out_channels": self.out_channels,
        }
        if self.in_channels is not None:
            attrs["in_channels"] = self.in_channels
        return _Translation("ConvTranspose", attrs, site.rank)


# -- pooling -----------------------------------------------------------------------------------------------


class _Window(_OneInput):
    """Keys shared by the windowed pools; the stride defaults to the kernel size, as in PyTorch."""

    kernel_size: PositiveInts = Field(description="window size")
    stride: PositiveInts | None = Field(None, description="stride; default: kernel_size (ONNX's is 1)")
    padding: Amounts = Field(0, description="implicit padding on both sides of each spatial axis")
    ceil_mode: bool = Field(False, description="round the output size up instead of down")

    def _window(self, site: _Site) -> dict[str, Any]:
        count = site.spatial()
        kernel = site.per_axis("kernel_size", self.kernel_size, count)
        strides = kernel if self.stride is None else site.per_axis("stride", self.stride, count)
        pads = site.flat_pads("padding", self.padding, count)
        return {"kernel_shape": kernel, "strides": strides, "pads": pads, "ceil_mode": int(self.ceil_mode)}


class MaxPool(_Window):
    """``nn.MaxPool1d/2d/3d``.

    With `ceil_mode: true` a last window that would start inside the end padding is dropped, as PyTorch
    and onnxruntime do. Padding must be smaller than the kernel (a finding otherwise).
    """

    OPS: ClassVar[dict[str, str]] = {"maxpool": "MaxPool"}
    dilation: PositiveInts = Field(1, description="spacing between window taps")

    def translate(self, site: _Site) -> _Translation:
        attrs = self._window(site)
        attrs["dilations"] = site.per_axis("dilation", self.dilation, len(attrs["kernel_shape"]))
        return _Translation("MaxPool", attrs, site.rank)


class AvgPool(_Window):
    """``nn.AvgPool1d/2d/3d``; padded zeros count in the average by default, as in PyTorch."""

    OPS: ClassVar[dict[str, str]] = {"avgpool": "AveragePool"}
    count_include_pad: bool = Field(True, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        attrs = self._window(site)
        attrs["count_include_pad"] = int(self.count_include_pad)
        return _Translation("AveragePool", attrs, site.rank)


class AdaptivePool(_OneInput):
    """``nn.AdaptiveAvgPool1d/2d/3d`` / ``nn.AdaptiveMaxPool…``: every spatial axis becomes `output_size`.

    An output size of 1 on every axis translates to ONNX's `GlobalAveragePool` / `GlobalMaxPool`.
    """

    OPS: ClassVar[dict[str, str]] = {"adaptive_avgpool": "AdaptiveAvgPool",
                                     "adaptive_maxpool": "AdaptiveMaxPool"}
    #: The ONNX op that an output size of 1 everywhere is.
    GLOBAL: ClassVar[dict[str, str]] = {"adaptive_avgpool": "GlobalAveragePool",
                                        "adaptive_maxpool": "GlobalMaxPool"}
    output_size: OutputSize = Field(description="output size; `null` keeps that axis")

    def translate(self, site: _Site) -> _Translation:
        sizes = site.per_axis("output_size", self.output_size, site.spatial())
        if all(size == 1 for size in sizes):
            return _Translation(self.GLOBAL[self.op], {}, site.rank)
        return _Translation(self.OPS[self.op], {"output_size": sizes}, site.rank)


class GlobalPool(_OneInput):
    """Pooling over all spatial positions (``nn.AdaptiveAvgPool2d(1)``): every spatial axis becomes 1."""

    OPS: ClassVar[dict[str, str]] = {"global_avgpool": "GlobalAveragePool", "global_maxpool": "GlobalMaxPool"}

    def translate(self, site: _Site) -> _Translation:
        site.spatial()
        return _Translation(self.OPS[self.op], {}, site.rank)


# -- resampling, padding, cropping -------------------------------------------------------------------------

_INTERPOLATION_RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


class Upsample(_OneInput):
    """``nn.Upsample``: give exactly one of `scale_factor` (output `⌊n·scale⌋`) and `size`.

    `⌊n·scale⌋` is computed as PyTorch computes it, in double precision (`scale_factor: 0.57` turns 100
    into 56). With a symbolic size the closed form `⌊n·p/q⌋` is used when the scale is exactly `p/q` in
    binary (2, 0.5, 1.5, 0.25, …); other scales leave a symbolic size unknown rather than guess. As in
    PyTorch, `linear` needs a 3-D input, `bilinear`/`bicubic` 4-D and `trilinear` 5-D.
    """

    OPS: ClassVar[dict[str, str]] = {"upsample": "YamlUpsample"}
    scale_factor: Scales | None = Field(None, description="multiplier per spatial axis")
    size: PositiveInts | None = Field(None, description="output size per spatial axis")
    mode: Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"] = Field(
        "nearest", description="interpolation; no effect on shapes beyond the rank it needs")
    align_corners: bool | None = Field(None, description="only with the interpolating modes; no effect on "
                                       "shapes")

    def translate(self, site: _Site) -> _Translation:
        if not 3 <= site.rank <= 5:
            site.error(site.input_field, f"upsample needs an input of rank 3, 4 or 5 (as PyTorch), but "
                       f"{site.describe_input()}")
        needed = _INTERPOLATION_RANKS.get(self.mode)
        if needed is not None and site.rank != needed:
            site.error("mode", f"mode {self.mode!r} needs an input of rank {needed}, but "
                       f"{site.describe_input()}")
        if self.align_corners is not None and self.mode in ("nearest", "nearest-exact"):
            site.error("align_corners", "align_corners can only be set with the interpolating modes "
                       "(PyTorch)")
        if (self.scale_factor is None) == (self.size is None):
            site.error(None, "upsample needs exactly one of scale_factor and size")
        count = site.rank - 2
        attrs: dict[str, Any] = {"mode": self.mode}
        if self.size is not None:
            attrs["sizes"] = site.per_axis("size", self.size, count)
        else:
            attrs["scales"] = site.per_axis("scale_factor", self.scale_factor, count)  # type: ignore[arg-type]
        return _Translation("YamlUpsample", attrs, site.rank)


class Pad(_OneInput):
    """Padding of the spatial axes (``nn.ZeroPad2d``, ``nn.ReflectionPad2d``, ``F.pad``).

    Unlike `F.pad`, whose list runs from the *last* axis backwards, `padding` lists the spatial axes in
    order (H before W), like a conv's `padding`. Negative amounts crop.
    """

    OPS: ClassVar[dict[str, str]] = {"pad": "YamlPad"}
    padding: SignedAmounts = Field(description="amount added before and after each spatial axis")
    mode: Literal["constant", "reflect", "replicate", "circular"] = Field(
        "constant", description="reflect needs padding < size, circular padding ≤ size")
    value: AnyNumber = Field(0.0, description="fill value; no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        pads = site.flat_pads("padding", self.padding, site.spatial())
        return _Translation("YamlPad", {"pads": pads, "mode": self.mode}, site.rank)


class Crop(_OneInput):
    """A centre crop of the spatial axes to `size` (torchvision's ``CenterCrop``), e.g. a U-Net skip."""

    OPS: ClassVar[dict[str, str]] = {"crop": "YamlCrop"}
    size: PositiveInts = Field(description="output size per spatial axis")

    def translate(self, site: _Site) -> _Translation:
        sizes = site.per_axis("size", self.size, site.spatial())
        return _Translation("YamlCrop", {"sizes": sizes}, site.rank)


class PixelShuffle(_OneInput):
    """``nn.PixelShuffle``: `(*, C·r², H, W) → (*, C, H·r, W·r)` on the last three axes, as in PyTorch."""

    OPS: ClassVar[dict[str, str]] = {"pixel_shuffle": "PixelShuffle"}
    upscale_factor: PositiveInt = Field(description="r")

    def translate(self, site: _Site) -> _Translation:
        site.spatial()
        return _Translation("PixelShuffle", {"upscale_factor": self.upscale_factor}, site.rank)


class PixelUnshuffle(_OneInput):
    """``nn.PixelUnshuffle``: `(*, C, H·r, W·r) → (*, C·r², H, W)` on the last three axes."""

    OPS: ClassVar[dict[str, str]] = {"pixel_unshuffle": "PixelUnshuffle"}
    downscale_factor: PositiveInt = Field(description="r; must divide H and W")

    def translate(self, site: _Site) -> _Translation:
        site.spatial()
        return _Translation("PixelUnshuffle", {"downscale_factor": self.downscale_factor}, site.rank)


# -- joins -----------------------------------------------------------------------------------------------


class Concat(_Join):
    """``torch.cat(inputs, dim=axis)``: every other axis must agree — the classic U-Net skip mismatch."""

    OPS: ClassVar[dict[str, str]] = {"concat": "Concat"}
    axis: AnyInt = Field(1, description="the axis joined (negative counts from the end)")

    def translate(self, site: _Site) -> _Translation:
        for name, rank in zip(site.inputs[1:], site.ranks[1:]):
            if rank != site.rank:
                site.error("inputs", f"cannot concatenate {site.inputs[0]!r} (rank {site.rank}) with "
                           f"{name!r} (rank {rank})")
        return _Translation("Concat", {"axis": site.axis("axis", self.axis, site.rank)}, site.rank)


class Elementwise(_Join):
    """``a + b`` / ``a * b`` with NumPy broadcasting (a residual connection, an attention gate)."""

    OPS: ClassVar[dict[str, str]] = {"add": "Add", "mul": "Mul"}

    def translate(self, site: _Site) -> _Translation:
        return _Translation(self.OPS[self.op], {}, max(site.ranks))


# -- shape-preserving layers -----------------------------------------------------------------------------


class Activation(_OneInput):
    """Activations that keep the shape. `silu` has no single ONNX op: it becomes `Identity` with attribute
    `torch_op: silu` (shape-wise the same)."""

    OPS: ClassVar[dict[str, str]] = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh",
                                     "silu": "Identity", "identity": "Identity"}
    inplace: bool = Field(False, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        return _Translation(self.OPS[self.op], {"torch_op": "silu"} if self.op == "silu" else {}, site.rank)


class LeakyRelu(_OneInput):
    """``nn.LeakyReLU``."""

    OPS: ClassVar[dict[str, str]] = {"leaky_relu": "LeakyRelu"}
    negative_slope: AnyNumber = Field(0.01, description="slope for negative inputs (ONNX `alpha`)")
    inplace: bool = Field(False, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        return _Translation("LeakyRelu", {"alpha": self.negative_slope}, site.rank)


class Gelu(_OneInput):
    """``nn.GELU``."""

    OPS: ClassVar[dict[str, str]] = {"gelu": "Gelu"}
    approximate: Literal["none", "tanh"] = Field("none", description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        return _Translation("Gelu", {"approximate": self.approximate}, site.rank)


class Dropout(_OneInput):
    """``nn.Dropout`` (any rank)."""

    OPS: ClassVar[dict[str, str]] = {"dropout": "Dropout"}
    p: Fraction01 = Field(0.5, description="drop probability (ONNX `ratio`)")
    inplace: bool = Field(False, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        return _Translation("Dropout", {"ratio": self.p}, site.rank)


class BatchNorm(_OneInput):
    """``nn.BatchNorm1d/2d/3d`` / ``nn.InstanceNorm1d/2d/3d``.

    `num_features` becomes the shape of the ONNX scale input (a shape-only constant named
    `<layer>.weight`), so a width that differs from the input's channels is reported.
    """

    OPS: ClassVar[dict[str, str]] = {"batchnorm": "BatchNormalization",
                                     "instancenorm": "InstanceNormalization"}
    num_features: PositiveInt | None = Field(None, description="checked against the input's channels")
    eps: Eps = Field(1e-5, description="ONNX `epsilon`")
    momentum: Fraction01 | None = Field(0.1, description="no effect on shapes")
    affine: bool | None = Field(None, description="no effect on shapes (PyTorch's default applies)")
    track_running_stats: bool | None = Field(None, description="no effect on shapes (PyTorch's default "
                                             "applies)")

    def translate(self, site: _Site) -> _Translation:
        site.spatial(minimum_rank=2)
        constants = {} if self.num_features is None else {f"{site.name}.weight": (self.num_features,)}
        return _Translation(self.OPS[self.op], {"epsilon": self.eps}, site.rank, constants)


class GroupNorm(_OneInput):
    """``nn.GroupNorm``: `num_groups` must divide the input's channels."""

    OPS: ClassVar[dict[str, str]] = {"groupnorm": "GroupNormalization"}
    num_groups: PositiveInt = Field(description="groups the channels are split into")
    num_channels: PositiveInt | None = Field(None, description="the input's channels (recorded as the ONNX "
                                             "scale input; see *Checks*)")
    eps: Eps = Field(1e-5, description="ONNX `epsilon`")
    affine: bool = Field(True, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        site.spatial(minimum_rank=2)
        if self.num_channels is not None and self.num_channels % self.num_groups:
            site.error("num_groups", f"num_channels {self.num_channels} is not divisible by num_groups "
                       f"{self.num_groups} (PyTorch refuses to build this layer)")
        constants = {} if self.num_channels is None else {f"{site.name}.weight": (self.num_channels,)}
        attrs = {"num_groups": self.num_groups, "epsilon": self.eps}
        return _Translation("GroupNormalization", attrs, site.rank, constants)


class LayerNorm(_OneInput):
    """``nn.LayerNorm``: normalises the last `len(normalized_shape)` axes (ONNX `axis` = −that)."""

    OPS: ClassVar[dict[str, str]] = {"layernorm": "LayerNormalization"}
    normalized_shape: PositiveIntList = Field(description="the sizes of the last axes (recorded as the ONNX "
                                              "scale input; see *Checks*)")
    eps: Eps = Field(1e-5, description="ONNX `epsilon`")
    elementwise_affine: bool = Field(True, description="no effect on shapes")
    bias: bool = Field(True, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        shape = self.normalized_shape
        shape = shape if isinstance(shape, tuple) else (shape,)
        if len(shape) > site.rank:
            site.error("normalized_shape", f"normalized_shape has {len(shape)} axes but "
                       f"{site.describe_input()}")
        return _Translation("LayerNormalization", {"axis": -len(shape), "epsilon": self.eps}, site.rank,
                            {f"{site.name}.weight": shape})


# -- rank-changing layers --------------------------------------------------------------------------------


class Flatten(_OneInput):
    """``nn.Flatten``: axes `start_dim … end_dim` become one (default: everything after the batch axis)."""

    OPS: ClassVar[dict[str, str]] = {"flatten": "YamlFlatten"}
    start_dim: AnyInt = Field(1, description="first axis flattened")
    end_dim: AnyInt = Field(-1, description="last axis flattened")

    def translate(self, site: _Site) -> _Translation:
        start = site.axis("start_dim", self.start_dim, site.rank)
        end = site.axis("end_dim", self.end_dim, site.rank)
        if start > end:
            site.error("end_dim", f"end_dim {self.end_dim} comes before start_dim {self.start_dim}")
        return _Translation("YamlFlatten", {"start_dim": start, "end_dim": end}, site.rank - (end - start))


class Linear(_OneInput):
    """``nn.Linear``: the last axis becomes `out_features`."""

    OPS: ClassVar[dict[str, str]] = {"linear": "YamlLinear"}
    in_features: PositiveInt | None = Field(None, description="checked against the input's last axis")
    out_features: PositiveInt = Field(description="size of the output's last axis")
    bias: bool = Field(True, description="no effect on shapes")

    def translate(self, site: _Site) -> _Translation:
        attrs: dict[str, Any] = {"out_features": self.out_features}
        if self.in_features is not None:
            attrs["in_features"] = self.in_features
        return _Translation("YamlLinear", attrs, site.rank)


class Reshape(_OneInput):
    """``x.reshape(shape)``: one entry may be `-1` (inferred); entries may use the input symbols (`H*W`)."""

    OPS: ClassVar[dict[str, str]] = {"reshape": "YamlReshape"}
    shape: ReshapeTarget = Field(description="the new shape")

    def translate(self, site: _Site) -> _Translation:
        return _Translation("YamlReshape", {"shape": self.shape}, len(self.shape))


_LAYER_CLASSES: tuple[type[_Layer], ...] = (
    Conv, ConvTranspose, MaxPool, AvgPool, AdaptivePool, GlobalPool, Upsample, Pad, Crop, Concat,
    Elementwise, Activation, LeakyRelu, Gelu, Dropout, BatchNorm, GroupNorm, LayerNorm, PixelShuffle,
    PixelUnshuffle, Flatten, Linear, Reshape,
)
#: Every YAML op and the model that validates it.
LAYERS: dict[str, type[_Layer]] = {op: cls for cls in _LAYER_CLASSES for op in cls.OPS}


# ==== the document ================================================================================


class _Document(BaseModel):
    """The top level of a YAML model."""

    model_config = ConfigDict(extra="forbid", strict=True)

    shapecheck: _kind(_version, "int") = Field(description=f"format version; must be {FORMAT_VERSION}")
    name: str | None = Field(None, description="the model's name (reports show it)")
    description: str | None = Field(None, description="free text")
    inputs: dict[str, InputShape] = Field(min_length=1, description="input name → shape")
    dims: dict[str, PositiveInt] = Field(default_factory=dict, description="default values of symbols")
    layers: list[Any] = Field(min_length=1, description="the layers, in order")
    outputs: list[Name] | None = Field(None, description="output tensors; default: the last layer")


_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda e: f"missing required key {e['loc'][-1]!r}",
    "too_short": lambda e: f"needs at least {e['ctx']['min_length']} item(s), {_got(e['input'])}",
}


def _error_message(error: Mapping[str, Any], fields: Iterable[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = error["loc"][-1]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}{hint}; known keys: {', '.join(fields)}"
    if kind in _MESSAGES:
        return _MESSAGES[kind](dict(error))
    if kind == "shapecheck":
        return str(error["msg"])
    return f"{error['msg']}, {_got(error['input'])}"


def _validation_error(error: ValidationError, prefix: tuple[str | int, ...], source: _Source,
                      fields: Iterable[str], suffix: str = "") -> LoadError:
    """The most telling problem as a LoadError at its line:col: an unknown key first (a misspelt key
    also makes a required one missing), otherwise the first in file order."""
    fields = list(fields)
    candidates = []
    for entry in error.errors(include_url=False):
        loc = tuple(entry["loc"])
        key = entry["type"] == "extra_forbidden" or (bool(loc) and loc[-1] == "[key]")
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        full = prefix + loc
        rank = (entry["type"] != "extra_forbidden", *source.position(full, key=key))
        candidates.append((rank, full, entry))
    (_, full, entry) = min(candidates, key=lambda c: c[0])
    return LoadError(f"{_field_path(full)}: {_error_message(entry, fields)}{suffix}", path=source.path,
                     where=source.where(full, key=entry["type"] == "extra_forbidden"))


# ==== loading =======================================================================================


def _symbols_of(dim: Dim) -> frozenset[str]:
    return dim.symbols() if isinstance(dim, Expr) else frozenset()


def load_yaml(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> ModelGraph:
    """Read, validate and translate a YAML model (at most ``max_bytes``, default :data:`MAX_FILE_BYTES`);
    every problem is a :class:`LoadError` with line:col."""
    path = str(path)
    data, marks = _read_yaml(path, MAX_FILE_BYTES if max_bytes is None else max_bytes)
    source = _Source(path, data, marks)
    if not isinstance(data, dict):
        raise source.error((), f"a model is a mapping that starts with `shapecheck: {FORMAT_VERSION}`, got "
                           f"{type(data).__name__}")
    if "shapecheck" not in data:
        raise source.error((), f"missing the format version: add `shapecheck: {FORMAT_VERSION}` at the top")
    try:
        _version(data["shapecheck"])
    except PydanticCustomError as error:
        raise source.error(("shapecheck",), error.message()) from None
    try:
        document = _Document.model_validate(data)
    except ValidationError as error:
        raise _validation_error(error, (), source, _Document.model_fields) from None
    return _Builder(source, document).build()


class _Builder:
    """Walks the layers in file order, tracking every tensor's rank, and builds the graph."""

    def __init__(self, source: _Source, document: _Document) -> None:
        self.source = source
        self.document = document
        self.ranks: dict[str, int] = {}
        self.defined: dict[str, tuple[str | int, ...]] = {}  # tensor -> loc of its definition
        self.symbols: set[str] = set()
        self.constants: dict[str, TensorSpec] = {}

    def build(self) -> ModelGraph:
        inputs: dict[str, TensorSpec] = {}
        for name, shape in self.document.inputs.items():
            loc = ("inputs", name)
            if not _NAME.fullmatch(name):
                raise self.source.error(loc, f"input name {name!r}: a name is letters, digits, '_' and '-'",
                                        key=True)
            inputs[name] = TensorSpec(declared_shape(shape))
            self.symbols.update(d for d in shape if isinstance(d, str))
            self.ranks[name] = len(shape)
            self.defined[name] = loc
        for name in self.document.dims:
            if name not in self.symbols:
                listed = ", ".join(sorted(self.symbols)) or "none"
                raise self.source.error(("dims", name), f"{name!r} is not a symbol of any input shape "
                                        f"(symbols: {listed})", key=True)
        nodes = [self._layer(index, raw) for index, raw in enumerate(self.document.layers)]
        outputs = self.document.outputs or [nodes[-1].name]
        for index, name in enumerate(outputs):
            if name not in self.defined:
                raise self.source.error(("outputs", index), f"{name!r} is not an input or a layer"
                                        + _suggest(name, self.defined))
        return ModelGraph(path=self.source.path, format="yaml", nodes=nodes, inputs=inputs, outputs=outputs,
                          constants=self.constants, dim_defaults=dict(self.document.dims), opset=OPSET)

    def _layer(self, index: int, raw: Any) -> Node:
        loc: tuple[str | int, ...] = ("layers", index)
        if not isinstance(raw, dict):
            raise self.source.error(loc, "a layer is a mapping such as {name: conv1, op: conv, ...}, "
                                    + _got(raw))
        op = raw.get("op")
        if op is None:
            raise self.source.error(loc, "missing required key 'op'")
        cls = LAYERS.get(op) if isinstance(op, str) else None
        if cls is None:
            raise self.source.error((*loc, "op"), f"unknown op {op!r}{_suggest(str(op), LAYERS)}; known "
                                    "ops: " + ", ".join(LAYERS))
        try:
            layer = cls.model_validate(raw)
        except ValidationError as error:
            name = raw.get("name")
            suffix = f" (layer {name!r})" if isinstance(name, str) else ""
            raise _validation_error(error, loc, self.source, _fields(cls), suffix) from None
        if layer.name in self.defined:
            first = self.source.where(self.defined[layer.name])
            raise self.source.error((*loc, "name"), f"duplicate name {layer.name!r} (first defined at "
                                    f"{first})")
        key, names = layer.sources()
        if names is None:
            names = self._previous(loc, index)
        for position, name in enumerate(names):
            if name not in self.defined:
                field_loc = loc + ((key, position) if key == "inputs" else (key,))
                hint = _later(name, self.document.layers, index) + _suggest(name, self.defined)
                raise self.source.error(field_loc, f"{name!r} is not an input or an earlier layer{hint}")
        site = _Site(self.source, index, layer.name, op, names, tuple(self.ranks[n] for n in names),
                     key if key in raw else None)
        translation = layer.translate(site)
        attrs = dict(translation.attrs)
        if layer.expect is not None:
            unknown = sorted(set().union(*map(_symbols_of, layer.expect)) - self.symbols)
            if unknown:
                site.error("expect", f"expect uses {unknown[0]!r}, which is not a symbol of any input shape")
            attrs["expect"] = layer.expect
        for name, shape in translation.constants.items():
            self.constants[name] = TensorSpec(shape)
        self.ranks[layer.name] = translation.rank
        self.defined[layer.name] = (*loc, "name")
        line, column = self.source.position(loc)
        return Node(name=layer.name, op=translation.op, inputs=(*names, *translation.constants),
                    outputs=(layer.name,), attrs=attrs, location=SourceLocation(line, column), index=index)

    def _previous(self, loc: tuple[str | int, ...], index: int) -> tuple[str, ...]:
        """The implied input: the previous layer, or the model's only input for the first layer."""
        if index > 0:
            return (self.document.layers[index - 1]["name"],)
        if len(self.document.inputs) == 1:
            return (next(iter(self.document.inputs)),)
        raise self.source.error(loc, f"the first layer needs `input:` because the model has "
                                f"{len(self.document.inputs)} inputs ({', '.join(self.document.inputs)})")


def _fields(cls: type[BaseModel]) -> list[str]:
    return list(cls.model_fields)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _later(name: str, layers: Sequence[Any], index: int) -> str:
    for later in range(index + 1, len(layers)):
        if isinstance(layers[later], dict) and layers[later].get("name") == name:
            return f"; it is defined later, at layers[{later}] — a layer can only read earlier ones"
    return ""


# ==== generated documentation ======================================================================

BEGIN_MARKER = "<!-- BEGIN GENERATED: python -m shapecheck.load.yaml --doc docs/yaml-format.md -->"
END_MARKER = "<!-- END GENERATED -->"


def _type_label(annotation: Any) -> str:
    """The docs' text for a parameter type: a kind's label, unwrapped from Optional / list / dict."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        labels = [item.text for item in annotation.__metadata__ if isinstance(item, _Label)]
        return labels[0] if labels else _type_label(args[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_label(arg) for arg in args if arg is not type(None))
    if origin is list:
        return f"list of {_type_label(args[0])}"
    if origin is dict:
        return f"mapping of {_type_label(args[0])} → {_type_label(args[1])}"
    names = {bool: "bool", str: "string", int: "int", float: "number", Any: "any"}
    return names.get(annotation, str(annotation))


def _default_text(info: Any) -> str:
    if info.is_required():
        return "**required**"
    default = info.get_default(call_default_factory=True)
    if default is None:
        return "—"
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    if isinstance(default, str):
        return f"`{default}`"
    return f"`{default}`"


def _table(cls: type[BaseModel], keys: Sequence[str]) -> list[str]:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in keys:
        info = cls.model_fields[key]
        label = _type_label(info.rebuild_annotation())
        lines.append(f"| `{key}` | {label} | {_default_text(info)} | {info.description or ''} |")
    return lines


def _doc_of(cls: type) -> str:
    lines = (cls.__doc__ or "").strip().splitlines()
    return "\n".join(line.strip() for line in lines)


def reference_markdown() -> str:
    """The op reference of ``docs/yaml-format.md``, generated from the layer models."""
    out = ["### Top-level keys", "", *_table(_Document, list(_Document.model_fields)), "",
           "### Keys of every layer", "",
           *_table(_Join, ["op", "name"]),
           *_table(_OneInput, ["input"])[2:], *_table(_Join, ["inputs"])[2:], *_table(_Layer, ["expect"])[2:],
           "", "`input` belongs to single-input layers, `inputs` to `concat`, `add` and `mul`.", "",
           "### Ops", "", "| op | ONNX-equivalent node |", "|---|---|"]
    out += [f"| [`{op}`](#{cls.__name__.lower()}) | `{cls.OPS[op]}` |" for op, cls in LAYERS.items()]
    for cls in _LAYER_CLASSES:
        translated = ", ".join(f"`{op}` → `{onnx}`" for op, onnx in cls.OPS.items())
        out += ["", f"#### {cls.__name__}", "", f"{translated}.", "", _doc_of(cls), ""]
        keys = [k for k in _fields(cls) if k not in _Layer.COMMON]
        out += _table(cls, keys) if keys else ["No parameters besides the common keys."]
    return "\n".join(out) + "\n"


def _rewrite(path: Path) -> bool:
    """Replace the generated section of ``path``; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    begin, end = text.index(BEGIN_MARKER) + len(BEGIN_MARKER), text.index(END_MARKER)
    updated = text[:begin] + "\n" + reference_markdown() + text[end:]
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m shapecheck.load.yaml --doc [FILE]``: print the op reference or rewrite FILE's copy."""
    parser = argparse.ArgumentParser(prog="python -m shapecheck.load.yaml")
    parser.add_argument("--doc", nargs="?", const="-", metavar="FILE", required=True,
                        help="print the generated op reference, or rewrite it in FILE between the markers")
    args = parser.parse_args(argv)
    if args.doc == "-":
        sys.stdout.write(reference_markdown())
    else:
        print(f"{args.doc}: {'updated' if _rewrite(Path(args.doc)) else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
