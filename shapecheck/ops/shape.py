"""Shape-computation ops: the tensors that carry sizes (``Shape → Gather → Concat → Reshape``).

Exported models compute sizes at run time: ``F.pad`` size fixes become ``Shape → Gather → Sub → Div →
Concat → Pad`` and ``interpolate(size=skip.shape[2:])`` becomes ``Shape → Slice → Concat → Resize``. To
check such a model the engine must know the *values* of those small integer tensors, not only their
shapes, so every rule here computes both: ``Tensor.value`` is a NumPy object array whose entries are
``int`` or symbolic :class:`~shapecheck.symbolic.Expr` (``float`` for Resize scales), kept only while it is
small (:data:`MAX_VALUE` elements).

A parameter that a rule needs but whose value did not resolve makes that output unknown, with an
UNRESOLVED fact naming the input — the rule never guesses. The value helpers at the top are shared with
the other families (:mod:`~shapecheck.ops.resize`, :mod:`~shapecheck.ops.linear`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from shapecheck.facts import FactKind
from shapecheck.graph import Node, TensorSpec
from shapecheck.ops import op
from shapecheck.ops.base import UNKNOWN, Context, Tensor
from shapecheck.ops.elementwise import broadcast_shapes
from shapecheck.symbolic import Dim, Expr, dims_equal

__all__ = [
    "INT64",
    "MAX_VALUE",
    "make_value",
    "normalize_axes",
    "numbers",
    "param_ints",
    "product",
    "unresolved",
]

#: ONNX TensorProto element types used here.
FLOAT, INT32, INT64, STRING, BOOL, DOUBLE = 1, 6, 7, 8, 9, 11

#: Values with more elements than this are dropped (weights from ConstantOfShape keep only their shape).
MAX_VALUE = 64

#: A Slice bound at least this large means "to the end" (exporters write INT64_MAX or INT32_MAX).
_TO_END = 2**31 - 1

_NUMPY_TO_ONNX = {"float32": FLOAT, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": INT32,
                  "int64": INT64, "bool": BOOL, "float16": 10, "float64": DOUBLE, "uint32": 12, "uint64": 13}


# -- values: reading and writing small tensors -------------------------------------------------------
def _entry(item: Any) -> Any:
    """One value entry as ``int``, ``float`` or :class:`Expr` (NumPy scalars and bools unwrapped)."""
    if isinstance(item, (int, Expr)) and not isinstance(item, bool):
        return item
    if isinstance(item, (bool, np.bool_)):
        return int(item)
    if isinstance(item, np.integer):
        return int(item)
    if isinstance(item, (float, np.floating)):
        return float(item)
    return None


def numbers(tensor: Tensor | None) -> list[Any] | None:
    """The entries of ``tensor``'s value, flattened, or ``None`` when the value is not known."""
    if tensor is None or tensor.value is None:
        return None
    value = tensor.value
    flat = list(value.flat) if isinstance(value, np.ndarray) and value.dtype == object else list(
        np.asarray(value, dtype=object).flat)
    for i, item in enumerate(flat):
        if type(item) is not int and type(item) is not Expr:  # the common case needs no conversion
            flat[i] = item = _entry(item)
            if item is None:
                return None
    return flat


def _ints(entries: list[Any] | None) -> list[int | Expr] | None:
    """Entries as sizes: integral floats become ints (a Cast was skipped), fractional ones fail."""
    if entries is None:
        return None
    result: list[int | Expr] = []
    for item in entries:
        if isinstance(item, float):
            if not item.is_integer():
                return None
            item = int(item)
        result.append(item)
    return result


def _name(node: Node, index: int) -> str:
    """The name of input ``index`` (``""`` when the node has fewer inputs)."""
    return node.inputs[index] if index < len(node.inputs) else ""


def unresolved(node: Node, ctx: Context, index: int, role: str) -> None:
    """Record that input ``index`` (``role``: "pads", "shape", …) has no known value."""
    name = _name(node, index)
    ctx.fact(FactKind.UNRESOLVED, f"could not resolve the {role} input of {node.op} ({name!r})",
             input=name, role=role)


def param_ints(
    node: Node, inputs: list[Tensor | None], ctx: Context, index: int, role: str
) -> list[int | Expr] | None:
    """The integer entries of optional input ``index``; an UNRESOLVED fact when present but unknown.

    Callers test for an omitted input first; here the input exists, so ``None`` means "not resolved".
    """
    tensor = inputs[index] if index < len(inputs) else None
    values = _ints(numbers(tensor))
    if values is None:
        unresolved(node, ctx, index, role)
    return values


def present(inputs: list[Tensor | None], index: int) -> bool:
    """Whether optional input ``index`` is given (ONNX omits it with an empty name)."""
    return index < len(inputs) and inputs[index] is not None


