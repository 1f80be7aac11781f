"""Writing verified attribute fixes back into the model file, touching nothing else.

ONNX: only the named attributes of the named nodes change; initializers (weights) are copied through
untouched and the result passes ``onnx.checker``. YAML: the text is edited in place — the changed key's
value is replaced, or the key is added to the layer's mapping — so comments and the formatting of every
other line survive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shapecheck.errors import LoadError
from shapecheck.findings import Fix

__all__ = ["apply_to_onnx", "apply_to_yaml", "yaml_value"]

#: ONNX attribute → YAML key, for the attributes fixes change.
YAML_KEYS = {"output_padding": "output_padding", "ceil_mode": "ceil_mode", "pads": "padding"}


def apply_to_onnx(path: str, fixes: Sequence[Fix], out_path: str) -> None:
    """Load ``path``, set each fix's attribute on its node, check and save to ``out_path``."""
    import onnx
    from onnx import helper

    model = onnx.load(path, load_external_data=False)
    by_name = {node.name: node for node in model.graph.node}
    for fix in fixes:
        node = by_name.get(fix.node or "")
        if node is None or fix.attribute is None:
            raise LoadError(f"cannot apply fix {fix.title!r}: no node named {fix.node!r}", path=path)
        kept = [a for a in node.attribute if a.name != fix.attribute]
        del node.attribute[:]
        node.attribute.extend(kept)
        value = fix.value if isinstance(fix.value, (list, tuple)) else int(fix.value)
        node.attribute.append(helper.make_attribute(fix.attribute, value))
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as error:  # e.g. external data outside the model's directory
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LoadError(f"the fixed model does not pass onnx.checker, not written: {message}", path=path) from None
    onnx.save(model, out_path)


def yaml_value(attribute: str, value: Any) -> str:
    """The YAML text of a fixed value, in the YAML format's PyTorch terms."""
    if attribute == "ceil_mode":
        return "true" if value else "false"
    if attribute == "pads":
        rank = len(value) // 2
        pairs = [[value[i], value[i + rank]] for i in range(rank)]
        return "[" + ", ".join(f"[{b}, {e}]" for b, e in pairs) + "]"
    if isinstance(value, (list, tuple)):
        return str(value[0]) if len(set(value)) == 1 else "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _layer_mapping(root: Any, line: int, column: int) -> Any:
    import yaml

    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode) and (node.start_mark.line + 1, node.start_mark.column + 1) == (
            line, column
        ):
            return node
        if isinstance(node, yaml.MappingNode):
            stack.extend(v for pair in node.value for v in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


def apply_to_yaml(text: str, edits: Sequence[tuple[int, int, str, Any]], path: str = "<yaml>") -> str:
    """Apply ``(line, column, attribute, value)`` edits to the layer mappings starting at line:column."""
    import yaml

    # Edits are applied from the end of the text backwards so earlier offsets stay valid.
    planned: list[tuple[int, int, str]] = []
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    for line, column, attribute, value in edits:
        key = YAML_KEYS.get(attribute)
        if key is None:
            raise LoadError(f"the YAML format has no key for the attribute {attribute!r}", path=path)
        mapping = _layer_mapping(root, line, column)
        if mapping is None:
            raise LoadError(f"no layer mapping starts at {line}:{column}", path=path)
        new = yaml_value(attribute, value)
        existing = next((v for k, v in mapping.value if k.value == key), None)
        if existing is not None:
            planned.append((existing.start_mark.index, existing.end_mark.index, new))
        elif mapping.flow_style:
            close = mapping.end_mark.index - 1  # the closing brace
            planned.append((close, close, f", {key}: {new}"))
        else:
            last = mapping.value[-1][1]
            indent = " " * mapping.value[0][0].start_mark.column
            end = last.end_mark.index
            planned.append((end, end, f"\n{indent}{key}: {new}"))
    for start, end, replacement in sorted(planned, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def yaml_edits(fixes: Sequence[Fix], locations: Mapping[str, tuple[int, int]]) -> list[tuple[int, int, str, Any]]:
    """Turn fixes into text edits at their layers' ``(line, column)``."""
    edits = []
    for fix in fixes:
        line, column = locations[fix.node or ""]
        edits.append((line, column, fix.attribute or "", fix.value))
    return edits
