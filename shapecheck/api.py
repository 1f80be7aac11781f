"""The Python API: load a model, check it, fix it, ask which sizes it accepts — the CLI's work as calls.

Re-exported from :mod:`shapecheck` (``shapecheck.check(...)``); import this module directly only for
the types. Findings are the same :class:`~shapecheck.findings.Finding` records the command line renders,
so a test can assert on codes, nodes and fixes instead of parsing text. A model that cannot be read
raises :class:`~shapecheck.errors.LoadError` (the CLI turns that into exit 2; a library should not
return it as data).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Union

from shapecheck.check import FileReport
from shapecheck.findings import Finding, Fix, Severity
from shapecheck.graph import ModelGraph

if TYPE_CHECKING:
    from shapecheck.sizes import SizeAnalysis

__all__ = ["FixResult", "Model", "Report", "apply_fixes", "check", "fix", "load", "sizes"]

#: What the API accepts as a model: a path to an ``.onnx`` / ``.yaml`` / ``.yml`` file, or a loaded graph.
Model = Union[str, "os.PathLike[str]", ModelGraph]

#: At most this many fixes are applied to one model (a U-Net needs one per level).
MAX_FIXES = 64


def load(path: str | os.PathLike[str]) -> ModelGraph:
    """Read a model file into a :class:`~shapecheck.graph.ModelGraph` (raises ``LoadError``)."""
    from shapecheck.load import load_model

    return load_model(path)


def _graph(model: Model) -> ModelGraph:
    return model if isinstance(model, ModelGraph) else load(model)


@dataclass(frozen=True)
class Report(FileReport):
    """The findings of one model, sorted by position in the graph, then code.

    A :class:`~shapecheck.check.FileReport` (what every output format renders) with the questions a
    test asks: ``report.errors``, ``report.ok``, ``report.codes``, ``report.render("markdown")``.
    """

    @classmethod
    def of(cls, report: FileReport) -> Report:
        return cls(**{f.name: getattr(report, f.name) for f in fields(FileReport)})

    def at_least(self, severity: Severity | str) -> tuple[Finding, ...]:
        """Findings of ``severity`` or worse (``"warning"``: warnings and errors)."""
        rank = Severity(severity).rank
        return tuple(f for f in self.findings if f.severity.rank >= rank)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when no finding is an error — what ``shapecheck check`` exits 0 for by default."""
        return not self.errors

    @property
    def codes(self) -> list[str]:
        """The codes of the findings, in order (repeats kept)."""
        return [f.code for f in self.findings]

    def render(self, format: str = "text") -> str:
        """The report in one of ``shapecheck check``'s output formats (text, json, sarif, github, markdown,
        html)."""
        from shapecheck.report.formats import get_renderer

        out = io.StringIO()
        get_renderer(format)([self], out, color=False)
        return out.getvalue()


def _codes(select: Iterable[str] | str | None, ignore: Iterable[str] | str | None) -> set[str] | None:
    from shapecheck.rules import selected_codes

    def prefixes(value: Iterable[str] | str | None) -> list[str]:
        if value is None:
            return []
        items = value.split(",") if isinstance(value, str) else list(value)
        return [item.strip().upper() for item in items if item.strip()]

    if select is None and ignore is None:
        return None
    return selected_codes(prefixes(select), prefixes(ignore))


def check(
    model: Model,
    *,
    dims: Mapping[str, int] | None = None,
    select: Iterable[str] | str | None = None,
    ignore: Iterable[str] | str | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    confirm: bool = True,
) -> Report:
    """Check a model as ``shapecheck check`` does and return its findings.

    ``dims`` binds symbolic sizes (``{"H": 37, "W": 37}``; the YAML file's ``dims:`` fill the rest);
    ``select`` / ``ignore`` are code prefixes as on the command line (``["SC2", "SC4"]`` or ``"SC2,SC4"``;
    default: the rules on by default); ``confirm=False`` skips executing the NumPy kernel to confirm
    fixes. Unlike the command line, a dim the model does not have is an error here too
    (:class:`~shapecheck.errors.SpecError`): a test that binds a misspelt dim should fail.
    """
    from shapecheck.check import check_graph
    from shapecheck.errors import SpecError

    graph = _graph(model)
    known = set(graph.symbols())
    for name in dims or {}:
        if name not in known:
            raise SpecError(f"dims: the model has no symbolic dim {name!r} (it has: "
                            f"{', '.join(sorted(known)) or 'none'})", path=graph.path)
    shapes = {name: tuple(shape) for name, shape in (input_shapes or {}).items()}
    report = check_graph(graph, dims=dims, input_shapes=shapes, codes=_codes(select, ignore), confirm=confirm)
    return Report.of(report)


