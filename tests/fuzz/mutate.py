"""Input generators for ``fuzz_inputs.py``: broken ONNX bytes and broken YAML text, reproducible by seed.

Every generator takes a :class:`random.Random` and returns ``(strategy, data)``; the same seed gives the
same input, so a failure seen in a long run can be replayed from its (seed, index) alone — and the input
itself is saved next to the report anyway.

Byte-level mutations (bit flips, overwrites, truncation, splices) test the protobuf layer and the
loader's handling of whatever parses; most of them end in a load error. Structure-aware mutations parse
a seed model, change one field to a hostile value (a zero stride, a 2**63 kernel, a Constant that makes
a Reshape ask for 10**12 elements, an input renamed into a cycle) and serialise it again: those reach
the engine, the rules and the NumPy confirmation, where the interesting crashes are.
"""

from __future__ import annotations

import glob
import os
import random
from collections.abc import Callable
from functools import cache
from typing import Any

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

#: Integers that break size arithmetic: zero, negatives, off-by-ones around powers of two, overflow.
INTERESTING_INTS: tuple[int, ...] = (
    0, 1, 2, 3, 4, 5, 7, 8, 16, 31, 32, 33, 63, 64, 65, 255, 256, -1, -2, -3, -64,
    2**16, 2**24, 2**24 + 1, 2**31 - 1, 2**31, -(2**31), 2**32, 2**53 + 1, 2**62, 2**63 - 1, -(2**63),
)
_BIG_INTS: tuple[int, ...] = (2**63, 2**64, 10**20, -(10**20), 10**100)
INTERESTING_FLOATS: tuple[float, ...] = (0.0, -0.0, 0.5, 1.5, 2.0, -1.0, 1e-30, 1e30, 3.4e38, float("inf"),
                                         float("-inf"), float("nan"), 1 / 3)


def interesting_int(rng: random.Random, *, big: bool = False) -> int:
    """Mostly an interesting int, sometimes a random one; ``big`` allows values beyond int64."""
    roll = rng.random()
    if roll < 0.7:
        return rng.choice(INTERESTING_INTS + (_BIG_INTS if big else ()))
    if roll < 0.9:
        return rng.randint(-8, 300)
    return rng.randint(-(2**40), 2**40)


# ==== seeds ===============================================================================================


def onnx_seed_paths() -> list[str]:
    """The ONNX fixtures and the light models shipped in the onnx wheel (real exported topologies)."""
    import onnx

    light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    return sorted(glob.glob(os.path.join(REPO, "fixtures", "onnx", "*.onnx"))) + \
        sorted(glob.glob(os.path.join(light, "*.onnx")))


@cache
def onnx_seeds() -> tuple[bytes, ...]:
    seeds = []
    for path in onnx_seed_paths():
        with open(path, "rb") as handle:
            seeds.append(handle.read())
    return tuple(seeds)


@cache
def onnx_models() -> tuple[Any, ...]:
    import onnx

    return tuple(onnx.load_from_string(data) for data in onnx_seeds())


@cache
def yaml_seeds() -> tuple[str, ...]:
    """The YAML fixtures and every YAML example in the rules' docstrings (the *Example* / *Use instead*)."""
    from shapecheck.rules import all_rules

    texts = []
    for path in sorted(glob.glob(os.path.join(REPO, "fixtures", "yaml", "*.y*ml"))):
        with open(path, encoding="utf-8") as handle:
            texts.append(handle.read())
    for declared in all_rules():
        for heading in ("Example", "Use instead"):
            block = declared.yaml_block(heading)
            if block:
                texts.append(block)
    return tuple(texts)


# ==== ONNX bytes ==========================================================================================


def onnx_bitflip(rng: random.Random) -> bytes:
    data = bytearray(rng.choice(onnx_seeds()))
    for _ in range(rng.choice((1, 1, 2, 4, 8, 16))):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def onnx_bytes(rng: random.Random) -> bytes:
    """Overwrite, insert or delete short byte runs — varint continuation bytes and 0xff among them."""
    data = bytearray(rng.choice(onnx_seeds()))
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data))
        run = bytes(rng.choice((0x00, 0xFF, 0x80, 0x7F, rng.randrange(256))) for _ in range(rng.randint(1, 16)))
        action = rng.random()
        if action < 0.5:
            data[at:at + len(run)] = run
        elif action < 0.75:
            data[at:at] = run
        else:
            del data[at:at + rng.randint(1, 64)]
    return bytes(data)


