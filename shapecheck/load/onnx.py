"""Read an ONNX file into a :class:`~shapecheck.graph.ModelGraph` without reading its weights.

What this loader promises:

* The file is read with a size limit and parsed from bytes (``onnx.load_from_string``): a file named by
  an external-data entry is never opened;
  weight shapes come from initializer dims, and only small integer / float tensors (pads, sizes, scales,
  shape arithmetic) are read as values.
* Model-local functions are inlined first (PyTorch's newer exporter emits them).
* Constant nodes become constants; attributes become plain Python values (nothing downstream sees a
  protobuf); If/Loop/Scan bodies are reported as not checked, never silently dropped.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from shapecheck.errors import LoadError
from shapecheck.graph import LoadNote, ModelGraph, Node, TensorSpec
from shapecheck.load._files import read_model_bytes
from shapecheck.symbolic import Dim, Expr, declared_shape

__all__ = ["MAX_VALUE_ELEMENTS", "graph_from_model", "load_onnx"]

#: Tensors up to this many elements are read as values (shape arithmetic); larger ones keep only a shape.
MAX_VALUE_ELEMENTS = 64
#: ... and up to this rank: NumPy's flat iterator (used throughout the value rules) stops at 32 dims.
MAX_VALUE_RANK = 32
#: Default largest file read, in bytes; a model larger than this is refused with a clear message.
MAX_FILE_BYTES = 2 << 30

_INTEGER_TYPES = {
    TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8,
    TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64, TensorProto.BOOL,
}
_FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
_SUBGRAPH_OPS = {"If", "Loop", "Scan"}


def _text(value: str | bytes) -> str:
    """A protobuf string field as text: protobuf hands back ``bytes`` when the field is not valid UTF-8
    (proto2 does not enforce it), and such a name must not reach the rules or the JSON report as bytes."""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _texts(values: Sequence[str | bytes]) -> tuple[str, ...]:
    """Repeated string fields as text, interned: protobuf makes a new ``str`` at every access, so a tensor
    name read as one node's output and another's input would otherwise be held twice (a 100k-node model
    holds 450k names). A sequence, not any iterable: the fallback for ``bytes`` reads it a second time."""
    try:
        return tuple(map(sys.intern, values))  # TypeError for bytes: only str can be interned
    except TypeError:
        return tuple(map(sys.intern, map(_text, values)))


def _parse(data: bytes, path: str) -> onnx.ModelProto:
    try:
        # From bytes, not from the path: there is no directory to resolve external data against, so no
        # external-data entry (``../../etc/passwd``, an absolute path) can ever be opened.
        model = onnx.load_from_string(data)
    except Exception as error:  # protobuf raises DecodeError, RuntimeWarning-ish, ValueError…
        raise LoadError(f"not a readable ONNX model ({type(error).__name__}: {error})", path=path) from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise LoadError("not an ONNX model: it has no graph (an empty or truncated file?)", path=path)
    return model


def _inline(model: onnx.ModelProto, path: str) -> onnx.ModelProto:
    if not model.functions:
        return model
    try:
        from onnx import inliner

        return inliner.inline_local_functions(model)
    except Exception as error:
        raise LoadError(f"could not inline the model's local functions: {error}", path=path) from None


def _opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if _text(entry.domain) in ("", "ai.onnx"):
            return int(entry.version)
    return 1


def _type_shape(value_info: onnx.ValueInfoProto) -> tuple[Dim, ...] | None:
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(_text(dim.dim_param))
        else:
            dims.append(None)
    return declared_shape(tuple(dims))


def _is_external(tensor: TensorProto) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL


def _tensor_value(tensor: TensorProto) -> Any:
    """Small integer / float tensors as NumPy object arrays of Python numbers; everything else ``None``.

    The element count is a Python product (``np.prod`` wraps around on hostile dims such as 2**62), and
    a small tensor whose data does not match its dims is a load error, not a NumPy traceback.
    """
    if any(d < 0 for d in tensor.dims):
        raise LoadError(f"tensor {_text(tensor.name)!r} has a negative dim: {list(tensor.dims)}")
    if _is_external(tensor) or math.prod(tensor.dims) > MAX_VALUE_ELEMENTS or len(tensor.dims) > MAX_VALUE_RANK:
        return None
    if tensor.data_type not in _INTEGER_TYPES and tensor.data_type not in _FLOAT_TYPES:
        return None
    try:
        array = numpy_helper.to_array(tensor)
    except Exception as error:  # data of another length than the dims say, a bad raw_data size…
        raise LoadError(f"tensor {_text(tensor.name)!r} (dims {list(tensor.dims)}): its data does not match "
                        f"its dims or type ({type(error).__name__}: {error})") from None
    cast = int if tensor.data_type in _INTEGER_TYPES else float
    return np.array([cast(v) for v in array.reshape(-1)], dtype=object).reshape(array.shape)


def _tensor_spec(tensor: TensorProto) -> TensorSpec:
    return TensorSpec(tuple(int(d) for d in tensor.dims), _tensor_value(tensor), int(tensor.data_type))


def _attribute(attr: AttributeProto) -> Any:
    """A plain Python value; the common kinds first (this runs once per attribute of a large model)."""
    kind = attr.type
    if kind == _INTS:
        return tuple(attr.ints)
    if kind == _INT:
        return attr.i
    if kind == _STRING:
        return attr.s.decode("utf-8", "replace")
    if kind == _FLOAT:
        return attr.f
    if kind == _FLOATS:
        return tuple(attr.floats)
    if kind == _STRINGS:
        return tuple(s.decode("utf-8", "replace") for s in attr.strings)
    if kind == _TENSOR:
        return _tensor_spec(attr.t)
    return None  # GRAPH(S), SPARSE_TENSOR, TYPE_PROTO: not read


_INTS, _INT, _STRING = AttributeProto.INTS, AttributeProto.INT, AttributeProto.STRING
_FLOAT, _FLOATS, _STRINGS, _TENSOR = (AttributeProto.FLOAT, AttributeProto.FLOATS, AttributeProto.STRINGS,
                                      AttributeProto.TENSOR)
_SHAREABLE_KINDS = frozenset({_INTS, _INT, _STRING, _STRINGS})


@dataclass(frozen=True)
class _Schema:
    """What the ONNX schema of an op says about a node's structure: attribute kinds, inputs, outputs."""

    kinds: dict[str, int]
    #: (name, required) of each formal input, in order; the last may be variadic.
    inputs: tuple[tuple[str, bool], ...]
    max_inputs: int
    #: (name, required) of each formal output, in order.
    outputs: tuple[tuple[str, bool], ...] = ()