def _pick(report: FileReport, fmt: str, done: set[tuple[str | None, str | None]]) -> Fix | None:
    """The top-ranked safe attribute fix of the first error not fixed yet."""
    allowed = {"output_padding", "ceil_mode", "pads"} | ({"output_shape"} if fmt == "onnx" else set())
    for finding in report.findings:
        if finding.severity is not Severity.ERROR:
            continue
        for candidate in finding.fixes:
            if candidate.kind == "attribute" and candidate.safe and candidate.attribute in allowed and \
                    (candidate.node, candidate.attribute) not in done:
                return candidate
    return None


def apply_fixes(graph: ModelGraph, *, dims: Mapping[str, int] | None = None,
                input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> tuple[ModelGraph, list[Fix]]:
    """Apply the top-ranked safe fix of each error, one at a time, re-checking after each.

    One at a time because a fix at one level of a U-Net changes the sizes the next level sees: fixes
    computed on the unpatched model do not simply add up. Returns the patched graph (in memory) and the
    fixes in the order applied; only attribute changes are made, never the input size.
    """
    from shapecheck.check import check_graph
    from shapecheck.verify import Patch, apply_patches

    applied: list[Fix] = []
    done: set[tuple[str | None, str | None]] = set()
    for _ in range(MAX_FIXES):
        chosen = _pick(check_graph(graph, dims=dims, input_shapes=input_shapes), graph.format, done)
        if chosen is None:
            break
        done.add((chosen.node, chosen.attribute))
        applied.append(chosen)
        value = tuple(chosen.value) if isinstance(chosen.value, list) else chosen.value
        graph = apply_patches(graph, [Patch(chosen.node or "", {chosen.attribute or "": value})])
    return graph, applied


@dataclass(frozen=True)
class FixResult:
    """What :func:`fix` did: the fixes applied, the patched model, what is left, and where it was written."""

    applied: tuple[Fix, ...]
    model: ModelGraph
    report: Report
    path: str | None = None


def write_fixed(source: str, fixes: Sequence[Fix], output: str, graph: ModelGraph) -> None:
    """Write ``source`` with ``fixes`` applied to ``output``: ONNX attributes, or the YAML text edited in
    place (comments and formatting kept)."""
    from shapecheck.apply import apply_to_onnx, apply_to_yaml, yaml_edits

    if graph.format == "onnx":
        apply_to_onnx(source, fixes, output)
        return
    locations = {n.name: (n.location.line, n.location.column) for n in graph.nodes.values() if n.location}
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(apply_to_yaml(text, yaml_edits(fixes, locations), source))


def fix(
    model: Model,
    *,
    dims: Mapping[str, int] | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    output: str | os.PathLike[str] | None = None,
) -> FixResult:
    """Apply verified fixes as ``shapecheck fix`` does; write the fixed model to ``output`` if given.

    With ``output`` the written file is read back and checked (``result.report``), so the report is
    about what is on disk. Without it nothing is written and the report is of the patched graph.
    """
    graph = _graph(model)
    shapes = {name: tuple(shape) for name, shape in (input_shapes or {}).items()}
    patched, applied = apply_fixes(graph, dims=dims, input_shapes=shapes)
    if output is None or not applied:
        if output is not None:  # nothing to fix: the output is the model as it was
            write_fixed(graph.path, [], os.fspath(output), graph)
        return FixResult(tuple(applied), patched, check(patched, dims=dims, input_shapes=shapes),
                         None if output is None else os.fspath(output))
    target = os.fspath(output)
    write_fixed(graph.path, applied, target, graph)
    return FixResult(tuple(applied), patched, check(target, dims=dims, input_shapes=shapes), target)


def sizes(model: Model, **options: Any) -> SizeAnalysis:
    """Which input sizes the model accepts, per symbolic dim (``shapecheck sizes``).

    Options are those of :func:`shapecheck.sizes.analyse_sizes` (``dims``, ``input_shapes``, ``symbols``,
    ``search_range``, …).
    """
    try:
        from shapecheck.sizes import analyse_sizes
    except ImportError as error:  # pragma: no cover - the sizes analysis ships with shapecheck
        raise NotImplementedError(f"shapecheck.sizes needs the size analysis (shapecheck.sizes): {error}") from None
    return analyse_sizes(_graph(model), **options)