def onnx_truncate(rng: random.Random) -> bytes:
    data = rng.choice(onnx_seeds())
    roll = rng.random()
    if roll < 0.3:
        cut = rng.randrange(min(64, len(data)))
    elif roll < 0.6:
        cut = len(data) - 1 - rng.randrange(min(256, len(data)))
    else:
        cut = rng.randrange(len(data))
    return data[:cut]


def onnx_splice(rng: random.Random) -> bytes:
    """A prefix of one model and a suffix of another (or a chunk of one pasted into another)."""
    first, second = rng.choice(onnx_seeds()), rng.choice(onnx_seeds())
    if rng.random() < 0.6:
        return first[:rng.randrange(len(first))] + second[rng.randrange(len(second)):]
    start = rng.randrange(len(second))
    chunk = second[start:start + rng.randint(1, 4096)]
    at = rng.randrange(len(first))
    return first[:at] + chunk + first[at:]


# -- structure-aware ---------------------------------------------------------------------------------------

_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "Resize", "Upsample",
        "Pad", "Concat", "Add", "Mul", "Reshape", "Flatten", "Slice", "Gather", "Shape", "ConstantOfShape",
        "Expand", "Tile", "Range", "Squeeze", "Unsqueeze", "Transpose", "Split", "Cast", "Gemm", "MatMul",
        "BatchNormalization", "GroupNormalization", "LayerNormalization", "InstanceNormalization",
        "DepthToSpace", "SpaceToDepth", "ReduceMean", "ReduceSum", "Relu", "Identity", "Where", "Equal",
        "If", "Loop", "Constant", "Div", "Floor", "Ceil", "Sqrt", "Min", "Max", "Sum", "NonZero", "Einsum")
_AUTO_PADS = (b"NOTSET", b"SAME_UPPER", b"SAME_LOWER", b"VALID", b"", b"same_upper", b"\xff\xfe")


def _small_int_tensor(rng: random.Random, name: str) -> Any:
    import numpy as np
    from onnx import numpy_helper

    length = rng.choice((0, 1, 2, 3, 4, 5, 8))
    values = [interesting_int(rng) for _ in range(length)]
    array = np.array(values, dtype=np.int64).reshape(rng.choice(((length,), (length,), (1, length))))
    if length == 1 and rng.random() < 0.3:
        array = array.reshape(())
    return numpy_helper.from_array(array, name)


