"""``shapecheck check``: exit codes, rule selection by prefix, ``[tool.shapecheck]`` discovery and precedence,
per-file and per-node ignores, directory expansion. Findings are compared by code, not by text."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap

import pytest
import yaml

from shapecheck.cli import main

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CLEAN = os.path.join(REPO, "fixtures", "yaml", "tiny_unet.yaml")
ODD = os.path.join(REPO, "fixtures", "yaml", "tiny_unet_odd.yaml")
UNET_ONNX = os.path.join(REPO, "fixtures", "onnx", "unet_k2s2_odd_breaks.onnx")

#: What tiny_unet_odd.yaml raises by default: the floor, the transposed conv, the join, the output size.
ODD_CODES = {"SC201", "SC204", "SC301", "SC401"}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch) -> None:
    """Run from an empty directory, so that no pyproject.toml of the checkout or above it is read."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("NO_COLOR", raising=False)


def _check(capsys, *argv: str) -> tuple[int, dict]:
    """Run ``check`` with the JSON format; the exit code and the document."""
    code = main(["check", *argv, "--format", "json", "--no-confirm"])
    return code, json.loads(capsys.readouterr().out)


def _codes(document: dict) -> set[str]:
    return {f["code"] for file in document["files"] for f in file["findings"]}


def _one_line_usage_error(capsys, argv: list[str], *fragments: str) -> None:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse usage errors
        code = stop.code
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in lines[0]


# -- exit codes ------------------------------------------------------------------------------------


