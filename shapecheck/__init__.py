"""shapecheck — a static shape checker for convolutional networks.

The public API is re-exported here explicitly; everything else is private to the package::

    import shapecheck

    report = shapecheck.check("unet.onnx", dims={"H": 37, "W": 37})
    for finding in report.errors:
        print(finding.code, finding.node, finding.fixes[0].title if finding.fixes else "")

``load``, ``check``, ``fix`` and ``sizes`` (and the ``Report`` and ``FixResult`` types) live in
:mod:`shapecheck.api`; ``shapecheck.testing.assert_no_findings`` puts a model check into a pytest suite in
one line. Heavy modules (numpy, onnx, networkx) are imported only when a function is called, so
``import shapecheck`` stays cheap for a CI linter: the names resolve on first use (module ``__getattr__``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from shapecheck.errors import LoadError, ShapecheckError, SpecError

__all__ = [
    "Finding",
    "Fix",
    "FixResult",
    "LoadError",
    "Related",
    "Report",
    "Severity",
    "ShapecheckError",
    "SpecError",
    "__version__",
    "check",
    "fix",
    "load",
    "sizes",
    "testing",
]

#: Lazily resolved names and the module each comes from.
_LAZY: dict[str, str] = {
    "Report": "shapecheck.api",
    "FixResult": "shapecheck.api",
    "Finding": "shapecheck.findings",
    "Fix": "shapecheck.findings",
    "Related": "shapecheck.findings",
    "Severity": "shapecheck.findings",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "testing":
        return importlib.import_module("shapecheck.testing")
    raise AttributeError(f"module 'shapecheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Entry:
    """A public function that shares its name with a module of the package.

    ``shapecheck.check`` is the API function, and ``shapecheck/check.py`` the pipeline behind it (likewise
    ``load``, ``fix``, ``sizes``). Importing a submodule rebinds the parent's attribute of that name to
    the module, which would silently replace the function, depending on import order. So the attribute
    is this object: calling it calls :mod:`shapecheck.api`'s function; any other attribute is the
    module's (``shapecheck.check.check_file``, ``import shapecheck.check as c`` and ``monkeypatch`` keep
    working); ``help()`` and ``inspect.signature()`` show the function.
    """

    __slots__ = ("_function", "_module")

    def __init__(self, function: str, module: str) -> None:
        object.__setattr__(self, "_function", function)
        object.__setattr__(self, "_module", module)

    def _target(self) -> Any:
        return getattr(importlib.import_module("shapecheck.api"), self._function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self._target().__doc__

    @property
    def __signature__(self) -> Any:
        import inspect

        return inspect.signature(self._target())

    @property
    def __wrapped__(self) -> Any:
        return self._target()

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self._module), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(importlib.import_module(self._module), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(importlib.import_module(self._module), name)

    def __repr__(self) -> str:
        return f"<function shapecheck.{self._function} (and module {self._module})>"


#: API functions named like a submodule; see :class:`_Entry`.
_ENTRIES = {"load": "shapecheck.load", "check": "shapecheck.check", "fix": "shapecheck.fix",
            "sizes": "shapecheck.sizes"}

if TYPE_CHECKING:
    from shapecheck import testing
    from shapecheck.api import FixResult, Report, check, fix, load, sizes
    from shapecheck.findings import Finding, Fix, Related, Severity
else:
    load = _Entry("load", "shapecheck.load")
    check = _Entry("check", "shapecheck.check")
    fix = _Entry("fix", "shapecheck.fix")
    sizes = _Entry("sizes", "shapecheck.sizes")


class _Package(types.ModuleType):
    """The ``shapecheck`` module, keeping the API functions when the import system binds a submodule."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _ENTRIES and isinstance(value, types.ModuleType):
            return  # ``import shapecheck.check``: the module stays reachable through the entry
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