def _mutate_attribute(rng: random.Random, node: Any) -> None:
    from onnx import AttributeProto, helper

    if not node.attribute or rng.random() < 0.15:
        name = rng.choice(("kernel_shape", "strides", "pads", "dilations", "group", "axis", "auto_pad",
                           "output_padding", "output_shape", "ceil_mode", "perm", "axes", "mode", "to"))
        values = [interesting_int(rng) for _ in range(rng.randint(0, 6))]
        node.attribute.append(helper.make_attribute(name, values, attr_type=AttributeProto.INTS))
        return
    attr = rng.choice(node.attribute)
    roll = rng.random()
    if attr.type == AttributeProto.INTS and attr.ints and roll < 0.5:
        attr.ints[rng.randrange(len(attr.ints))] = interesting_int(rng)
    elif attr.type == AttributeProto.INTS and roll < 0.7:
        if attr.ints and rng.random() < 0.5:
            del attr.ints[rng.randrange(len(attr.ints))]
        else:
            attr.ints.append(interesting_int(rng))
    elif attr.type == AttributeProto.INT and roll < 0.7:
        attr.i = interesting_int(rng)
    elif attr.type == AttributeProto.STRING and roll < 0.7:
        attr.s = rng.choice((*_AUTO_PADS, b"nearest", b"linear", b"cubic", b"half_pixel", b"reflect", b"x" * 300))
    elif attr.type == AttributeProto.FLOAT and roll < 0.7:
        attr.f = rng.choice(INTERESTING_FLOATS)
    elif attr.type == AttributeProto.TENSOR and roll < 0.7:
        attr.t.CopyFrom(_small_int_tensor(rng, attr.t.name))
    else:  # the right name with the wrong kind of value
        kind = rng.choice((AttributeProto.INT, AttributeProto.INTS, AttributeProto.FLOAT, AttributeProto.STRING,
                           AttributeProto.FLOATS, AttributeProto.TENSOR, AttributeProto.GRAPH))
        replacement = {
            AttributeProto.INT: lambda: helper.make_attribute(attr.name, interesting_int(rng)),
            AttributeProto.INTS: lambda: helper.make_attribute(
                attr.name, [] if rng.random() < 0.3 else [interesting_int(rng)], attr_type=AttributeProto.INTS),
            AttributeProto.FLOAT: lambda: helper.make_attribute(attr.name, rng.choice(INTERESTING_FLOATS)),
            AttributeProto.STRING: lambda: helper.make_attribute(attr.name, "SAME_UPPER"),
            AttributeProto.FLOATS: lambda: helper.make_attribute(attr.name, [1.5, float("nan")]),
            AttributeProto.TENSOR: lambda: helper.make_attribute(attr.name, _small_int_tensor(rng, "t")),
            AttributeProto.GRAPH: lambda: helper.make_attribute(attr.name, helper.make_graph([], "g", [], [])),
        }[kind]()
        attr.CopyFrom(replacement)


def _mutate_value_info(rng: random.Random, info: Any) -> None:
    dims = info.type.tensor_type.shape.dim
    if not dims or rng.random() < 0.1:
        if rng.random() < 0.5:
            info.type.tensor_type.ClearField("shape")
        else:
            info.type.tensor_type.shape.dim.add().dim_value = interesting_int(rng)
        return
    dim = rng.choice(dims)
    roll = rng.random()
    if roll < 0.5:
        dim.dim_value = interesting_int(rng)
    elif roll < 0.8:
        dim.dim_param = rng.choice(("H", "W", "L", "N", "D", "batch", "H*2", "unk__1", "", "é", "H" * 500))
    elif roll < 0.9:
        dim.Clear()
    else:
        del dims[rng.randrange(len(dims))]