def make_value(entries: Sequence[Any], shape: Sequence[int]) -> Any:
    """An object array of ``shape`` holding ``entries`` (``None`` when larger than :data:`MAX_VALUE`)."""
    if len(entries) > MAX_VALUE:
        return None
    array = np.empty(len(entries), dtype=object)
    array[:] = list(entries)
    return array.reshape(tuple(shape))


def _array(tensor: Tensor | None) -> Any:
    """``tensor``'s value as an object array with normalised entries, or ``None``.

    Values are never written to after they are made, so a value that is already in this form is
    shared, not copied.
    """
    flat = numbers(tensor)
    if flat is None or tensor is None or len(flat) > MAX_VALUE:
        return None
    value = tensor.value
    if isinstance(value, np.ndarray) and value.dtype == object and all(
            a is b for a, b in zip(flat, value.flat)):
        return value
    return make_value(flat, np.shape(value))


def _small(array: Any) -> Any:
    """Keep a computed value only while it is small."""
    return array if array is not None and array.size <= MAX_VALUE else None


def _small_shape(shape: Iterable[Dim]) -> tuple[int, ...] | None:
    """``shape`` when it is concrete and small enough to hold a value (a 0-sized tensor of a huge dim
    is not), else ``None``."""
    concrete = _concrete(shape)
    if concrete is None or max(concrete, default=0) > MAX_VALUE or product(concrete) > MAX_VALUE:  # type: ignore[operator]
        return None
    return concrete


def _reshaped(x: Tensor | None, shape: tuple[Dim, ...]) -> Any:
    """``x``'s value in ``shape`` (Reshape, Squeeze, Unsqueeze, Flatten), or ``None``."""
    source = _array(x)
    concrete = _small_shape(shape)
    if source is None or concrete is None or source.size != product(concrete):
        return None
    return source.reshape(concrete)


def _concrete(shape: Iterable[Dim]) -> tuple[int, ...] | None:
    dims = tuple(shape)
    return dims if all(isinstance(d, int) for d in dims) else None  # type: ignore[return-value]


# -- dims ------------------------------------------------------------------------------------------
def product(dims: Iterable[Dim]) -> Dim:
    """The product of ``dims``: symbolic factors multiplied together, then the int factor applied as a
    coefficient, so ``64*H*W`` stays divisible by 64 and equal products compare equal."""
    whole = 1
    symbolic: list[Expr] = []
    for dim in dims:
        if dim is None:
            return None
        if isinstance(dim, int):
            whole *= dim
        else:
            symbolic.append(dim)
    if not symbolic:
        return whole
    result: Expr | int = symbolic[0]
    for dim in symbolic[1:]:
        result = result * dim
    return result * whole


def normalize_axes(
    node: Node, ctx: Context, axes: Sequence[Any], rank: int, what: str = "axes"
) -> list[int] | None:
    """``axes`` in ``[0, rank)`` (negative ones counted from the end); a BAD_ATTRIBUTE fact if not."""
    result: list[int] = []
    for axis in axes:
        if not isinstance(axis, int) or not -rank <= axis < rank:
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"{node.op} {what} {list(axes)} out of range for rank {rank}",
                     attribute=what, value=tuple(axes), rank=rank)
            return None
        result.append(axis % rank)
    if len(set(result)) != len(result):
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"{node.op} {what} {list(axes)} repeat an axis", attribute=what,
                 value=tuple(axes))
        return None
    return result


def _axes_param(
    node: Node, inputs: list[Tensor | None], ctx: Context, *, input_from: int, index: int = 1
) -> tuple[bool, list[int | Expr] | None]:
    """``(given, axes)`` from the ``axes`` attribute (opset < ``input_from``) or input ``index``.

    The other form is accepted as a fallback, so a model that mixes them is still read.
    """
    attr, has_input = node.attr("axes"), present(inputs, index)
    use_input = has_input and (ctx.opset >= input_from or attr is None)
    if use_input:
        return True, param_ints(node, inputs, ctx, index, "axes")
    return (False, None) if attr is None else (True, [int(a) for a in attr])


def _first(inputs: list[Tensor | None]) -> Tensor | None:
    x = inputs[0] if inputs else None
    return None if x is None or x.shape is None else x


