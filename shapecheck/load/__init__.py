"""Loaders: a model file in, a :class:`~shapecheck.graph.ModelGraph` out.

:func:`load_model` picks the loader by the file's suffix and imports it only then, so reading a YAML
model never imports ``onnx`` (and reading an ONNX model never imports PyYAML or pydantic).
"""

from __future__ import annotations

import os
from pathlib import Path

from shapecheck.errors import LoadError
from shapecheck.graph import ModelGraph

__all__ = ["SUFFIXES", "load_model"]

#: File suffixes shapecheck reads, and the format each one means.
SUFFIXES: dict[str, str] = {".yaml": "yaml", ".yml": "yaml", ".onnx": "onnx"}


def load_model(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> ModelGraph:
    """Read an ``.onnx``, ``.yaml`` or ``.yml`` model; any other suffix is a :class:`LoadError`.

    ``max_bytes`` limits the file size (``--max-file-size``); the default depends on the format (2 GB
    for ONNX, protobuf's own limit; 10 MB for YAML, a few kilobytes being usual).
    """
    text = str(path)
    kind = SUFFIXES.get(Path(text).suffix.lower())
    if kind == "yaml":
        from shapecheck.load.yaml import load_yaml

        return load_yaml(text, max_bytes=max_bytes)
    if kind == "onnx":
        from shapecheck.load.onnx import load_onnx

        return load_onnx(text, max_bytes=max_bytes)
    known = ", ".join(SUFFIXES)
    raise LoadError(f"unknown model format {Path(text).suffix or '(no suffix)'!r}: shapecheck reads {known}",
                    path=text)