def onnx_structure(rng: random.Random) -> bytes:
    """One to three hostile edits of a parsed seed model, serialised again."""
    import onnx
    from onnx import helper

    model = onnx.ModelProto()
    model.CopyFrom(rng.choice(onnx_models()))
    graph = model.graph
    edits: list[Callable[[], None]] = []

    def attribute() -> None:
        if graph.node:
            _mutate_attribute(rng, rng.choice(graph.node))

    def input_shape() -> None:
        infos = list(graph.input) + list(graph.output) + list(graph.value_info)
        if infos:
            _mutate_value_info(rng, rng.choice(infos))

    def rewire() -> None:
        if not graph.node:
            return
        node = rng.choice(graph.node)
        tensors = [t for n in graph.node for t in (*n.input, *n.output)] + [i.name for i in graph.input]
        roll = rng.random()
        if roll < 0.4 and node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice([*tensors, "", "missing"])
        elif roll < 0.6 and node.output:
            node.output[rng.randrange(len(node.output))] = rng.choice([*tensors, ""])
        elif roll < 0.8 and node.input:
            del node.input[rng.randrange(len(node.input))]
        else:
            node.input.append(rng.choice(tensors))

    def op_type() -> None:
        if graph.node:
            node = rng.choice(graph.node)
            if rng.random() < 0.85:
                node.op_type = rng.choice(_OPS)
            else:
                node.domain = rng.choice(("com.microsoft", "ai.onnx", "ai.onnx.ml", "x" * 100, "custom"))

    def delete_or_duplicate() -> None:
        if not graph.node:
            return
        index = rng.randrange(len(graph.node))
        if rng.random() < 0.5:
            del graph.node[index]
        else:
            graph.node.insert(rng.randrange(len(graph.node) + 1), graph.node[index])
            if rng.random() < 0.7:
                graph.node[-1].name = graph.node[-1].name + "_dup"

    def constant_value() -> None:
        """A shape-arithmetic constant (or small initializer) gets hostile values: pads, sizes, scales."""
        constants = [n for n in graph.node if n.op_type == "Constant"]
        small = [t for t in graph.initializer if len(t.dims) <= 1 and (not t.dims or t.dims[0] <= 8)]
        if constants and (not small or rng.random() < 0.5):
            node = rng.choice(constants)
            del node.attribute[:]
            node.attribute.append(helper.make_attribute("value", _small_int_tensor(rng, "v")))
        elif small:
            tensor = rng.choice(small)
            tensor.CopyFrom(_small_int_tensor(rng, tensor.name))

    def initializer_dims() -> None:
        if not graph.initializer:
            return
        tensor = rng.choice(graph.initializer)
        if tensor.dims and rng.random() < 0.7:
            tensor.dims[rng.randrange(len(tensor.dims))] = interesting_int(rng)
        elif rng.random() < 0.5:
            tensor.dims.append(interesting_int(rng))
        else:
            tensor.data_location = onnx.TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", rng.choice(("../../etc/passwd", "/etc/shadow", "w.bin"))
            tensor.ClearField("raw_data")

    def opset() -> None:
        if model.opset_import:
            model.opset_import[0].version = rng.choice((0, 1, 6, 7, 9, 10, 11, 13, 17, 19, 22, 23, 99, -1, 2**40))
        else:
            model.opset_import.add().version = 17

    def data_type() -> None:
        tensors = list(graph.initializer) + [n.attribute[0].t for n in graph.node
                                              if n.op_type == "Constant" and n.attribute and n.attribute[0].t.dims]
        if tensors:
            rng.choice(tensors).data_type = rng.choice((0, 1, 2, 6, 7, 8, 9, 10, 11, 16, 17, 21, 99))
        elif graph.input:
            rng.choice(graph.input).type.tensor_type.elem_type = rng.choice((0, 7, 8, 99))

    edits = [attribute, attribute, attribute, input_shape, input_shape, rewire, op_type, delete_or_duplicate,
             constant_value, constant_value, initializer_dims, opset, data_type]
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        rng.choice(edits)()
    return model.SerializeToString()


ONNX_STRATEGIES: dict[str, Callable[[random.Random], bytes]] = {
    "bitflip": onnx_bitflip,
    "bytes": onnx_bytes,
    "truncate": onnx_truncate,
    "splice": onnx_splice,
    "structure": onnx_structure,
}
#: Share of each ONNX strategy in a run (structure-aware edits reach the engine; the rest the loader).
ONNX_WEIGHTS: dict[str, float] = {"bitflip": 0.2, "bytes": 0.1, "truncate": 0.1, "splice": 0.1, "structure": 0.5}


def onnx_input(rng: random.Random) -> tuple[str, bytes]:
    name = rng.choices(list(ONNX_WEIGHTS), weights=list(ONNX_WEIGHTS.values()))[0]
    return name, ONNX_STRATEGIES[name](rng)


# ==== YAML text ===========================================================================================

