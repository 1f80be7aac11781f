"""``shapecheck check PATH…``: the linter — every model under the paths, findings in a CI-friendly format.

Exit codes follow ruff: 0 when nothing at or above ``--fail-on`` (default ``error``) was found, 1 when
something was, 2 for a usage error, a bad configuration, or a model that could not be read (the other
files are still checked and reported, so one broken file does not hide the findings of the rest).

Configuration is resolved here, once: the nearest ``pyproject.toml`` with a ``[tool.shapecheck]`` table
(searched upward from the working directory, as ruff does), then the command line, which replaces any
value the file gives. The engine receives plain values — dims, a set of codes — and reads no settings.

``[tool.shapecheck]`` keys::

    select = ["SC2", "SC301"]          # code prefixes, longest prefix wins (default: the default rules)
    ignore = ["SC204"]
    fail-on = "warning"                # "error" (default) or "warning"
    dims = {H = 256, W = 256}          # symbol bindings, for every file that has the symbol
    per-file-ignores = {"models/legacy/*.onnx" = ["SC3"]}   # glob relative to the pyproject directory
    per-node-ignores = {"/ups.0/Concat" = ["SC201"]}        # node name (or glob) → code prefixes

    max-file-size = "64MB"             # refuse larger model files (default: 2GB ONNX, 10MB YAML)
    memory-budget = "256MB"            # most the NumPy confirmation may allocate per file (default 256MB)

A directory is searched recursively (hidden directories skipped) for ``.onnx``, ``.yaml`` and ``.yml``
files, in sorted order. A YAML file without a top-level ``shapecheck:`` key is not a model (a workflow,
a config) and is skipped — also when named explicitly, since pre-commit passes every ``*.yaml`` file.

A model zoo at once: ``-j N`` checks the files in N worker processes (each with its own memory budget);
the reports come back in the same order as with one process, so the output is identical. A file whose
check fails inside shapecheck (a bug) or whose worker dies is reported as unreadable with the reason
(exit 2); the other files are checked all the same. With :data:`ZOO_FILES` files or more, a progress bar
is drawn on a terminal (not when stderr is piped, nor under ``CI``), and a summary table — files,
errors, warnings, infos, unreadable, time — goes to **stderr**, so the report on stdout (text, JSON,
SARIF, GitHub) is byte-for-byte what it would be without it (``--no-summary`` turns it off).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from shapecheck.commands._options import (
    add_max_file_size,
    add_model_options,
    parse_dims,
    parse_input_shapes,
    parse_size,
)
from shapecheck.errors import SpecError
from shapecheck.report.formats import NAMES as FORMAT_NAMES

if TYPE_CHECKING:
    from shapecheck.check import FileReport
    from shapecheck.findings import Finding

__all__ = ["Settings", "collect_paths", "find_config", "load_settings", "register", "resolve_settings", "run"]

#: ``--fail-on`` levels and the lowest severity rank that fails at each.
FAIL_ON: dict[str, int] = {"error": 3, "warning": 2}

_SUFFIXES = (".onnx", ".yaml", ".yml")
_CONFIG_KEYS = ("select", "ignore", "dims", "fail-on", "per-file-ignores", "per-node-ignores", "max-file-size",
                "memory-budget")
#: Default memory budget of the NumPy confirmation, per file (``--memory-budget``).
MEMORY_BUDGET = 256 << 20
#: From this many files on, a terminal gets a progress bar and stderr a summary table.
ZOO_FILES = 10
_YAML_MODEL = re.compile(r"^shapecheck\s*:", re.M)


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one run (file values, then command-line values over them)."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    dims: Mapping[str, int] = field(default_factory=dict)
    fail_on: str = "error"
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    per_node_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Largest model file read, in bytes (None: the loader's default for the format).
    max_file_size: int | None = None
    #: Most the NumPy confirmation may allocate while checking one file, in bytes.
    memory_budget: int = MEMORY_BUDGET
    #: Directory of the ``pyproject.toml`` the settings came from; per-file globs are relative to it.
    root: str = "."
    source: str | None = None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check models for shape errors (exit 0 clean, 1 findings, 2 unreadable or bad usage)",
        description="Check ONNX and YAML models for shape problems: joins that break at some input sizes, "
        "floors that drop rows, transposed convs that need output_padding, attributes the runtimes reject. "
        "Settings come from [tool.shapecheck] in the nearest pyproject.toml; the command line wins.",
        epilog="examples:\n  shapecheck check models/\n"
        "  shapecheck check unet.onnx --dim H=37 --dim W=37 --select SC2,SC4\n"
        "  shapecheck check models/ --format github\n"
        "rule documentation: shapecheck rule SC201, shapecheck rule --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="an .onnx/.yaml/.yml file, or a directory searched recursively")
    add_model_options(parser)
    parser.add_argument("--select", action="append", default=None, metavar="CODES",
                        help="comma-separated code prefixes to enable (ALL: every rule); replaces the "
                        "config's")
    parser.add_argument("--ignore", action="append", default=None, metavar="CODES",
                        help="comma-separated code prefixes to disable; the longest matching prefix wins")
    parser.add_argument("--format", "--output-format", dest="format", choices=FORMAT_NAMES, default="text",
                        help="output format (default: text)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--exit-zero", action="store_true",
                        help="exit 0 even when findings were reported (2 still means unreadable or bad "
                        "usage)")
    parser.add_argument("--fail-on", choices=tuple(FAIL_ON), default=None,
                        help="lowest severity that makes the exit code 1 (default: error)")
    parser.add_argument("--no-confirm", action="store_true",
                        help="do not execute the NumPy kernel to confirm fixes (faster; fixes marked not "
                        "confirmed)")
    parser.add_argument("--no-config", action="store_true", help="ignore [tool.shapecheck] in pyproject.toml")
    add_max_file_size(parser)
    parser.add_argument("--memory-budget", metavar="SIZE",
                        help="most the NumPy confirmation may allocate per file, e.g. 1GB (default: 256MB); a "
                        "fix whose execution would need more is reported as not confirmed, with the reason")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="check files in N worker processes (0: one per CPU); the output does not change")
    parser.add_argument("--no-summary", action="store_true",
                        help=f"no summary table on stderr (printed from {ZOO_FILES} files on)")
    parser.set_defaults(run=run)


# -- configuration -------------------------------------------------------------------------------


def find_config(start: str | None = None) -> str | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the working directory) that has a
    ``[tool.shapecheck]`` table; files without one are passed over, as ruff does with ``[tool.ruff]``."""
    directory = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
            except OSError:
                text = ""
            if re.search(r"^\s*\[\s*tool\s*\.\s*shapecheck\b", text, re.M):
                return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _codes(value: Any, where: str, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: expected a list of code prefixes, got {value!r}", path=source)
    return tuple(v.strip().upper() for v in value if v.strip())


def _table(value: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected a table, got {value!r}", path=source)
    return value


def load_settings(path: str) -> Settings:
    """Read and validate ``[tool.shapecheck]`` of ``path``; a bad value is a :class:`SpecError` (exit 2)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: no TOML reader in the standard library
        print(f"shapecheck: note: {path}: [tool.shapecheck] is ignored (reading it needs Python 3.11+)",
              file=sys.stderr)
        return Settings()
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get("shapecheck", {})
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SpecError(f"cannot read the configuration: {error}", path=path) from None
    table = _table(table, "[tool.shapecheck]", path)
    unknown = sorted(set(table) - set(_CONFIG_KEYS))
    if unknown:
        raise SpecError(f"[tool.shapecheck]: unknown key(s) {', '.join(unknown)} "
                        f"(known: {', '.join(_CONFIG_KEYS)})", path=path)
    dims: dict[str, int] = {}
    for name, size in _table(table.get("dims", {}), "[tool.shapecheck] dims", path).items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SpecError(f"[tool.shapecheck] dims: {name} must be a positive integer, got {size!r}",
                            path=path)
        dims[name] = size
    fail_on = table.get("fail-on", "error")
    if fail_on not in FAIL_ON:
        raise SpecError(f"[tool.shapecheck] fail-on: expected one of {', '.join(FAIL_ON)}, got {fail_on!r}",
                        path=path)
    sizes = {key: parse_size(f"[tool.shapecheck] {key}", table[key]) if key in table else None
             for key in ("max-file-size", "memory-budget")}
    per_file = _table(table.get("per-file-ignores", {}), "[tool.shapecheck] per-file-ignores", path)
    per_node = _table(table.get("per-node-ignores", {}), "[tool.shapecheck] per-node-ignores", path)
    return Settings(
        select=_codes(table.get("select", []), "[tool.shapecheck] select", path),
        ignore=_codes(table.get("ignore", []), "[tool.shapecheck] ignore", path),
        dims=dims,
        fail_on=fail_on,
        per_file_ignores=tuple((glob, _codes(codes, f"[tool.shapecheck] per-file-ignores {glob!r}", path))
                               for glob, codes in per_file.items()),
        per_node_ignores=tuple((node, _codes(codes, f"[tool.shapecheck] per-node-ignores {node!r}", path))
                               for node, codes in per_node.items()),
        max_file_size=sizes["max-file-size"],
        memory_budget=sizes["memory-budget"] or MEMORY_BUDGET,
        root=os.path.dirname(path),
        source=path,
    )


def _cli_codes(values: list[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    return tuple(code.strip().upper() for value in values for code in value.split(",") if code.strip())


def resolve_settings(args: argparse.Namespace) -> Settings:
    """The file's settings with every option given on the command line replacing the file's value."""
    config = None if args.no_config else find_config()
    settings = load_settings(config) if config else Settings()
    select, ignore = _cli_codes(args.select), _cli_codes(args.ignore)
    return replace(
        settings,
        select=settings.select if select is None else select,
        ignore=settings.ignore if ignore is None else ignore,
        dims={**settings.dims, **parse_dims(args.dim)},
        fail_on=args.fail_on or settings.fail_on,
        max_file_size=parse_size("--max-file-size", args.max_file_size) if args.max_file_size else
        settings.max_file_size,
        memory_budget=parse_size("--memory-budget", args.memory_budget) if args.memory_budget else
        settings.memory_budget,
    )


def _matching_codes(prefixes: Sequence[str], where: str, source: str | None) -> frozenset[str]:
    """The codes that a list of prefixes names (``ALL``: every code); an unknown prefix is an error."""
    from shapecheck.rules import selected_codes

    if not prefixes:
        return frozenset()
    try:
        return frozenset(selected_codes(select=prefixes))
    except SpecError as error:
        raise SpecError(f"{where}: {error.message}", path=source) from None


# -- files ---------------------------------------------------------------------------------------


def _is_yaml_model(path: str) -> bool:
    """True unless ``path`` is readable YAML text without a top-level ``shapecheck:`` key."""
    if not path.lower().endswith((".yaml", ".yml")):
        return True
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return bool(_YAML_MODEL.search(handle.read()))
    except OSError:
        return True  # let the loader report why it cannot be read


def collect_paths(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """The model files to check, in command-line order, each directory expanded recursively in sorted
    order; and the named YAML files skipped because they are not shapecheck models."""
    files: list[str] = []
    skipped: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for directory, subdirectories, names in os.walk(path):
                subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
                found += [os.path.join(directory, n) for n in names
                          if n.lower().endswith(_SUFFIXES) and not n.startswith(".")]
            files += sorted((f for f in found if _is_yaml_model(f)), key=lambda f: f.replace(os.sep, "/"))
        elif _is_yaml_model(path):
            files.append(path)
        else:
            skipped.append(path)
    return list(dict.fromkeys(files)), skipped


def _relative(path: str, root: str) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
    except ValueError:  # another drive on Windows
        return os.path.abspath(path).replace(os.sep, "/")


def _file_ignores(path: str, settings: Settings) -> frozenset[str]:
    """Codes ignored for ``path`` by ``per-file-ignores``: the glob is matched against the path relative
    to the configuration's directory, and a glob without ``/`` against the file name as well."""
    relative = _relative(path, settings.root)
    ignored: set[str] = set()
    for glob, prefixes in settings.per_file_ignores:
        by_name = "/" not in glob and fnmatch.fnmatchcase(os.path.basename(path), glob)
        if by_name or fnmatch.fnmatchcase(relative, glob):
            where = f"[tool.shapecheck] per-file-ignores {glob!r}"
            ignored |= _matching_codes(prefixes, where, settings.source)
    return frozenset(ignored)


def _node_ignored(finding: Finding, node_ignores: Sequence[tuple[str, frozenset[str]]]) -> bool:
    node = finding.node
    return node is not None and any(
        finding.code in codes and fnmatch.fnmatchcase(node, pattern) for pattern, codes in node_ignores
    )


# -- the command ---------------------------------------------------------------------------------


def _check_dims_named(cli_dims: Mapping[str, int], reports: Sequence[FileReport]) -> None:
    """A ``--dim`` that no checked file has is almost always a typo (``--dim h=256``): exit 2."""
    loaded = [r for r in reports if r.error is None]
    if not loaded:
        return
    known = {name for r in loaded for name in (*r.dims, *r.symbols)}
    for name in cli_dims:
        if name not in known:
            have = ", ".join(sorted(known)) or "none"
            raise SpecError(f"--dim {name}: no checked file has a dim named {name!r} (their dims: {have})")


def _exit_code(reports: Sequence[FileReport], settings: Settings, exit_zero: bool) -> int:
    if any(r.error is not None for r in reports):
        return 2
    threshold = FAIL_ON[settings.fail_on]
    failing = any(f.severity.rank >= threshold for r in reports for f in r.findings)
    return 1 if failing and not exit_zero else 0


def _use_color(out: Any) -> bool:
    return bool(getattr(out, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


@dataclass(frozen=True)
class _Task:
    """Everything a worker process needs to check one file (picklable: plain values only)."""

    path: str
    dims: Mapping[str, int]
    input_shapes: Mapping[str, tuple[int, ...]]
    codes: frozenset[str]
    confirm: bool
    memory_budget: int
    max_file_size: int | None


def _check_task(task: _Task) -> FileReport:
    """Check one file; a failure inside shapecheck (a bug, MemoryError) becomes that file's error, so
    that one file never stops the others (exit 2, with the exception named for the bug report)."""
    from shapecheck.check import FileReport, _format_of, check_file

    try:
        return check_file(task.path, dims=task.dims, input_shapes=task.input_shapes, codes=task.codes,
                          confirm=task.confirm, memory_budget=task.memory_budget,
                          max_file_size=task.max_file_size)
    except Exception as error:
        return FileReport(task.path, _format_of(task.path), error=f"{task.path}: internal error in shapecheck "
                          f"({type(error).__name__}: {error}); please report it with this file")


def _died(task: _Task, error: BaseException) -> FileReport:
    from shapecheck.check import FileReport, _format_of

    return FileReport(task.path, _format_of(task.path), error=f"{task.path}: the worker process checking this "
                      f"file died ({type(error).__name__}: {error}; out of memory?)")


def _check_all(tasks: Sequence[_Task], jobs: int, advance: Callable[[], None]) -> list[FileReport]:
    """The reports of ``tasks`` in their order, checked in ``jobs`` worker processes (1: in this one).

    All tasks are submitted before the caller draws a progress bar, so worker processes are forked
    before any drawing thread exists. When a worker dies (killed, out of memory), every pending future
    of that pool fails; those files are checked again one process each, so only the file that kills
    its process is reported as such.
    """
    if jobs <= 1 or len(tasks) <= 1:
        reports = []
        for task in tasks:
            reports.append(_check_task(task))
            advance()
        return reports
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    results: dict[int, FileReport] = {}
    broken: list[int] = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        futures = {pool.submit(_check_task, task): index for index, task in enumerate(tasks)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                results[index] = future.result()
                advance()
            except BrokenProcessPool:
                broken.append(index)
    for index in sorted(broken):
        with ProcessPoolExecutor(max_workers=1) as alone:
            try:
                results[index] = alone.submit(_check_task, tasks[index]).result()
            except BrokenProcessPool as error:
                results[index] = _died(tasks[index], error)
        advance()
    return [results[index] for index in range(len(tasks))]


def _interactive() -> bool:
    """A progress bar only for a person watching: stderr is a terminal and this is not a CI job."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) and not os.environ.get("CI")


def _summary_table(reports: Sequence[FileReport], seconds: float, jobs: int) -> None:
    """Totals of the run on stderr: a rich table on a terminal, aligned plain text otherwise."""
    from shapecheck.report._common import counts

    tally = counts(reports)
    rate = len(reports) / seconds if seconds > 0 else 0.0
    row = {**{k: str(v) for k, v in tally.items()}, "seconds": f"{seconds:.1f}", "files/s": f"{rate:.1f}",
           "workers": str(jobs)}
    if _interactive():
        from rich.console import Console
        from rich.table import Table

        table = Table(title="shapecheck summary", title_justify="left")
        for name in row:
            table.add_column(name, justify="right")
        table.add_row(*row.values())
        Console(file=sys.stderr).print(table)
        return
    widths = [max(len(k), len(v)) for k, v in row.items()]
    print("  ".join(k.rjust(w) for k, w in zip(row, widths)), file=sys.stderr)
    print("  ".join(v.rjust(w) for v, w in zip(row.values(), widths)), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from shapecheck.report.formats import get_renderer
    from shapecheck.rules import selected_codes

    settings = resolve_settings(args)
    cli_dims = parse_dims(args.dim)
    shapes = parse_input_shapes(args.input_shape)
    if args.jobs < 0:
        raise SpecError(f"-j/--jobs: expected 0 (one per CPU) or a positive number, got {args.jobs}")
    jobs = args.jobs or os.cpu_count() or 1
    where = "select/ignore" + (f" (from {settings.source})" if settings.source else "")
    try:
        codes = frozenset(selected_codes(settings.select, settings.ignore))
    except SpecError as error:
        raise SpecError(f"{where}: {error.message}") from None
    node_ignores = [(pattern, _matching_codes(prefixes, f"[tool.shapecheck] per-node-ignores {pattern!r}",
                                              settings.source))
                    for pattern, prefixes in settings.per_node_ignores]
    render = get_renderer(args.format)

    files, skipped = collect_paths(args.paths)
    for path in skipped:
        print(f"shapecheck: note: skipped {path}: not a shapecheck model (no top-level `shapecheck:` key)",
              file=sys.stderr)
    if not files:
        print("shapecheck: warning: no models (.onnx, .yaml, .yml) found under the given paths",
              file=sys.stderr)

    tasks = [_Task(path, dict(settings.dims), dict(shapes), codes - _file_ignores(path, settings),
                   not args.no_confirm, settings.memory_budget, settings.max_file_size) for path in files]
    started = time.perf_counter()
    if len(files) >= ZOO_FILES and _interactive():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

        columns = ("checking", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(file=sys.stderr), transient=True) as progress:
            bar = progress.add_task("checking", total=len(tasks))
            reports = _check_all(tasks, jobs, lambda: progress.advance(bar))
    else:
        reports = _check_all(tasks, jobs, lambda: None)
    seconds = time.perf_counter() - started
    if node_ignores:
        reports = [replace(r, findings=tuple(f for f in r.findings if not _node_ignored(f, node_ignores)))
                   if r.findings else r for r in reports]
    _check_dims_named(cli_dims, reports)

    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            render(reports, out, color=False)
    else:
        render(reports, sys.stdout, color=_use_color(sys.stdout))
        sys.stdout.flush()
    if len(reports) >= ZOO_FILES and not args.no_summary:
        _summary_table(reports, seconds, min(jobs, max(1, len(reports))))
    return _exit_code(reports, settings, args.exit_zero)