@cache
def _schema(op: str, opset: int) -> _Schema | None:
    """The schema of ``op`` at the model's opset, else the newest one (a model may use an op before the
    opset that introduced it); ``None`` for an op ONNX does not know."""
    single = onnx.defs.OpSchema.FormalParameterOption.Single
    for version in (min(max(opset, 1), 1 << 30), None):
        try:
            schema = onnx.defs.get_schema(op, version, "") if version else onnx.defs.get_schema(op, "")
        except Exception:  # SchemaError: unknown op, or no version at or below the opset
            continue
        return _Schema({name: int(attr.type) for name, attr in schema.attributes.items()},
                       tuple((formal.name, formal.option == single) for formal in schema.inputs),
                       schema.max_input,
                       tuple((formal.name, formal.option == single) for formal in schema.outputs))
    return None


@cache
def _kinds_in_any_version() -> dict[str, dict[str, frozenset[int]]]:
    """Attribute kinds over every version of every standard op (built once, only when needed): an
    attribute the opset's schema no longer has (Unsqueeze ``axes`` before opset 13) is still read by
    the op rules, so its kind is checked against the versions that had it."""
    kinds: dict[str, dict[str, set[int]]] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain in ("", "ai.onnx"):
            for name, attr in schema.attributes.items():
                kinds.setdefault(schema.name, {}).setdefault(name, set()).add(int(attr.type))
    return {op: {name: frozenset(k) for name, k in attrs.items()} for op, attrs in kinds.items()}


def _structure_verdicts(opset: int) -> Callable[[str, tuple[tuple[str, int], ...], tuple[str, ...],
                                               tuple[str, ...]], str | None]:
    """Checks a standard op's node against its schema; the verdict is remembered per structure signature.

    A node the schema does not allow is a malformed model; it is said here, once, instead of letting an op
    rule trip over it (onnxruntime refuses such a model at load time, too):

    * an attribute of another kind than declared — ``strides`` as one INT, ``auto_pad`` as INTS, a GRAPH
      where a list belongs;
    * a required input missing or given as ``""`` (a MaxPool without input), or more inputs than the op
      takes; a required output missing (a ConvTranspose without output).

    The verdict depends only on the op, the opset, the attributes' names and kinds and which inputs are
    given, and a large model repeats a few such signatures: the signature is cheap to build (an input
    count when no input is omitted), and each distinct one is checked once per file.
    """
    verdicts: dict[tuple[object, ...], str | None] = {}

    def verdict(op: str, attributes: tuple[tuple[str, int], ...], inputs: tuple[str, ...],
                outputs: tuple[str, ...]) -> str | None:
        given: int | tuple[bool, ...] = len(inputs) if "" not in inputs else tuple(map(bool, inputs))
        produced = bool(outputs) and bool(outputs[0])
        key = (op, attributes, given, produced)
        try:
            return verdicts[key]
        except KeyError:
            flags = (True,) * given if isinstance(given, int) else given
            problem = verdicts[key] = _structure_problem(op, opset, attributes, flags, (produced,))
            return problem

    return verdict


