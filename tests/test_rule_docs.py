"""The rule catalogue: every rule documented under the four headings, its examples run as test cases
(pycodestyle's self-doctests), ``rules/*.md`` generated and current, ``shapecheck rule`` printing them."""

from __future__ import annotations

import os

import pytest

from shapecheck.check import check_file
from shapecheck.cli import main
from shapecheck.findings import Severity
from shapecheck.report.rule_pages import INDEX, render_index, render_rule_page, stale_pages, write_pages
from shapecheck.rules import HEADINGS, Rule, all_rules, selected_codes

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RULES_DIR = os.path.join(REPO, "rules")
RULES = all_rules()
CODES = [r.code for r in RULES]

#: Docstring examples that do not do what the docs say, because of the rule or its example (reported to
#: the rule owner; the rule modules are not edited here). strict: the test fails once they are fixed.
KNOWN_BAD_EXAMPLES: dict[tuple[str, str], str] = {}


def _run_example(rule: Rule, heading: str, tmp_path) -> list:
    text = rule.yaml_block(heading)
    assert text, f"{rule.code}: no ```yaml block under '{heading}'"
    path = tmp_path / f"{rule.code}_{heading.replace(' ', '_')}.yaml"
    path.write_text(text, encoding="utf-8")
    report = check_file(str(path), codes=selected_codes(["ALL"]))
    assert report.error is None, f"{rule.code} {heading}: {report.error}"
    return list(report.findings)


def _known_bad(code: str, heading: str) -> None:
    reason = KNOWN_BAD_EXAMPLES.get((code, heading))
    if reason:
        pytest.xfail(reason)


@pytest.mark.parametrize("code", CODES)
def test_every_rule_has_the_four_headings(code: str) -> None:
    rule = next(r for r in RULES if r.code == code)
    for heading in HEADINGS:
        assert rule.section(heading), f"{code}: '## {heading}' is missing or empty"
    assert rule.summary.strip() and rule.name == rule.name.lower() and " " not in rule.name


@pytest.mark.parametrize("code", CODES)
def test_example_raises_the_code(code: str, tmp_path) -> None:
    rule = next(r for r in RULES if r.code == code)
    if not rule.runnable_example:
        pytest.skip(f"{code}: runnable_example=False — its trigger cannot be written in the YAML format "
                    f"(example: {' '.join(rule.section('Example').split())})")
    findings = _run_example(rule, "Example", tmp_path)
    if code not in {f.code for f in findings}:
        _known_bad(code, "Example")
    assert code in {f.code for f in findings}, f"{code}: the Example raised {[f.code for f in findings]}"
    assert (code, "Example") not in KNOWN_BAD_EXAMPLES, "fixed: remove it from KNOWN_BAD_EXAMPLES"


@pytest.mark.parametrize("code", CODES)
def test_use_instead_is_clean(code: str, tmp_path) -> None:
    rule = next(r for r in RULES if r.code == code)
    if not rule.runnable_example:
        pytest.skip(f"{code}: runnable_example=False — its 'Use instead' is advice, not a model")
    findings = _run_example(rule, "Use instead", tmp_path)
    bad = [(f.code, f.severity.value) for f in findings if f.code == code or f.severity is not Severity.INFO]
    if bad:
        _known_bad(code, "Use instead")
    assert not bad, f"{code}: 'Use instead' still raises {bad}"
    assert (code, "Use instead") not in KNOWN_BAD_EXAMPLES, "fixed: remove it from KNOWN_BAD_EXAMPLES"


# -- generated pages ---------------------------------------------------------------------------------


def test_rule_pages_are_current() -> None:
    stale = stale_pages(RULES_DIR)
    assert not stale, f"stale rule pages {stale}: run python -m shapecheck.report.rule_pages"


def test_page_layout() -> None:
    page = render_rule_page(next(r for r in RULES if r.code == "SC201"))
    lines = page.splitlines()
    assert lines[0] == "# SC201 join-size-mismatch"
    assert lines[2] == "**Severity:** error · **Default:** on"
    assert [line for line in lines if line.startswith("## ")] == [f"## {h}" for h in HEADINGS]
    off = render_rule_page(next(r for r in RULES if not r.default))
    assert "**Default:** off" in off


def test_index_lists_every_rule_with_a_link() -> None:
    index = render_index(RULES)
    for rule in RULES:
        assert f"| [{rule.code}]({rule.code}.md) | {rule.name} | {rule.severity.value} |" in index


def test_write_pages_creates_updates_and_removes(tmp_path) -> None:
    (tmp_path / "SC999.md").write_text("a rule that no longer exists\n")
    changed = write_pages(str(tmp_path))
    assert set(changed) == {f"{c}.md" for c in CODES} | {INDEX, "SC999.md"}
    assert not (tmp_path / "SC999.md").exists()
    assert stale_pages(str(tmp_path)) == []
    (tmp_path / "SC201.md").write_text("edited by hand\n")
    assert stale_pages(str(tmp_path)) == ["SC201.md"]
    assert write_pages(str(tmp_path)) == ["SC201.md"]


def test_rule_pages_check_mode(tmp_path, capsys) -> None:
    from shapecheck.report.rule_pages import main as pages_main

    assert pages_main([str(tmp_path), "--check"]) == 1
    assert pages_main([str(tmp_path)]) == 0
    assert pages_main([str(tmp_path), "--check"]) == 0


# -- shapecheck rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_rule_command_prints_the_page(code: str, capsys) -> None:
    assert main(["rule", code.lower()]) == 0
    with open(os.path.join(RULES_DIR, f"{code}.md"), encoding="utf-8") as handle:
        assert capsys.readouterr().out == handle.read()


def test_rule_all_lists_every_rule(capsys) -> None:
    assert main(["rule", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["code", "name", "severity", "default", "summary"]
    rows = [line.split(None, 4) for line in lines[1:]]
    assert [row[0] for row in rows] == CODES
    for row, rule in zip(rows, RULES):
        assert row[1:] == [rule.name, rule.severity.value, "on" if rule.default else "off", rule.summary]


@pytest.mark.parametrize(("argv", "fragment"), [
    (["rule"], "give one rule code"),
    (["rule", "SC201", "--all"], "give one rule code"),
    (["rule", "SC999"], "unknown rule code 'SC999'"),
])
def test_rule_command_usage_errors(argv: list[str], fragment: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
