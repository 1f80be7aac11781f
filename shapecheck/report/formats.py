"""The output formats of ``shapecheck check``, registered by name.

A renderer is a function ``(reports, out, *, color)`` that writes every :class:`FileReport` of one run to
``out``. The names are a constant here so that the command line can offer them as choices without
importing a single renderer (``--help`` must stay cheap); :func:`get_renderer` imports the modules on
first use, and a test checks that the constant and the registry agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from shapecheck.check import FileReport

__all__ = ["NAMES", "Renderer", "get_renderer", "renderer", "renderers"]

#: Format names, in the order ``--help`` lists them; each is implemented by the module of the same stem.
NAMES: tuple[str, ...] = ("text", "json", "sarif", "github", "markdown", "html")

_MODULES: dict[str, str] = {"text": "text", "json": "jsondoc", "sarif": "sarif", "github": "github",
                            "markdown": "markdown", "html": "html"}


class Renderer(Protocol):
    """Writes the reports of one run; ``color`` allows ANSI escapes (only the text format uses them)."""

    def __call__(self, reports: Sequence[FileReport], out: TextIO, *, color: bool = False) -> None: ...


_RENDERERS: dict[str, Renderer] = {}


def renderer(name: str) -> Callable[[Renderer], Renderer]:
    """Register ``render`` as the output format ``name``."""

    def register(render: Renderer) -> Renderer:
        if name in _RENDERERS:
            raise ValueError(f"output format {name!r} registered twice")
        _RENDERERS[name] = render
        return render

    return register


def _load() -> None:
    for module in _MODULES.values():
        importlib.import_module(f"shapecheck.report.{module}")


def renderers() -> dict[str, Renderer]:
    """Every registered renderer by name."""
    _load()
    return dict(_RENDERERS)


def get_renderer(name: str) -> Renderer:
    """The renderer of format ``name``; an unknown name is a :class:`SpecError` listing the known ones."""
    from shapecheck.errors import SpecError

    _load()
    try:
        return _RENDERERS[name]
    except KeyError:
        raise SpecError(f"unknown output format {name!r} (known: {', '.join(NAMES)})") from None