_HOSTILE_SNIPPETS: tuple[str, ...] = (
    "!!python/object/apply:os.system ['echo pwned']",
    "!!python/object:builtins.dict {}",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!timestamp 2001-12-14",
    "&a [*a]",
    "*undefined_alias",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{" * 2000,
    "'unterminated",
    "\"\\x00\\uffff\\U0010ffff\"",
    "0x7fffffffffffffff",
    "1e400",
    ".nan",
    "-.inf",
    "0o777",
    "1_000_000",
    "~",
    "yes",
    "2**63",
    "H//0",
    "(((((((((((H)))))))))))",
    "H" * 5000,
    "\t",
    "\ufeff",
    "? complex key\n: value",
    "<<: *defaults",
    "%YAML 1.1\n---",
    "--- \n...",
    "é\u202e\u0000",
)


def _number_swap(rng: random.Random, text: str) -> str:
    import re

    numbers = list(re.finditer(r"-?\d+", text))
    if not numbers:
        return text
    match = rng.choice(numbers)
    return text[:match.start()] + str(interesting_int(rng, big=True)) + text[match.end():]


def yaml_text_mutation(rng: random.Random) -> str:
    """Line, token and character edits of a seed document, with hostile snippets pasted in."""
    text = rng.choice(yaml_seeds())
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        lines = text.split("\n")
        roll = rng.random()
        if roll < 0.3:
            text = _number_swap(rng, text)
        elif roll < 0.4 and lines:
            del lines[rng.randrange(len(lines))]
            text = "\n".join(lines)
        elif roll < 0.5 and lines:
            i = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
            text = "\n".join(lines)
        elif roll < 0.6 and lines:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif roll < 0.75:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(_HOSTILE_SNIPPETS) + text[at:]
        elif roll < 0.85 and text:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(" \t\n:-[]{},&*!|>'\"#%@`?0123456789xHW_") + text[at + 1:]
        elif roll < 0.92:
            text = text[:rng.randrange(len(text) + 1)]
        else:
            other = rng.choice(yaml_seeds())
            text = text[:rng.randrange(len(text) + 1)] + other[rng.randrange(len(other) + 1):]
    return text


_VALUE_MAKERS: tuple[Callable[[random.Random], Any], ...] = (
    lambda rng: rng.randint(0, 9),  # plausible values first: half the edits keep the document loadable
    lambda rng: rng.randint(1, 4),
    lambda rng: [rng.randint(0, 5) for _ in range(rng.randint(1, 3))],
    lambda rng: rng.choice((True, False)),
    lambda rng: interesting_int(rng, big=True),
    lambda rng: [interesting_int(rng) for _ in range(rng.randint(0, 4))],
    lambda rng: [[interesting_int(rng), interesting_int(rng)] for _ in range(rng.randint(0, 3))],
    lambda rng: rng.choice(INTERESTING_FLOATS),
    lambda rng: rng.choice(("same", "valid", "zeros", "reflect", "nearest", "bilinear", "H", "H//2", "",
                            "x" * 1000, "tanh", "none", "H+W", "2*H-1", "H//0", "((H)")),
    lambda rng: rng.choice((True, False, None)),
    lambda rng: {"a": 1},
    lambda rng: [],
)


def _hostile_value(rng: random.Random) -> Any:
    return rng.choice(_VALUE_MAKERS)(rng)


def _plausible_value(rng: random.Random, old: Any) -> Any:
    """A small change of the same kind (an int stays a small int, a list keeps its length): the document
    usually still loads, and the engine sees a model that is only slightly off."""
    if isinstance(old, bool) or not isinstance(old, (int, list)):
        return rng.randint(1, 4)
    if isinstance(old, int):
        return rng.choice((old - 1, old + 1, rng.randint(0, 5), old * 2))
    if old and all(isinstance(v, int) and not isinstance(v, bool) for v in old):
        changed = list(old)
        changed[rng.randrange(len(changed))] = rng.randint(0, 5)
        return changed
    return old


def _mutate_tree(rng: random.Random, data: Any, depth: int = 0) -> Any:
    """Replace, delete or add one entry somewhere in a loaded YAML document (mostly inside ``layers``)."""
    if depth == 0 and isinstance(data, dict) and isinstance(data.get("layers"), list) and rng.random() < 0.75:
        data["layers"] = _mutate_tree(rng, data["layers"], 1)
        return data
    if isinstance(data, dict) and data and rng.random() < 0.97:
        key = rng.choice(list(data))
        roll = rng.random()
        if roll < 0.08:
            del data[key]
        elif roll < 0.16:
            data[rng.choice(("kernel_size", "stride", "padding", "dilation", "groups", "output_padding",
                             "expect", "input", "inputs", "axis", "size", "scale_factor", "extra", "dims"))] = \
                _hostile_value(rng)
        elif roll < 0.3 and key == "op":
            from shapecheck.load.yaml import LAYERS

            data[key] = rng.choice([*LAYERS, "Conv", "conv2d", ""])
        elif roll < 0.55 and key not in ("name", "op", "input", "inputs"):
            data[key] = _plausible_value(rng, data[key])
        elif roll < 0.75 and key not in ("name", "op", "input", "inputs"):
            data[key] = _hostile_value(rng)
        else:
            data[key] = _mutate_tree(rng, data[key], depth + 1)
        return data
    if isinstance(data, list) and data and rng.random() < 0.97:
        index = rng.randrange(len(data))
        roll = rng.random()
        if roll < 0.05:
            del data[index]
        elif roll < 0.1:
            data.insert(rng.randrange(len(data) + 1), data[index])
        elif roll < 0.15:
            data[index] = _hostile_value(rng)
        else:
            data[index] = _mutate_tree(rng, data[index], depth + 1)
        return data
    return _hostile_value(rng)


def yaml_tree_mutation(rng: random.Random) -> str:
    """A seed document loaded, one to three values made hostile, dumped again (reaches the engine)."""
    import yaml

    try:
        data = yaml.safe_load(rng.choice(yaml_seeds()))
    except yaml.YAMLError:
        return yaml_text_mutation(rng)
    for _ in range(rng.choice((1, 1, 2, 3))):
        data = _mutate_tree(rng, data)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=rng.choice((None, True, False)),
                          allow_unicode=True)