@cache
def _structure_problem(op: str, opset: int, attributes: tuple[tuple[str, int], ...],
                       given: tuple[bool, ...], produced: tuple[bool, ...] = ()) -> str | None:
    schema = _schema(op, opset)
    if schema is None:
        return None
    for attr_name, attr_kind in attributes:
        kind = schema.kinds.get(attr_name)
        allowed = {kind} if kind is not None else _kinds_in_any_version().get(op, {}).get(attr_name, ())
        if allowed and attr_kind not in allowed:
            declared = " or ".join(sorted(_kind_name(k) for k in allowed))
            return f": attribute {attr_name!r} is {_kind_name(attr_kind)}, but {op} declares it {declared}"
    for index, (formal, required) in enumerate(schema.inputs):
        if required and (index >= len(given) or not given[index]):
            return f": its required input {formal!r} (number {index + 1}) is missing"
    if len(given) > schema.max_inputs:
        return f" has {len(given)} inputs; {op} takes at most {schema.max_inputs}"
    for index, (formal, required) in enumerate(schema.outputs):
        if required and index == 0 and (not produced or not produced[0]):
            return f": its output {formal!r} is missing"
    return None


def _kind_name(kind: int) -> str:
    try:
        return AttributeProto.AttributeType.Name(kind)
    except ValueError:
        return f"kind {kind}"


def _constant_spec(node: onnx.NodeProto) -> TensorSpec | None:
    """A Constant node's output as a TensorSpec (its ``value``, ``value_int(s)`` or ``value_float(s)``)."""
    for attr in node.attribute:
        value = _attribute(attr)
        if isinstance(value, TensorSpec):
            return value
        name = _text(attr.name)
        if name in ("value_int", "value_float"):
            return TensorSpec((), np.array(value, dtype=object), None)
        if name in ("value_ints", "value_floats"):
            return TensorSpec((len(value),), np.array(list(value), dtype=object), None)
    return None


def _unique_name(wanted: str, op: str, index: int, taken: set[str]) -> str:
    name = wanted or f"{op}_{index}"
    candidate, suffix = name, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{name}#{suffix}"
    taken.add(candidate)
    return candidate


def _nodes(graph: onnx.GraphProto, constants: dict[str, TensorSpec], notes: list[LoadNote],
           opset: int) -> Iterable[Node]:
    """The graph's nodes as :class:`Node`; Constant nodes go to ``constants`` instead.

    This loop runs once per node of the largest models, so each protobuf field is read once and the
    per-node work is kept to lookups (protobuf access and ``Node`` construction are most of its time)."""
    taken: set[str] = set()
    shared: dict[Any, Any] = {}  # one dict per distinct set of attributes (see _attributes)
    verdict = _structure_verdicts(opset)
    intern = sys.intern
    for index, proto in enumerate(graph.node):
        op, domain, name = proto.op_type, proto.domain, proto.name
        if type(op) is not str or type(domain) is not str or type(name) is not str:  # not valid UTF-8
            op, domain, name = _text(op), _text(domain), _text(name)
        op, domain = intern(op), intern(domain)
        outputs, inputs = _texts(proto.output), _texts(proto.input)
        if not name or name in taken:
            name = _unique_name(name, op, index, taken)
        else:
            taken.add(name)
        raw = [(_text(a.name), a.type, a) for a in proto.attribute] if len(proto.attribute) else []
        if domain in ("", "ai.onnx"):
            problem = verdict(op, tuple([(n, k) for n, k, _ in raw]) if raw else (), inputs, outputs)
            if problem is not None:
                raise LoadError(f"node {name!r} ({op}){problem}")
            if op == "Constant" and len(outputs) == 1:
                spec = _constant_spec(proto)
                if spec is not None:
                    constants[outputs[0]] = spec
                    continue
        if op in _SUBGRAPH_OPS:
            message = f"the body of {op} node {name!r} is not checked"
            notes.append(LoadNote("subgraph", message, name))
        yield Node(name, op, inputs, outputs, _attributes(raw, shared) if raw else {},
                   "" if domain == "ai.onnx" else domain, None, index)


