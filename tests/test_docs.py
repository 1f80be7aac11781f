"""The documentation is tested like code: the README's Python example runs, the arithmetic page's examples
run (doctests and commands), the CLI reference matches the parser, and every relative link resolves."""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex

import pytest

from shapecheck.cli import build_parser, main
from shapecheck.report.cli_reference import DEFAULT_PATH, render_cli_reference
from shapecheck.report.cli_reference import main as reference_main

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
README = os.path.join(REPO, "README.md")
ARITHMETIC = os.path.join(REPO, "docs", "arithmetic.md")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


# -- README ---------------------------------------------------------------------------------------------


def test_readme_python_example_runs(monkeypatch) -> None:
    """The "Python API" section's example, executed as written from the repository root."""
    section = _read(README).split("## Python API", 1)
    assert len(section) == 2, "README.md has no '## Python API' section"
    blocks = _blocks(section[1].split("\n## ", 1)[0], "python")
    assert len(blocks) == 1, "the Python API section has one example"
    code = blocks[0]
    assert len(code.strip().splitlines()) <= 12, "the README promises a ten-line example"
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md (Python API example)", "exec"), {"__name__": "readme_example"})


# -- docs/arithmetic.md ------------------------------------------------------------------------------------


def test_arithmetic_doctests() -> None:
    text = _read(ARITHMETIC)
    blocks = _blocks(text, "pycon")
    assert len(blocks) >= 5
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    names: dict[str, object] = {}  # one namespace for the page, as a reader following along has
    for number, block in enumerate(blocks):
        test = parser.get_doctest(block, names, f"docs/arithmetic.md pycon block {number + 1}", ARITHMETIC, 0)
        runner.run(test, clear_globs=False)
        names.update(test.globs)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted >= 15


def _normal(line: str) -> str:
    return " ".join(line.split())


CONSOLE = _blocks(_read(ARITHMETIC), "console") + _blocks(_read(README), "console")


@pytest.mark.parametrize("block", CONSOLE, ids=[b.splitlines()[0][2:60] for b in CONSOLE])
def test_commands_print_what_the_docs_show(block: str, monkeypatch) -> None:
    """The arithmetic page's and the README's ``$ shapecheck …`` blocks: the lines shown, in order;
    ``...`` stands for lines left out."""
    first, *expected = block.rstrip("\n").splitlines()
    assert first.startswith("$ shapecheck ")
    monkeypatch.chdir(REPO)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(shlex.split(first[2:])[1:])
    actual = [_normal(line) for line in out.getvalue().splitlines()]
    position = 0
    for line in expected:
        if line.strip() == "...":
            continue
        wanted = _normal(line)
        try:
            position = actual.index(wanted, position) + 1
        except ValueError:
            pytest.fail(f"{first}: expected the line\n  {line}\nin this order; the command printed:\n"
                        + out.getvalue())


# -- docs/cli.md ---------------------------------------------------------------------------------------


def test_cli_reference_is_current() -> None:
    with open(os.path.join(REPO, DEFAULT_PATH), encoding="utf-8", newline="") as handle:
        current = handle.read()
    assert current == render_cli_reference(), (
        "docs/cli.md is stale: run python -m shapecheck.report.cli_reference")


def test_cli_reference_names_every_command_and_option() -> None:
    text = render_cli_reference()
    parser = build_parser()
    seen = 0
    stack = [("shapecheck", parser)]
    while stack:
        prog, current = stack.pop()
        assert f"`{prog}`" in text
        for action in current._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in text, f"{prog} {option}"
                    seen += 1
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                stack += [(f"{prog} {name}", sub) for name, sub in action.choices.items()]
    assert seen > 40


def test_cli_reference_check_mode(tmp_path, monkeypatch, capsys) -> None:
    page = tmp_path / "cli.md"
    assert reference_main([str(page), "--check"]) == 1
    assert reference_main([str(page)]) == 0 and page.read_text(encoding="utf-8") == render_cli_reference()
    assert reference_main([str(page), "--check"]) == 0
    page.write_text("edited\n")
    assert reference_main([str(page), "--check"]) == 1
    assert "stale" in capsys.readouterr().err


# -- links ---------------------------------------------------------------------------------------------


def _markdown_files() -> list[str]:
    docs = os.path.join(REPO, "docs")
    return [README, *(os.path.join(docs, n) for n in sorted(os.listdir(docs)) if n.endswith(".md"))]


@pytest.mark.parametrize("path", _markdown_files(), ids=os.path.basename)
def test_relative_links_resolve(path: str) -> None:
    text = re.sub(r"^```.*?^```", "", _read(path), flags=re.S | re.M)  # links in code blocks are examples
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
        assert os.path.exists(resolved), f"{os.path.relpath(path, REPO)} links to missing {target}"
