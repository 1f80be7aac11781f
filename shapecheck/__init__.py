"""shapecheck — a static shape checker for convolutional networks.

The public API is re-exported here explicitly; everything else is private to the package. Heavy modules
(numpy, onnx) are imported lazily, so ``import shapecheck`` stays cheap for a CI linter.
"""

from __future__ import annotations

__version__ = "0.1.0"

from shapecheck.errors import LoadError, ShapecheckError, SpecError

__all__ = ["LoadError", "ShapecheckError", "SpecError", "__version__"]
