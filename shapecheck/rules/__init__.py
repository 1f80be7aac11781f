"""The rule registry: every rule declared once — code, kebab name, severity, default, summary, docs.

A rule is a function ``(analysis) -> Iterable[Finding]`` decorated with :func:`rule`. Its docstring has
the four headings *What it does*, *Why is this bad?*, *Example*, *Use instead*; the last two hold small
YAML models that the tests run (the example must raise exactly that code, the fix nothing) and that
``rules/SCxxx.md`` is generated from. Selection is by code prefix, the longest prefix winning.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shapecheck.errors import SpecError
from shapecheck.findings import Finding, Severity

if TYPE_CHECKING:
    from shapecheck.rules.analysis import Analysis

__all__ = ["FAMILIES", "Rule", "all_rules", "get_rule", "rule", "selected_codes"]

#: Rule family modules under ``shapecheck.rules``.
FAMILIES: tuple[str, ...] = ("coverage", "joins", "sizes", "floor", "transpose", "runtime")

HEADINGS = ("What it does", "Why is this bad?", "Example", "Use instead")

Check = Callable[["Analysis"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """A rule's declaration; ``check`` produces its findings."""

    code: str
    name: str
    severity: Severity
    default: bool
    summary: str
    doc: str
    check: Check
    runnable_example: bool = True

    def section(self, heading: str) -> str:
        """The text under one of :data:`HEADINGS` in the docstring."""
        pattern = rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)"
        match = re.search(pattern, self.doc, flags=re.S | re.M)
        return match.group(1).strip() if match else ""

    def yaml_block(self, heading: str) -> str:
        """The fenced YAML model under *Example* or *Use instead*."""
        match = re.search(r"```yaml\n(.*?)```", self.section(heading), flags=re.S)
        return match.group(1) if match else ""


_RULES: dict[str, Rule] = {}
_loaded = False


def _dedent(doc: str) -> str:
    lines = doc.expandtabs().splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    cut = min(indents, default=0)
    return "\n".join([lines[0].strip(), *(line[cut:] for line in lines[1:])]).strip() + "\n"


def rule(
    code: str, name: str, *, severity: Severity, summary: str, default: bool = True, runnable_example: bool = True
) -> Callable[[Check], Check]:
    """Declare ``check`` as rule ``code``; the docstring becomes the rule's documentation.

    ``runnable_example=False`` marks rules whose trigger cannot be written in the YAML format (coverage
    notes, internal errors); their *Example* is prose and the example tests skip them, saying so.
    """
    if not re.fullmatch(r"SC\d{3}", code):
        raise ValueError(f"rule codes are SC + three digits, got {code!r}")

    def register(check: Check) -> Check:
        if code in _RULES:
            raise ValueError(f"rule {code} declared twice")
        doc = _dedent(check.__doc__ or "")
        missing = [h for h in HEADINGS if f"## {h}" not in doc]
        if missing:
            raise ValueError(f"rule {code} docstring lacks the headings {missing}")
        _RULES[code] = Rule(code, name, severity, default, summary, doc, check, runnable_example)
        return check

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for family in FAMILIES:
            importlib.import_module(f"shapecheck.rules.{family}")


def all_rules() -> list[Rule]:
    """Every declared rule, by code."""
    _load()
    return [_RULES[code] for code in sorted(_RULES)]


def get_rule(code: str) -> Rule:
    """The rule with this code, or a :class:`SpecError` naming the known codes."""
    _load()
    try:
        return _RULES[code.upper()]
    except KeyError:
        raise SpecError(f"unknown rule code {code!r} (known: {', '.join(sorted(_RULES))})") from None


def selected_codes(select: Sequence[str] = (), ignore: Sequence[str] = ()) -> set[str]:
    """Codes enabled by ``select``/``ignore`` prefixes; for each code the longest matching prefix wins.

    With no ``select``, the rules that are on by default are selected. ``ALL`` selects everything.
    """
    _load()
    for prefix in (*select, *ignore):
        if prefix.upper() != "ALL" and not any(code.startswith(prefix.upper()) for code in _RULES):
            raise SpecError(f"no rule code starts with {prefix!r}")
    chosen = set()
    for code, declared in _RULES.items():
        best, enabled = -1, declared.default if not select else False
        for prefixes, verdict in ((select, True), (ignore, False)):
            for prefix in prefixes:
                text = "" if prefix.upper() == "ALL" else prefix.upper()
                if code.startswith(text) and len(text) >= best:
                    best, enabled = len(text), verdict
        if enabled:
            chosen.add(code)
    return chosen