def yaml_alias_bomb(rng: random.Random) -> str:
    """A "billion laughs" document of random width and depth, sometimes inside a valid model."""
    width, depth = rng.randint(2, 10), rng.randint(3, 12)
    lines = ["a0: &a0 [lol]"]
    for level in range(1, depth):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    body = "\n".join(lines)
    if rng.random() < 0.5:
        return f"shapecheck: 1\ninputs: {{x: [1, 1, 8, 8]}}\n{body}\nlayers:\n  - {{op: relu, expect: *a{depth - 1}}}\n"
    return body + "\n"


YAML_TEXT_STRATEGIES: dict[str, Callable[[random.Random], str]] = {
    "text": yaml_text_mutation,
    "tree": yaml_tree_mutation,
    "bomb": yaml_alias_bomb,
}
YAML_TEXT_WEIGHTS: dict[str, float] = {"text": 0.5, "tree": 0.48, "bomb": 0.02}


def yaml_input(rng: random.Random) -> tuple[str, str]:
    name = rng.choices(list(YAML_TEXT_WEIGHTS), weights=list(YAML_TEXT_WEIGHTS.values()))[0]
    return name, YAML_TEXT_STRATEGIES[name](rng)


# ==== hypothesis-generated YAML models ==================================================================


def yaml_documents() -> Any:
    """A hypothesis strategy of YAML model documents: valid-looking structure, hostile values.

    Layers draw their op from the format's own layer table and their parameters from each layer
    model's fields, so a good share of documents load and reach the engine; values come from the
    interesting integers, lists, symbols and expressions. One in ten documents is an arbitrary YAML tree.
    """
    import yaml
    from hypothesis import strategies as st

    from shapecheck.load.yaml import LAYERS

    symbols = st.sampled_from(("H", "W", "L", "N", "D", "H2"))
    small = st.one_of(st.integers(1, 9), st.sampled_from(INTERESTING_INTS))
    dim = st.one_of(small, symbols, st.sampled_from(("H//2", "2*H", None, "", -1)))
    good = st.one_of(st.integers(1, 4), st.integers(1, 4), st.lists(st.integers(0, 3), min_size=1, max_size=3))
    hostile = st.one_of(
        small,
        st.lists(small, max_size=4),
        st.lists(st.lists(small, min_size=2, max_size=2), max_size=3),
        st.sampled_from(("same", "valid", "reflect", "nearest", "bilinear", "zeros", "H", "H//2 + 1", None, True)),
        st.floats(allow_nan=True, allow_infinity=True),
        st.lists(dim, max_size=5),
    )
    names = ("x", "y", "l0", "l1", "l2", "l3", "l4", "l5", "missing")

    def rarely(draw: Callable[..., Any], usual: Any, odd: Any, one_in: int = 12) -> Any:
        """Mostly a well-formed value, so that documents load and reach the engine; sometimes a hostile one."""
        # sampled_from leans towards its first entries (hypothesis shrinks towards them): "usual" first.
        return draw(odd) if draw(st.sampled_from((False,) * (one_in - 1) + (True,))) else draw(usual)

    @st.composite
    def layer(draw: Callable[..., Any], index: int) -> dict[str, Any]:
        op = draw(st.sampled_from(sorted(LAYERS)))
        fields = LAYERS[op].model_fields
        optional = [f for f, info in fields.items()
                    if f not in ("op", "name", "input", "inputs", "expect") and not info.is_required()]
        entry: dict[str, Any] = {"name": f"l{index}", "op": op}
        for field_name, info in fields.items():
            if info.is_required() and field_name not in ("op", "name", "inputs") and draw(st.integers(0, 29)):
                entry[field_name] = rarely(draw, st.integers(1, 8), hostile)
        for field_name in draw(st.lists(st.sampled_from(optional), max_size=3, unique=True)) if optional else ():
            usual = st.booleans() if fields[field_name].annotation is bool else good
            entry[field_name] = rarely(draw, usual, hostile, 4)
        if "inputs" in fields:
            earlier = st.sampled_from(("x", *(f"l{i}" for i in range(index))))
            entry["inputs"] = rarely(draw, st.lists(earlier, min_size=2, max_size=3),
                                     st.lists(st.sampled_from(names), max_size=3))
        elif rarely(draw, st.just(False), st.just(True), 10):
            entry["input"] = draw(st.sampled_from(names))
        if rarely(draw, st.just(False), st.just(True), 10):
            entry["expect"] = draw(st.lists(dim, max_size=5))
        if rarely(draw, st.just(False), st.just(True), 50):
            entry[draw(st.text(max_size=8))] = draw(hostile)
        return entry

    @st.composite
    def model(draw: Callable[..., Any]) -> dict[str, Any]:
        rank = rarely(draw, st.sampled_from((3, 4, 4, 4, 5)), st.sampled_from((1, 2, 6)))
        spatial = st.one_of(st.integers(1, 70), st.integers(1, 70), symbols)
        shape = [rarely(draw, st.just(1), st.sampled_from((2, 3, 0)), 30), draw(st.integers(1, 8))]
        shape += [rarely(draw, spatial, dim, 20) for _ in range(rank - 2)]
        document: dict[str, Any] = {"shapecheck": rarely(draw, st.just(1), st.sampled_from((2, "1", None, 1.0)), 30)}
        document["inputs"] = {"x": shape[:rank]}
        if rarely(draw, st.just(False), st.just(True), 10):
            document["inputs"]["y"] = rarely(draw, st.just(list(shape[:rank])), st.lists(dim, max_size=5), 4)
        symbols_used = sorted({d for d in shape if isinstance(d, str)})
        if symbols_used and draw(st.booleans()):
            document["dims"] = {name: rarely(draw, st.integers(1, 70), st.one_of(small, st.just("big")), 30)
                                for name in symbols_used}
        count = draw(st.integers(1, 6))
        document["layers"] = [draw(layer(i)) for i in range(count)]
        if rarely(draw, st.just(False), st.just(True), 10):
            document["outputs"] = draw(st.lists(st.sampled_from(names), max_size=2))
        return document

    trees = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
        lambda children: st.one_of(st.lists(children, max_size=4),
                                   st.dictionaries(st.text(max_size=8), children, max_size=4)),
        max_leaves=30,
    )
    documents = st.one_of(model(), model(), model(), model(), model(), model(), model(), model(), model(),
                          trees.map(lambda tree: {"shapecheck": 1, "layers": tree}))
    flow = st.sampled_from((None, True, False))
    return st.tuples(documents, flow).map(
        lambda pair: yaml.safe_dump(pair[0], sort_keys=False, default_flow_style=pair[1], allow_unicode=True))