# -- rules -----------------------------------------------------------------------------------------
@op("Shape")
def shape_op(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """The input's dims ``[start:end]`` (opset 15), as a 1-D int64 value."""
    x = _first(inputs)
    if x is None:  # unknown, not "rank 1": the driver then names the node that lost the shape
        return [UNKNOWN]
    assert x.shape is not None
    dims = x.shape[slice(node.attr("start", 0), node.attr("end"))]
    value = make_value(dims, (len(dims),)) if all(d is not None for d in dims) else None
    return [Tensor((len(dims),), value, INT64)]


@op("Size")
def size_op(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """The number of elements, as a 0-d int64 value."""
    x = _first(inputs)
    total = product(x.shape) if x is not None and x.shape is not None else None
    return [Tensor((), None if total is None else make_value([total], ()), INT64)]


def _attr_array(value: Any) -> tuple[tuple[int, ...], Any, int | None]:
    """Shape, kept value and ONNX dtype of a TENSOR attribute given as a NumPy array.

    The loader hands small tensors over as object arrays of Python numbers; their dtype is read from
    the entries (ints → int64, floats → float32).
    """
    array = np.asarray(value)
    shape = tuple(int(d) for d in array.shape)
    if array.dtype.kind == "O":
        entries = [_entry(v) for v in array.reshape(-1)]
        if any(e is None for e in entries):  # strings
            return shape, None, None
        dtype = FLOAT if any(isinstance(e, float) for e in entries) else INT64
        return shape, make_value(entries, shape) if len(entries) <= MAX_VALUE else None, dtype
    dtype = _NUMPY_TO_ONNX.get(array.dtype.name, STRING if array.dtype.kind in "SU" else None)
    kept = None
    if array.dtype.kind in "fiub" and array.size <= MAX_VALUE:
        kept = make_value([_entry(v) for v in array.reshape(-1)], shape)
    return shape, kept, dtype


@op("Constant")
def constant(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """The attribute's shape; its value when small and numeric (``value``, ``value_int(s)``, …)."""
    for name, dtype in (("value_int", INT64), ("value_float", FLOAT), ("value_ints", INT64),
                        ("value_floats", FLOAT)):
        raw = node.attr(name)
        if raw is not None:
            entries = [int(v) if dtype == INT64 else float(v) for v in np.asarray(raw).reshape(-1)]
            shape = () if name in ("value_int", "value_float") else (len(entries),)
            return [Tensor(shape, make_value(entries, shape), dtype)]
    if node.attr("value_string") is not None:
        return [Tensor((), dtype=STRING)]
    if node.attr("value_strings") is not None:
        return [Tensor((len(node.attr("value_strings")),), dtype=STRING)]
    raw = node.attr("value", node.attr("sparse_value"))
    if isinstance(raw, TensorSpec):  # the loader's form of a tensor too large to keep
        return [Tensor(raw.shape, raw.value, raw.dtype)]
    if raw is None:
        ctx.fact(FactKind.BAD_ATTRIBUTE, "Constant has no value attribute", attribute="value")
        return [UNKNOWN]
    if not hasattr(raw, "shape") and not isinstance(raw, (list, tuple, int, float)):
        ctx.fact(FactKind.UNRESOLVED, "could not read the value attribute of Constant "
                 f"({type(raw).__name__})", attribute="value")
        return [UNKNOWN]
    shape, kept, dtype = _attr_array(raw)
    return [Tensor(shape, kept, dtype)]


@op("ConstantOfShape")
def constant_of_shape(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """A tensor of the shape given by the input's value, filled with ``value`` (float 0 by default).

    Weights are often built this way, so the shape is always kept; the value only while small.
    """
    dims = param_ints(node, inputs, ctx, 0, "shape")
    if dims is None:
        return [UNKNOWN]
    if any(isinstance(d, int) and d < 0 for d in dims):
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"ConstantOfShape shape {dims} has a negative dim",
                 input=_name(node, 0))
        return [UNKNOWN]
    fill = node.attr("value")
    if isinstance(fill, TensorSpec):
        fill = fill.value
    _, fill_value, dtype = _attr_array(np.zeros(1, np.float32) if fill is None else fill)
    shape = tuple(dims)
    value = None
    concrete = _small_shape(shape)
    if concrete is not None and fill_value is not None and fill_value.size == 1:
        value = make_value([fill_value.reshape(-1)[0]] * product(concrete), concrete)  # type: ignore[operator]
    return [Tensor(shape, value, dtype)]


@op("Range")
def range_op(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``max(⌈(limit − start)/delta⌉, 0)`` elements; for a symbolic span, ``limit ≥ start`` is assumed."""
    params = []
    for index, role in enumerate(("start", "limit", "delta")):
        entries = numbers(inputs[index] if index < len(inputs) else None)
        if entries is None or len(entries) != 1:
            unresolved(node, ctx, index, role)
            return [UNKNOWN]
        params.append(entries[0])
    start, limit, delta = params
    dtype = inputs[0].dtype if inputs[0] is not None else None
    if delta == 0:
        ctx.fact(FactKind.BAD_ATTRIBUTE, "Range delta is 0", input=_name(node, 2))
        return [UNKNOWN]
    if any(isinstance(p, float) for p in params):
        if any(isinstance(p, Expr) for p in params):
            unresolved(node, ctx, 1, "limit")
            return [UNKNOWN]
        # as onnxruntime computes it: ⌈(limit − start)/delta⌉ in double (measured on float32 inputs,
        # where a float32 difference would be one larger for e.g. Range(3.3, −2.5, −0.1))
        count = max(math.ceil((float(limit) - float(start)) / float(delta)), 0)
        value = None
        if count <= MAX_VALUE:  # accumulated in the tensor's precision, as onnxruntime does
            kind = np.float32 if dtype == FLOAT else np.float64
            entries, current = [], kind(start)
            for _ in range(count):
                entries.append(float(current))
                current = kind(current + kind(delta))
            value = make_value(entries, (count,))
        return [Tensor((count,), value, dtype)]
    if not isinstance(delta, int):
        unresolved(node, ctx, 2, "delta")
        return [UNKNOWN]
    span = limit - start if delta > 0 else start - limit
    step = abs(delta)
    length = (span + step - 1) // step
    if isinstance(length, int):
        length = max(length, 0)
        value = make_value(list(range(start, limit, delta)), (length,)) if isinstance(start, int) else None
        return [Tensor((length,), value, dtype)]
    return [Tensor((length,), None, dtype)]


@op("Gather")
def gather(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``data.shape[:axis] + indices.shape + data.shape[axis+1:]``; values are taken when both are known."""
    data, indices = _first(inputs), inputs[1] if len(inputs) > 1 else None
    if data is None or indices is None or indices.shape is None:
        return [UNKNOWN]
    assert data.shape is not None
    axes = normalize_axes(node, ctx, [int(node.attr("axis", 0))], len(data.shape), "axis")
    if axes is None:
        return [UNKNOWN]
    axis = axes[0]
    shape = (*data.shape[:axis], *indices.shape, *data.shape[axis + 1:])
    value = None
    source, picks = _array(data), _ints(numbers(indices))
    if source is not None and picks is not None and all(isinstance(i, int) for i in picks):
        size = source.shape[axis]
        if any(not -size <= i < size for i in picks):  # type: ignore[operator]
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"Gather indices {picks} out of range for axis {axis} of "
                     f"size {size}", input=_name(node, 1), size=size)
        else:
            index_array = np.asarray([i % size for i in picks], dtype=np.int64)  # type: ignore[operator]
            taken = np.take(source, index_array.reshape(np.shape(indices.value)), axis=axis)
            value = _small(taken if isinstance(taken, np.ndarray) else make_value([taken], ()))
    return [Tensor(shape, value, data.dtype)]


@op("Unsqueeze")
def unsqueeze(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Insert size-1 axes at ``axes`` (attribute before opset 13, input since); axes index the output."""
    x = _first(inputs)
    given, axes = _axes_param(node, inputs, ctx, input_from=13)
    if x is None or axes is None:
        if not given and x is not None:
            ctx.fact(FactKind.BAD_ATTRIBUTE, "Unsqueeze has no axes", attribute="axes")
        return [UNKNOWN]
    assert x.shape is not None
    rank = len(x.shape) + len(axes)
    where = normalize_axes(node, ctx, axes, rank)
    if where is None:
        return [UNKNOWN]
    dims = iter(x.shape)
    shape = tuple(1 if axis in where else next(dims) for axis in range(rank))
    return [Tensor(shape, _reshaped(x, shape), x.dtype)]


@op("Squeeze")
def squeeze(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Drop ``axes`` (attribute before opset 13, input since), or every size-1 axis when none are given."""
    x = _first(inputs)
    given, axes = _axes_param(node, inputs, ctx, input_from=13)
    if x is None or (given and axes is None):
        return [UNKNOWN]
    assert x.shape is not None
    if axes is None or not axes:
        if any(not isinstance(d, int) for d in x.shape):
            ctx.fact(FactKind.UNRESOLVED, f"Squeeze without axes on {x.shape}: cannot tell which dims are 1",
                     input=_name(node, 0))
            return [UNKNOWN]
        drop = [axis for axis, d in enumerate(x.shape) if d == 1]
    else:
        normalized = normalize_axes(node, ctx, axes, len(x.shape))
        if normalized is None:
            return [UNKNOWN]
        drop = normalized
        for axis in drop:
            if dims_equal(x.shape[axis], 1) is False:
                ctx.fact(FactKind.BAD_ATTRIBUTE, f"Squeeze axis {axis} has size {x.shape[axis]}, not 1",
                         attribute="axes", axis=axis, size=x.shape[axis])
    shape = tuple(d for axis, d in enumerate(x.shape) if axis not in drop)
    return [Tensor(shape, _reshaped(x, shape), x.dtype)]


def _infer_minus_one(source: Sequence[Dim], known: list[Dim]) -> Dim:
    """``product(source) / product(known)`` for Reshape's −1, cancelling equal dims first.

    ``(N, 64, H, W) → (N, −1)`` cancels ``N`` and gives ``64*H*W``; dividing by a symbolic factor that
    does not cancel is unknown (``None``).
    """
    rest = list(source)
    divisor: list[Dim] = []
    for dim in known:
        match = next((i for i, d in enumerate(rest) if dims_equal(d, dim) is True), None)
        if match is None:
            divisor.append(dim)
        else:
            del rest[match]
    denominator = product(divisor)
    numerator = product(rest)
    if numerator is None or not isinstance(denominator, int) or denominator <= 0:
        return None
    if isinstance(numerator, int):
        return numerator // denominator if numerator % denominator == 0 else None
    whole = product(d for d in rest if isinstance(d, int))
    symbolic = product(d for d in rest if not isinstance(d, int))
    if isinstance(whole, int) and whole % denominator == 0:
        return (whole // denominator) * symbolic  # type: ignore[operator]
    return numerator // denominator


@op("Reshape")
def reshape(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """The ``shape`` input's value, with ``0`` copying the input dim (unless ``allowzero``) and ``−1``
    inferred from the element count; a count that cannot match is a BAD_ATTRIBUTE fact."""
    x = inputs[0] if inputs else None
    if present(inputs, 1):
        target = param_ints(node, inputs, ctx, 1, "shape")
    elif node.attr("shape") is not None:  # Reshape-1
        target = [int(d) for d in node.attr("shape")]
    else:
        unresolved(node, ctx, 1, "shape")
        return [UNKNOWN]
    if target is None:
        return [UNKNOWN]
    source = x.shape if x is not None else None
    allowzero = bool(node.attr("allowzero", 0))
    dims: list[Dim] = []
    infer_at: int | None = None
    for i, t in enumerate(target):
        if isinstance(t, int) and t == 0 and not allowzero:
            if source is None:
                return [UNKNOWN]
            if i >= len(source):
                ctx.fact(FactKind.BAD_ATTRIBUTE, f"Reshape copies dim {i} (a 0 in {target}) but the input "
                         f"has rank {len(source)}", input=_name(node, 1))
                return [UNKNOWN]
            dims.append(source[i])
        elif isinstance(t, int) and t == -1:
            if infer_at is not None:
                ctx.fact(FactKind.BAD_ATTRIBUTE, f"Reshape shape {target} has more than one -1",
                         input=_name(node, 1))
                return [UNKNOWN]
            infer_at = i
            dims.append(None)
        elif isinstance(t, int) and t < 0:
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"Reshape shape {target} has a negative dim",
                     input=_name(node, 1))
            return [UNKNOWN]
        else:
            dims.append(t)
    total = product(source) if source is not None else None
    if infer_at is not None and source is not None:
        known = dims[:infer_at] + dims[infer_at + 1:]
        dims[infer_at] = _infer_minus_one(source, known)
        known_count = product(known)
        if dims[infer_at] is None and isinstance(total, int) and isinstance(known_count, int):
            _count_mismatch(node, ctx, source, target)
    elif infer_at is None and dims_equal(total, product(dims)) is False:
        _count_mismatch(node, ctx, source, target)  # type: ignore[arg-type]
    shape = tuple(dims)
    return [Tensor(shape, _reshaped(x, shape), x.dtype if x is not None else None)]


def _count_mismatch(node: Node, ctx: Context, source: Sequence[Dim], target: Sequence[Any]) -> None:
    ctx.fact(FactKind.BAD_ATTRIBUTE,
             f"Reshape cannot turn {_text(source)} ({product(source)} elements) into {_text(target)}",
             input=_name(node, 1), input_shape=tuple(source), target=tuple(target))


def _text(dims: Iterable[Any]) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


@op("Flatten")
def flatten(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(∏ d[:axis], ∏ d[axis:])``; ``axis`` may be negative (opset 11) or equal to the rank."""
    x = _first(inputs)
    if x is None:
        return [UNKNOWN]
    assert x.shape is not None
    rank = len(x.shape)
    axis = int(node.attr("axis", 1))
    if not -rank <= axis <= rank:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"Flatten axis {axis} out of range for rank {rank}",
                 attribute="axis")
        return [UNKNOWN]
    axis = axis + rank if axis < 0 else axis
    shape = (product(x.shape[:axis]), product(x.shape[axis:]))
    return [Tensor(shape, _reshaped(x, shape), x.dtype)]


@op("Expand")
def expand(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """NumPy broadcasting of the input with the ``shape`` input's value (either may be the larger)."""
    x = _first(inputs)
    target = param_ints(node, inputs, ctx, 1, "shape")
    if x is None or target is None:
        return [UNKNOWN]
    assert x.shape is not None
    shape = broadcast_shapes(node, [x.shape, tuple(target)], list(node.inputs[:2]), ctx)
    value = None
    concrete, source = _small_shape(shape), _array(x)
    if source is not None and concrete is not None:
        try:
            value = np.broadcast_to(source, concrete).copy()
        except ValueError:  # the mismatch reported above
            value = None
    return [Tensor(shape, value, x.dtype)]


@op("Tile")
def tile(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Each dim times its entry of the ``repeats`` input."""
    x = _first(inputs)
    repeats = param_ints(node, inputs, ctx, 1, "repeats")
    if x is None or repeats is None:
        return [UNKNOWN]
    assert x.shape is not None
    if len(repeats) != len(x.shape):
        ctx.fact(FactKind.RANK_MISMATCH, f"Tile has {len(repeats)} repeats for an input of rank "
                 f"{len(x.shape)}", input=_name(node, 1), rank=len(x.shape))
        return [UNKNOWN]
    if any(isinstance(r, int) and r < 0 for r in repeats):
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"Tile repeats {repeats} must not be negative", input=_name(node, 1))
        return [UNKNOWN]
    shape = tuple(None if d is None else d * r for d, r in zip(x.shape, repeats))
    value, source = None, _array(x)
    if source is not None and _small_shape(shape) is not None and all(isinstance(r, int) for r in repeats):
        value = np.tile(source, repeats)
    return [Tensor(shape, value, x.dtype)]


@op("Transpose")
def transpose(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Dims in ``perm`` order (reversed by default)."""
    x = _first(inputs)
    if x is None:
        return [UNKNOWN]
    assert x.shape is not None
    rank = len(x.shape)
    perm = [int(p) for p in node.attr("perm", range(rank - 1, -1, -1))]
    if sorted(perm) != list(range(rank)):
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"Transpose perm {perm} is not a permutation of {rank} axes",
                 attribute="perm", value=tuple(perm))
        return [UNKNOWN]
    source = _array(x)
    value = source.transpose(perm) if source is not None else None
    return [Tensor(tuple(x.shape[p] for p in perm), value, x.dtype)]


# -- Slice -------------------------------------------------------------------------------------------
#: Ends that onnxruntime reads as "through the end in the step's direction" (NumPy's ``None``).
_END_SENTINELS = (2**31 - 1, 2**63 - 1)


def slice_bounds(n: int, start: int, end: int, step: int, *, runtime: bool = True) -> tuple[int, int, int]:
    """Effective ``(start, end, count)`` of ``x[start:end:step]`` on an axis of size ``n`` (ONNX Slice-10+).

    Negative bounds count from the end, then are clamped: start into ``[0, n]`` (``[0, n−1]`` for a
    negative step), end into ``[0, n]`` (``[−1, n]``). onnxruntime (``runtime=True``) reads an end of
    exactly INT32_MAX or INT64_MAX with a negative step as "through index 0"; ONNX shape inference and
    the reference evaluator clamp it like any other end, which gives an empty slice.
    """
    if start < 0:
        start += n
    start = min(max(start, 0), n - 1 if step < 0 else n)
    if runtime and end in _END_SENTINELS:
        end = -1 if step < 0 else n
    else:
        if end < 0:
            end += n
        end = min(max(end, -1 if step < 0 else 0), n)
    count = -((start - end) // step)  # ⌈(end − start)/step⌉ for either sign of step
    return start, end, max(count, 0) if n > 0 else 0


def slice_length(n: Dim, start: int | Expr, end: int | Expr, step: int) -> Dim:
    """Elements in ``x[start:end:step]`` on an axis of size ``n``, as onnxruntime computes them.

    For a concrete size this is exact (:func:`slice_bounds`). For a symbolic size the bounds are taken
    to be in range — the usual reading of ``x[:, :, 1:-1]`` or of a crop with computed offsets — so
    ``H[1:-1]`` is ``H − 2``.
    """
    if n is None:
        return None
    if isinstance(n, int) and isinstance(start, int) and isinstance(end, int):
        return slice_bounds(n, start, end, step)[2]

    def bound(i: int | Expr, *, is_end: bool) -> Dim:
        if not isinstance(i, int):
            return i
        if i >= _TO_END:
            if step > 0:
                return n
            return -1 if is_end and i in _END_SENTINELS else n - 1  # type: ignore[operator]
        if i <= -_TO_END:
            return 0 if step > 0 else -1
        return n + i if i < 0 else i  # type: ignore[operator]

    first, last = bound(start, is_end=False), bound(end, is_end=True)
    span = last - first if step > 0 else first - last  # type: ignore[operator]
    length = (span + abs(step) - 1) // abs(step)
    return max(length, 0) if isinstance(length, int) else length


def _slice_params(
    node: Node, inputs: list[Tensor | None], ctx: Context, rank: int
) -> tuple[list[int], list[int | Expr], list[int | Expr], list[int]] | None:
    """``(axes, starts, ends, steps)`` from attributes (opset < 10) or inputs 1–4."""
    if ctx.opset >= 10 or present(inputs, 1):
        starts = param_ints(node, inputs, ctx, 1, "starts")
        ends = param_ints(node, inputs, ctx, 2, "ends") if starts is not None else None
        axes = param_ints(node, inputs, ctx, 3, "axes") if present(inputs, 3) else None
        steps = param_ints(node, inputs, ctx, 4, "steps") if present(inputs, 4) else None
        if starts is None or ends is None or (present(inputs, 3) and axes is None) or (
                present(inputs, 4) and steps is None):
            return None
    else:
        starts, ends = list(node.attr("starts", ())), list(node.attr("ends", ()))
        axes = list(node.attr("axes")) if node.attr("axes") is not None else None
        steps = None
    if len(starts) != len(ends) or (axes is not None and len(axes) != len(starts)) or (
            steps is not None and len(steps) != len(starts)):
        ctx.fact(FactKind.RANK_MISMATCH, f"Slice starts/ends/axes/steps have different lengths "
                 f"({len(starts)}, {len(ends)}, {len(axes or starts)}, {len(steps or starts)})")
        return None
    normalized = normalize_axes(node, ctx, axes if axes is not None else list(range(len(starts))), rank)
    if normalized is None:
        return None
    steps = steps if steps is not None else [1] * len(starts)
    if any(not isinstance(s, int) for s in steps):
        unresolved(node, ctx, 4, "steps")
        return None
    if 0 in steps:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"Slice steps {steps} contain 0", input=_name(node, 4))
        return None
    return normalized, starts, ends, steps  # type: ignore[return-value]


@op("Slice")
def slice_op(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Per sliced axis, :func:`slice_length`; values (shape tensors) are sliced too."""
    x = _first(inputs)
    if x is None:
        return [UNKNOWN]
    assert x.shape is not None
    params = _slice_params(node, inputs, ctx, len(x.shape))
    if params is None:
        return [UNKNOWN]
    axes, starts, ends, steps = params
    shape = list(x.shape)
    inference = list(x.shape)
    for axis, start, end, step in zip(axes, starts, ends, steps):
        n = x.shape[axis]
        shape[axis] = slice_length(n, start, end, step)
        if isinstance(n, int) and isinstance(start, int) and isinstance(end, int):
            inference[axis] = slice_bounds(n, start, end, step, runtime=False)[2]
    if inference != shape:
        ctx.detail(onnx_inference_sizes=tuple(inference))
    value = source = _array(x)
    if source is not None and all(isinstance(v, int) for v in (*starts, *ends)):
        for axis, start, end, step in zip(axes, starts, ends, steps):
            first, last, _ = slice_bounds(source.shape[axis], start, end, step)  # type: ignore[arg-type]
            value = np.take(value, np.arange(first, last, step, dtype=np.int64), axis=axis)
    else:
        value = None
    return [Tensor(tuple(shape), value, x.dtype)]


# -- Split and Concat --------------------------------------------------------------------------------
def _split_sizes(
    node: Node, inputs: list[Tensor | None], ctx: Context, n: Dim, count: int
) -> list[Dim] | None:
    """Sizes of Split's outputs along the axis: ``split`` (attr < 13, input ≥ 13), ``num_outputs``
    (≥ 18: ⌈n/k⌉ each, the last one smaller) or an equal split that must divide."""
    if present(inputs, 1):
        sizes = param_ints(node, inputs, ctx, 1, "split")
        if sizes is None:
            return None
    elif node.attr("split") is not None:
        sizes = [int(s) for s in node.attr("split")]
    else:
        sizes = None
    if sizes is not None:
        if len(sizes) != count:
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"Split has {len(sizes)} sizes for {count} outputs",
                     attribute="split", value=tuple(sizes))
        elif dims_equal(sum(sizes[1:], sizes[0]) if sizes else 0, n) is False:
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"Split sizes {sizes} add up to {sum(sizes[1:], sizes[0])}, "
                     f"the axis has {n}", attribute="split", value=tuple(sizes), size=n)
        return list(sizes)
    parts = node.attr("num_outputs")
    if parts is not None:
        parts = int(parts)
        if n is None:
            return [None] * count
        chunk = (n + parts - 1) // parts
        last = n - chunk * (parts - 1)
        if isinstance(last, int) and last < 0:
            ctx.fact(FactKind.BAD_ATTRIBUTE, f"Split num_outputs {parts} does not fit an axis of size {n}; "
                     "onnxruntime rejects it", attribute="num_outputs", size=n)
            return [None] * count
        return [chunk] * (parts - 1) + [last]
    if isinstance(n, int) and n % count:
        ctx.fact(FactKind.BAD_ATTRIBUTE, f"Split of an axis of size {n} into {count} equal parts",
                 attribute="split", size=n, parts=count)
        return [None] * count
    return [None if n is None else n // count] * count


@op("Split")
def split(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """One output per part along ``axis``; values are split too."""
    x = _first(inputs)
    count = len(node.outputs)
    if x is None:
        return [UNKNOWN] * count
    assert x.shape is not None
    axes = normalize_axes(node, ctx, [int(node.attr("axis", 0))], len(x.shape), "axis")
    if axes is None:
        return [UNKNOWN] * count
    axis = axes[0]
    sizes = _split_sizes(node, inputs, ctx, x.shape[axis], count)
    if sizes is None:
        return [UNKNOWN] * count
    outputs = []
    source = _array(x)
    offset: Dim = 0
    for size in sizes[:count] + [None] * (count - len(sizes)):
        shape = (*x.shape[:axis], size, *x.shape[axis + 1:])
        value = None
        if source is not None and isinstance(offset, int) and isinstance(size, int):
            index = [slice(None)] * len(shape)
            index[axis] = slice(offset, offset + size)
            value = source[tuple(index)]
        offset = None if offset is None or size is None else offset + size
        outputs.append(Tensor(shape, value, x.dtype))
    return outputs


@op("Concat")
def concat(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """Shapes joined on ``axis`` (sizes summed); the other axes must agree.

    Inputs that differ on another axis are the mismatch this tool exists to find: one JOIN_MISMATCH
    fact per axis (as for broadcasting), and propagation goes on with the first input's size.
    """
    given = [(name, t) for name, t in zip(node.inputs, inputs) if t is not None]
    if not given or any(t.shape is None for _, t in given):
        return [UNKNOWN]
    names = [name for name, _ in given]
    shapes: list[tuple[Dim, ...]] = [t.shape for _, t in given]  # type: ignore[misc]
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        ctx.fact(FactKind.RANK_MISMATCH, "Concat inputs have different ranks: "
                 + ", ".join(f"{n} has rank {len(s)}" for n, s in zip(names, shapes)),
                 ranks=tuple(len(s) for s in shapes), tensors=tuple(names))
        return [UNKNOWN]
    if rank == 0:
        ctx.fact(FactKind.RANK_MISMATCH, "Concat inputs are scalars (rank 0)", ranks=(0,) * len(shapes),
                 tensors=tuple(names))
        return [UNKNOWN]
    axes = normalize_axes(node, ctx, [int(node.attr("axis", 0))], rank, "axis")
    if axes is None:
        return [UNKNOWN]
    axis = axes[0]
    result: list[Dim] = []
    for i in range(rank):
        sizes = [s[i] for s in shapes]
        if i == axis:
            result.append(None if any(d is None for d in sizes) else sum(sizes[1:], sizes[0]))  # type: ignore[arg-type]
            continue
        chosen = next((d for d in sizes if d is not None), None)
        if any(dims_equal(chosen, d) is False for d in sizes):
            listing = " vs ".join(f"{n} has {d}" for n, d in zip(names, sizes))
            ctx.fact(FactKind.JOIN_MISMATCH, f"Concat inputs differ on axis {i}: {listing}",
                     axis=i, sizes=tuple(sizes), tensors=tuple(names))
        result.append(chosen)
    value = None
    arrays = [_array(t) for _, t in given]
    if all(a is not None for a in arrays):
        try:
            value = _small(np.concatenate(arrays, axis=axis))
        except ValueError:  # the mismatch reported above
            value = None
    return [Tensor(tuple(result), value, given[0][1].dtype)]


# -- ops whose output is shaped like one input -------------------------------------------------------
@op("CumSum", "Trilu", "ScatterElements", "ScatterND", "Scatter", "ReverseSequence")
def like_data(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """The output has the first input's shape."""
    x = _first(inputs)
    return [UNKNOWN] if x is None else [Tensor(x.shape, dtype=x.dtype)]


@op("GatherElements")
def gather_elements(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """The output has the indices' shape."""
    indices = inputs[1] if len(inputs) > 1 else None
    data = inputs[0] if inputs else None
    if indices is None or indices.shape is None:
        return [UNKNOWN]
    return [Tensor(indices.shape, dtype=data.dtype if data is not None else None)]


@op("GatherND")
def gather_nd(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``indices.shape[:-1] + data.shape[batch_dims + indices.shape[-1]:]``."""
    data, indices = _first(inputs), inputs[1] if len(inputs) > 1 else None
    if data is None or indices is None or indices.shape is None or not indices.shape:
        return [UNKNOWN]
    assert data.shape is not None
    depth = indices.shape[-1]
    if not isinstance(depth, int):
        ctx.fact(FactKind.UNRESOLVED, "GatherND index depth (last dim of indices) is not known",
                 input=_name(node, 1))
        return [UNKNOWN]
    batch = int(node.attr("batch_dims", 0))
    return [Tensor((*indices.shape[:-1], *data.shape[batch + depth:]), dtype=data.dtype)]


@op("NonZero")
def nonzero(node: Node, inputs: list[Tensor | None], ctx: Context) -> list[Tensor]:
    """``(rank, count)``; the count depends on the data, so it is known only for a known value."""
    x = _first(inputs)
    if x is None or x.shape is None:
        return [UNKNOWN]
    source = _array(x)
    if source is None or source.ndim == 0 or any(isinstance(v, Expr) for v in source.flat):
        return [Tensor((len(x.shape), None), dtype=INT64)]
    where = np.nonzero(source.astype(float))
    count = len(where[0])
    value = [int(i) for axis in where for i in axis]
    return [Tensor((len(x.shape), count), make_value(value, (len(x.shape), count)), INT64)]