def test_clean_model_exits_0(capsys) -> None:
    assert main(["check", CLEAN]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "All checks passed."


def test_findings_exit_1(capsys) -> None:
    code, document = _check(capsys, ODD)
    assert code == 1
    assert _codes(document) == ODD_CODES


def test_unreadable_model_exits_2_and_the_other_file_is_still_reported(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("shapecheck: 1\nlayers: [\n")
    code = main(["check", str(broken), ODD])
    out = capsys.readouterr().out
    assert code == 2
    assert f"{broken}:3:1: error: YAML:" in out
    assert "SC201" in out and "could not be read" in out.splitlines()[-1]


def test_missing_file_exits_2(tmp_path, capsys) -> None:
    code, document = _check(capsys, str(tmp_path / "absent.onnx"), CLEAN)
    assert code == 2
    assert document["files"][0]["error"]["message"].startswith("cannot read the file")
    assert document["files"][1]["error"] is None


def test_exit_zero_ignores_findings_but_not_unreadable_files(tmp_path, capsys) -> None:
    assert _check(capsys, ODD, "--exit-zero")[0] == 0
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf")
    assert _check(capsys, ODD, str(broken), "--exit-zero")[0] == 2


@pytest.mark.parametrize(("argv", "expected"), [
    ((), 0),                                # only a warning (SC301): the default fails on errors
    (("--fail-on", "error"), 0),
    (("--fail-on", "warning"), 1),
    (("--fail-on", "warning", "--exit-zero"), 0),
])
def test_fail_on(capsys, argv: tuple[str, ...], expected: int) -> None:
    code, document = _check(capsys, ODD, "--select", "SC3", *argv)
    assert _codes(document) == {"SC301"}
    assert code == expected


CHECKERBOARD = """\
shapecheck: 1
inputs: {x: [1, 1, 8, 8]}
layers:
  - {name: up, op: conv_transpose, input: x, out_channels: 1, kernel_size: 3, stride: 2, padding: 1,
     output_padding: 1}
"""


def test_info_findings_never_fail(tmp_path, capsys) -> None:
    model = tmp_path / "checkerboard.yaml"
    model.write_text(CHECKERBOARD)
    code, document = _check(capsys, str(model), "--select", "SC403", "--fail-on", "warning")
    assert code == 0 and _codes(document) == {"SC403"}


@pytest.mark.parametrize(("argv", "fragments"), [
    (["check", CLEAN, "--dim", "Q=3"], ("--dim Q", "no checked file", "H, W")),
    (["check", CLEAN, "--select", "SX1"], ("no rule code starts with 'SX1'",)),
    (["check", CLEAN, "--ignore", "SC99"], ("no rule code starts with 'SC99'",)),
    (["check", CLEAN, "--dim", "H=zero"], ("--dim H",)),
    (["check", CLEAN, "--format", "xml"], ("invalid choice",)),
    (["check"], ("PATH",)),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv: list[str], fragments: tuple[str, ...]) -> None:
    _one_line_usage_error(capsys, argv, *fragments)


def test_a_dim_known_to_one_file_of_several_is_fine(capsys) -> None:
    code, document = _check(capsys, CLEAN, os.path.join(REPO, "fixtures", "onnx", "audio_encdec_1d.onnx"),
                            "--dim", "L=1024")
    assert code == 0
    assert document["files"][1]["dims"] == {"L": 1024}


def test_output_file(tmp_path, capsys) -> None:
    target = tmp_path / "report.json"
    assert main(["check", ODD, "--format", "json", "--output", str(target)]) == 1
    assert capsys.readouterr().out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["summary"]["errors"] == 2


# -- paths -----------------------------------------------------------------------------------------


def test_directories_are_searched_recursively_in_sorted_order(tmp_path, capsys) -> None:
    root = tmp_path / "models"
    (root / "b").mkdir(parents=True)
    (root / "a").mkdir()
    (root / ".hidden").mkdir()
    shutil.copy(ODD, root / "b" / "z.yml")
    shutil.copy(CLEAN, root / "a" / "y.yaml")
    shutil.copy(CLEAN, root / "x.YAML")
    shutil.copy(ODD, root / ".hidden" / "skipped.yaml")
    (root / "config.yaml").write_text("learning_rate: 0.1\n")  # not a model: skipped
    (root / "notes.txt").write_text("not a model\n")
    code, document = _check(capsys, str(root))
    paths = [os.path.relpath(f["path"], root).replace(os.sep, "/") for f in document["files"]]
    assert paths == ["a/y.yaml", "b/z.yml", "x.YAML"]
    assert code == 1


def test_named_yaml_that_is_not_a_model_is_skipped_with_a_note(tmp_path, capsys) -> None:
    workflow = tmp_path / ".pre-commit-config.yaml"
    workflow.write_text("repos: []\n")
    code = main(["check", str(workflow), CLEAN])
    captured = capsys.readouterr()
    assert code == 0
    assert "skipped" in captured.err and "not a shapecheck model" in captured.err
    assert captured.out.strip().endswith("All checks passed.")


def test_an_empty_directory_is_a_warning(tmp_path, capsys) -> None:
    assert main(["check", str(tmp_path)]) == 0
    assert "no models" in capsys.readouterr().err


# -- selection by prefix ---------------------------------------------------------------------------


@pytest.mark.parametrize(("select", "ignore", "expected"), [
    (None, None, ODD_CODES),
    ("SC2", None, {"SC201", "SC204"}),
    ("SC2,SC301", None, {"SC201", "SC204", "SC301"}),
    ("SC2", "SC204", {"SC201"}),
    ("SC", "SC2", {"SC301", "SC401"}),
    ("SC201", "SC2", {"SC201"}),            # the longer prefix wins, whichever list it is in
    ("SC2", "SC20", set()),
    ("ALL", "SC4", {"SC201", "SC204", "SC301"}),
    (None, "SC3,SC4", {"SC201", "SC204"}),
    ("sc201", None, {"SC201"}),             # codes are case-insensitive
    ("ALL", "ALL", set()),
])
def test_select_and_ignore_by_prefix(capsys, select: str | None, ignore: str | None,
                                     expected: set[str]) -> None:
    argv = [ODD]
    if select is not None:
        argv += ["--select", select]
    if ignore is not None:
        argv += ["--ignore", ignore]
    assert _codes(_check(capsys, *argv)[1]) == expected


def test_default_off_rules_need_selecting(tmp_path, capsys) -> None:
    model = tmp_path / "checkerboard.yaml"
    model.write_text(CHECKERBOARD)
    assert _codes(_check(capsys, str(model))[1]) == set()
    assert _codes(_check(capsys, str(model), "--select", "ALL")[1]) == {"SC403"}
    assert _codes(_check(capsys, str(model), "--select", "SC4")[1]) == {"SC403"}


def test_repeated_select_options_accumulate(capsys) -> None:
    assert _codes(_check(capsys, ODD, "--select", "SC201", "--select", "SC301")[1]) == {"SC201", "SC301"}


# -- [tool.shapecheck] -----------------------------------------------------------------------------


def _project(tmp_path, monkeypatch, config: str, *, nested: str = "sub/deeper") -> str:
    """A project in ``tmp_path/project`` with tiny_unet_odd.yaml in models/; chdir into a nested folder."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    shutil.copy(ODD, project / "models" / "tiny_unet_odd.yaml")
    (project / "pyproject.toml").write_text(textwrap.dedent(config))
    cwd = project / nested
    cwd.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(cwd)
    return str(project / "models" / "tiny_unet_odd.yaml")


def test_config_is_found_upward_from_the_working_directory(tmp_path, monkeypatch, capsys) -> None:
    model = _project(tmp_path, monkeypatch, """
        [project]
        name = "demo"

        [tool.shapecheck]
        select = ["SC3"]
        fail-on = "warning"
    """)
    code, document = _check(capsys, model)
    assert _codes(document) == {"SC301"}
    assert code == 1


def test_the_command_line_beats_the_file(tmp_path, monkeypatch, capsys) -> None:
    model = _project(tmp_path, monkeypatch, """
        [tool.shapecheck]
        select = ["SC3"]
        fail-on = "warning"
        dims = {H = 64, W = 64}
    """)
    code, document = _check(capsys, model)
    assert code == 0 and _codes(document) == set()          # 64x64 is clean
    assert document["files"][0]["dims"] == {"H": 64, "W": 64}
    code, document = _check(capsys, model, "--dim", "H=65", "--dim", "W=65")
    assert code == 1 and _codes(document) == {"SC301"}    # back at 65: the warning, and fail-on warning
    code, document = _check(capsys, model, "--dim", "H=65", "--dim", "W=65", "--fail-on", "error")
    assert code == 0
    code, document = _check(capsys, model, "--dim", "H=65", "--dim", "W=65", "--select", "SC2")
    assert _codes(document) == {"SC201", "SC204"} and code == 1
    code, document = _check(capsys, model, "--dim", "H=65", "--dim", "W=65", "--no-config")
    assert _codes(document) == ODD_CODES


def test_a_config_with_only_ignore_keeps_the_default_selection(tmp_path, monkeypatch, capsys) -> None:
    model = _project(tmp_path, monkeypatch, """
        [tool.shapecheck]
        ignore = "SC3, SC4"
    """)
    assert _codes(_check(capsys, model)[1]) == {"SC201", "SC204"}


def test_a_nearer_pyproject_without_the_table_is_passed_over(tmp_path, monkeypatch, capsys) -> None:
    model = _project(tmp_path, monkeypatch, """
        [tool.shapecheck]
        select = ["SC201"]
    """)
    (tmp_path / "project" / "sub" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert _codes(_check(capsys, model)[1]) == {"SC201"}


@pytest.mark.parametrize(("config", "fragment"), [
    ("[tool.shapecheck]\nselekt = ['SC2']\n", "unknown key(s) selekt"),
    ("[tool.shapecheck]\nfail-on = 'info'\n", "fail-on"),
    ("[tool.shapecheck]\ndims = {H = 0}\n", "dims: H must be a positive integer"),
    ("[tool.shapecheck]\nselect = ['SX']\n", "no rule code starts with 'SX'"),
    ("[tool.shapecheck]\nper-node-ignores = {cat1 = ['SC9999']}\n", "per-node-ignores 'cat1'"),
    ("[tool.shapecheck]\nselect = 3\n", "expected a list of code prefixes"),
    ("[tool.shapecheck\n", "cannot read the configuration"),
])
def test_bad_configuration_exits_2_with_one_line(tmp_path, monkeypatch, capsys, config: str,
                                                 fragment: str) -> None:
    model = _project(tmp_path, monkeypatch, config)
    _one_line_usage_error(capsys, ["check", model], fragment)


def test_per_file_ignores(tmp_path, monkeypatch, capsys) -> None:
    model = _project(tmp_path, monkeypatch, """
        [tool.shapecheck.per-file-ignores]
        "models/*.yaml" = ["SC2"]
        "*_odd.yaml" = "SC4"
        "other/*.yaml" = ["SC3"]
    """)
    assert _codes(_check(capsys, model)[1]) == {"SC301"}
    elsewhere = tmp_path / "project" / "other.yaml"
    shutil.copy(ODD, elsewhere)   # "*_odd.yaml" and "models/*.yaml" do not match other.yaml
    document = _check(capsys, str(elsewhere))[1]
    assert _codes(document) == ODD_CODES


def test_per_node_ignores(tmp_path, monkeypatch, capsys) -> None:
    model = _project(tmp_path, monkeypatch, """
        [tool.shapecheck.per-node-ignores]
        cat1 = ["SC201"]
        "pool*" = ["SC3"]
        up1 = ["SC201"]          # SC201 is not reported at up1 anyway: nothing else changes
    """)
    assert _codes(_check(capsys, model)[1]) == {"SC204", "SC401"}


def test_per_node_ignores_match_onnx_node_names(tmp_path, monkeypatch, capsys) -> None:
    _project(tmp_path, monkeypatch, """
        [tool.shapecheck.per-node-ignores]
        "/ups.*/Concat" = ["SC2"]
        "/downs.0/pool/MaxPool" = ["SC301"]
    """)
    document = _check(capsys, UNET_ONNX, "--dim", "H=37", "--dim", "W=37")[1]
    findings = [(f["code"], f["node"]) for f in document["files"][0]["findings"]]
    assert ("SC301", "/downs.2/pool/MaxPool") in findings
    assert not [c for c, node in findings if c == "SC201" or node == "/downs.0/pool/MaxPool"]
    assert {c for c, _ in findings} == {"SC301", "SC401"}


# -- the CI snippets ---------------------------------------------------------------------------------


def test_pre_commit_hook_definition() -> None:
    with open(os.path.join(REPO, ".pre-commit-hooks.yaml"), encoding="utf-8") as handle:
        hook, = yaml.safe_load(handle)
    assert (hook["id"], hook["entry"], hook["language"]) == ("shapecheck", "shapecheck check", "python")
    matches = [name for name in ("a.onnx", "b.yaml", "c.yml", "d.json", "e.yaml.bak")
               if re.search(hook["files"], name)]
    assert matches == ["a.onnx", "b.yaml", "c.yml"]


def test_readme_configuration_example_is_valid(tmp_path) -> None:
    from shapecheck.commands.check import load_settings

    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    section = readme.split("## Use in CI", 1)[1]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "pyproject.toml"
    path.write_text(toml, encoding="utf-8")
    settings = load_settings(str(path))
    assert settings.select == ("SC2", "SC3", "SC4") and settings.fail_on == "warning"
    assert dict(settings.dims) == {"H": 256, "W": 256}
    assert settings.per_node_ignores == (("/ups.0/Concat", ("SC201",)),)