def _attributes(raw: list[tuple[str, int, AttributeProto]], shared: dict[Any, Any]) -> dict[str, Any]:
    """A node's attributes as plain values. Nodes with the same attributes share one dict (nothing mutates a
    loaded node's attributes: patches build new nodes), so a 100k-node model holds each distinct set once.

    Only int and string kinds are shared: as dict keys a float would merge 0.0 with -0.0, and among these
    kinds no two different values compare equal (an INT is never a tuple, ``1 != "1"``)."""
    attrs = {}
    shareable = True
    for name, kind, proto in raw:
        value = _attribute(proto)
        if kind not in _SHAREABLE_KINDS:
            shareable = False
            if isinstance(value, TensorSpec):
                value = value.value if value.value is not None else value
        attrs[name] = value
    if not shareable or not attrs:
        return attrs
    return shared.setdefault(tuple(attrs.items()), attrs)


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple[Dim, ...]]:
    """ONNX's own shape inference, run once and only when an op shapecheck has no rule for needs it."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        return {}
    declared = {_text(d.dim_param) for vi in model.graph.input for d in vi.type.tensor_type.shape.dim
                if d.dim_param}
    shapes: dict[str, tuple[Dim, ...]] = {}
    for info in list(inferred.graph.value_info) + list(inferred.graph.output):
        shape = _type_shape(info)
        if shape is not None:
            # Inference invents fresh ``unk__N`` names; they say nothing, so they become unknown.
            shapes[_text(info.name)] = tuple(d if not isinstance(d, Expr) or d.symbols() <= declared else None
                                      for d in shape)
    return shapes


def load_onnx(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> ModelGraph:
    """Load an ONNX model file (at most ``max_bytes``, default :data:`MAX_FILE_BYTES`). Raises
    :class:`LoadError` for anything that is not a readable model."""
    path = os.fspath(path)
    data = read_model_bytes(path, MAX_FILE_BYTES if max_bytes is None else max_bytes, "ONNX")
    # Nothing holds the parsed model past _read_parts (in memory a ModelProto is about ten times its file),
    # so it is freed before the graph builds its indexes; the graph keeps the file's bytes instead, for
    # ONNX's shape inference, which only ops without a rule need.
    parts = _located(path, lambda: _read_parts(_parse(data, path), path))
    return _located(path, lambda: _build(parts, path, lambda: _inferred_shapes(_inline(_parse(data, path), path))))


def graph_from_model(model: onnx.ModelProto, path: str = "<model>") -> ModelGraph:
    """Build the graph of an in-memory model (``path`` names it in messages)."""
    parts = _located(path, lambda: _read_parts(model, path))
    return _located(path, lambda: _build(parts, path, lambda: _inferred_shapes(_inline(model, path))))


def _located(path: str, step: Callable[[], Any]) -> Any:
    try:
        return step()
    except LoadError as error:  # raised deep in tensor reading, where the path is not known
        error.path = error.path or path
        raise


@dataclass
class _Parts:
    """What the graph needs from a ModelProto, read out so that the proto can be freed."""

    nodes: list[Node]
    inputs: dict[str, TensorSpec]
    outputs: list[str]
    constants: dict[str, TensorSpec]
    value_info: dict[str, tuple[Dim, ...]]
    opset: int
    notes: list[LoadNote]


def _read_parts(model: onnx.ModelProto, path: str) -> _Parts:
    model = _inline(model, path)
    graph = model.graph
    notes: list[LoadNote] = []
    constants = {_text(t.name): _tensor_spec(t) for t in graph.initializer}
    if any(_is_external(t) for t in graph.initializer):
        notes.append(LoadNote("external-data", "the weights are stored as external data and were not read; "
                              "their shapes come from the initializer dims"))
    inputs = {
        _text(vi.name): TensorSpec(_type_shape(vi), None, int(vi.type.tensor_type.elem_type) or None)
        for vi in graph.input
        if _text(vi.name) not in constants
    }
    nodes = list(_nodes(graph, constants, notes, _opset(model)))
    value_info = {}
    for info in list(graph.value_info) + list(graph.output):
        shape = _type_shape(info)
        if shape is not None and all(d is not None for d in shape):
            value_info[_text(info.name)] = shape
    return _Parts(nodes, inputs, [_text(o.name) for o in graph.output], constants, value_info, _opset(model), notes)


def _build(parts: _Parts, path: str, fallback: Callable[[], dict[str, tuple[Dim, ...]]]) -> ModelGraph:
    return ModelGraph(
        path=path,
        format="onnx",
        nodes=parts.nodes,
        inputs=parts.inputs,
        outputs=parts.outputs,
        constants=parts.constants,
        value_info=parts.value_info,
        opset=parts.opset,
        notes=parts.notes,
        fallback_shapes=fallback,
    )
