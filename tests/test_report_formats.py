"""The output formats of ``shapecheck check``: SARIF valid against the OASIS schema, the JSON document's
keys exactly as documented and byte-deterministic, GitHub workflow commands, and pinned text output.

Snapshots live in ``tests/snapshots``; ``SHAPECHECK_UPDATE_SNAPSHOTS=1 pytest tests/test_report_formats.py``
rewrites them (read the diff before committing it).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import jsonschema
import pytest

from shapecheck.check import FileReport, check_file
from shapecheck.cli import main
from shapecheck.findings import Finding, Fix, Related, Severity
from shapecheck.report import formats
from shapecheck.report._common import error_parts, summary
from shapecheck.report.github import escape_data, escape_property
from shapecheck.report.sarif import artifact_uri
from shapecheck.report.text import render_text

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "data", "sarif-schema-2.1.0.json")
SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")
ODD = "fixtures/yaml/tiny_unet_odd.yaml"
CLEAN = "fixtures/yaml/tiny_unet.yaml"
UNET = "fixtures/onnx/unet_k2s2_odd_breaks.onnx"
AUDIO = "fixtures/onnx/audio_encdec_1d.onnx"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch) -> None:
    """Relative fixture paths, as a user in the checkout would type them (and as the snapshots show)."""
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def broken(tmp_path) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text("shapecheck: 1\nlayers: [\n")
    return os.path.relpath(path, REPO)


def _output(capsys, *argv: str) -> tuple[int, str]:
    code = main(["check", *argv])
    return code, capsys.readouterr().out


# -- registry ----------------------------------------------------------------------------------------


def test_registered_formats_match_the_names_the_cli_offers() -> None:
    assert sorted(formats.renderers()) == sorted(formats.NAMES)
    with pytest.raises(Exception, match="unknown output format 'xml'"):
        formats.get_renderer("xml")


# -- SARIF -------------------------------------------------------------------------------------------

SARIF_CASES = {
    "yaml-findings": (ODD,),
    "yaml-clean": (CLEAN,),
    "onnx-findings": (UNET, "--dim", "H=37", "--dim", "W=37"),
    "onnx-symbolic": (UNET,),
    "onnx-1d": (AUDIO, "--dim", "L=1001"),
    "unreadable-and-others": ("BROKEN", ODD, UNET, "--dim", "H=37", "--dim", "W=37"),
    "everything": ("fixtures", "--dim", "H=37", "--dim", "W=37", "--dim", "L=1001", "--select", "ALL"),
}


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema = json.load(handle)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@pytest.mark.parametrize("case", list(SARIF_CASES))
def test_sarif_is_valid_against_the_official_schema(case: str, capsys, broken: str,
                                                    sarif_validator: jsonschema.protocols.Validator) -> None:
    argv = [broken if a == "BROKEN" else a for a in SARIF_CASES[case]]
    code, out = _output(capsys, *argv, "--format", "sarif")
    log = json.loads(out)
    errors = sorted(sarif_validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    driver = run["tool"]["driver"]
    assert driver["name"] == "shapecheck" and driver["informationUri"].startswith("https://")
    rule_ids = [r["id"] for r in driver["rules"]]
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert "\\" not in uri and not os.path.isabs(uri)
    assert rule_ids == sorted(rule_ids)
    assert run["invocations"][0]["executionSuccessful"] is (code != 2)


def test_sarif_locations_for_yaml_and_onnx(capsys, broken: str) -> None:
    log = json.loads(_output(capsys, ODD, UNET, broken, "--dim", "H=37", "--dim", "W=37",
                             "--format", "sarif")[1])
    run = log["runs"][0]
    by_file: dict[str, list[dict]] = {}
    for result in run["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        by_file.setdefault(uri, []).append(result)
    yaml_join = next(r for r in by_file[ODD] if r["ruleId"] == "SC201")
    location = yaml_join["locations"][0]
    assert location["physicalLocation"]["region"] == {"startLine": 12, "startColumn": 5}
    assert location["logicalLocations"] == [
        {"name": "cat1", "kind": "member", "properties": {"op": "Concat"}}]
    assert [r["logicalLocations"][0]["name"] for r in yaml_join["relatedLocations"]][:2] == ["pool1", "up1"]
    assert yaml_join["properties"]["fixes"][0]["attribute"] == "output_padding"
    onnx_join = next(r for r in by_file[UNET] if r["ruleId"] == "SC201")
    assert "region" not in onnx_join["locations"][0]["physicalLocation"]
    assert onnx_join["locations"][0]["logicalLocations"][0]["name"] == "/ups.0/Concat"
    floor = next(r for r in by_file[UNET] if r["ruleId"] == "SC301")
    assert floor["level"] == "warning"
    notification, = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "SC201")
    assert rule["name"] == "join-size-mismatch"
    with open(os.path.join(REPO, "rules", "SC201.md"), encoding="utf-8") as handle:
        assert rule["help"]["markdown"] == handle.read()
    assert rule["defaultConfiguration"] == {"enabled": True, "level": "error"}


@pytest.mark.parametrize(("path", "uri"), [
    ("fixtures/onnx/a b.onnx", "fixtures/onnx/a%20b.onnx"),
    (os.path.join("models", "x.yaml"), "models/x.yaml"),
    (os.path.join(REPO, "fixtures", "x.onnx"), "fixtures/x.onnx"),
])
def test_artifact_uris_are_relative_with_forward_slashes(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri


# -- JSON --------------------------------------------------------------------------------------------

TOP_KEYS = ["version", "tool", "files", "summary"]
FILE_KEYS = ["path", "format", "dims", "error", "findings"]
FINDING_KEYS = ["code", "name", "severity", "message", "node", "op", "line", "column", "related", "fixes"]
RELATED_KEYS = ["node", "op", "role", "message"]
FIX_KEYS = ["title", "node", "attribute", "value", "holds_for", "safe", "confirmed"]
SUMMARY_KEYS = ["files", "errors", "warnings", "infos"]


def test_json_keys_exactly_as_documented(capsys, broken: str) -> None:
    code, out = _output(capsys, ODD, UNET, broken, "--dim", "H=37", "--dim", "W=37", "--format", "json")
    document = json.loads(out)
    assert code == 2
    assert list(document) == TOP_KEYS
    assert document["version"] == 1 and document["tool"] == {"name": "shapecheck", "version": "0.1.0"}
    assert [f["format"] for f in document["files"]] == ["yaml", "onnx", "yaml"]
    findings = [f for file in document["files"] for f in file["findings"]]
    for file in document["files"]:
        assert list(file) == FILE_KEYS
    for finding in findings:
        assert list(finding) == FINDING_KEYS
        assert finding["severity"] in {"error", "warning", "info"}
        assert all(list(r) == RELATED_KEYS for r in finding["related"])
        assert all(list(f) == FIX_KEYS for f in finding["fixes"])
        assert all(isinstance(f["safe"], bool) and isinstance(f["confirmed"], bool) for f in finding["fixes"])
    assert any(f["fixes"] for f in findings) and any(f["related"] for f in findings)
    yaml_file, onnx_file, broken_file = document["files"]
    assert yaml_file["dims"] == {"H": 37, "W": 37} and yaml_file["error"] is None
    assert {(f["line"], f["column"]) for f in yaml_file["findings"]} >= {(12, 5)}
    assert {(f["line"], f["column"]) for f in onnx_file["findings"]} == {(None, None)}
    assert broken_file["error"]["message"].startswith("3:1: YAML:") and broken_file["findings"] == []
    assert list(document["summary"]) == SUMMARY_KEYS
    assert document["summary"] == {"files": 3, "errors": 6, "warnings": 4, "infos": 0}


def test_json_is_byte_identical_across_runs(capsys) -> None:
    argv = ("fixtures", "--dim", "H=37", "--dim", "W=37", "--dim", "L=1001", "--format", "json")
    assert _output(capsys, *argv)[1] == _output(capsys, *argv)[1]


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_output_is_byte_identical_across_hash_seeds(fmt: str) -> None:
    argv = [sys.executable, "-m", "shapecheck", "check", "fixtures", "--dim", "H=37", "--dim", "W=37",
            "--dim", "L=1001", "--select", "ALL", "--format", fmt]
    outputs = set()
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        process = subprocess.run(argv, capture_output=True, cwd=REPO, env=env)
        assert process.returncode == 1, process.stderr
        outputs.add(process.stdout)
    assert len(outputs) == 1


# -- GitHub ------------------------------------------------------------------------------------------

COMMAND = re.compile(
    r"^::(error|warning|notice) file=([^,:]+),line=(\d+)(?:,col=(\d+))?,title=([^,:]+)::(.*)$")


def test_github_workflow_commands(capsys, broken: str) -> None:
    code, out = _output(capsys, ODD, UNET, broken, "--dim", "H=37", "--dim", "W=37", "--format", "github")
    assert code == 2
    lines = out.splitlines()
    parsed = [COMMAND.match(line) for line in lines]
    assert all(parsed), [line for line, match in zip(lines, parsed) if not match]
    by_file: dict[str, list[re.Match[str]]] = {}
    for match in parsed:
        by_file.setdefault(match.group(2), []).append(match)
    assert [(m.group(1), m.group(3), m.group(4), m.group(5)) for m in by_file[ODD]] == [
        ("warning", "9", "5", "SC301"), ("error", "11", "5", "SC401"),
        ("error", "12", "5", "SC201"), ("warning", "13", "5", "SC204"),
    ]
    assert {(m.group(3), m.group(4)) for m in by_file[UNET]} == {("1", None)}  # ONNX: line 1, no column
    assert by_file[UNET][0].group(6).startswith("/downs.0/pool/MaxPool (MaxPool): ")
    join = next(m for m in by_file[ODD] if m.group(5) == "SC201").group(6)
    assert "\n" not in join and "%0Arelated: pool1 (MaxPool) floor-loss: " in join and "%0Afix: " in join
    error, = by_file[broken.replace(os.sep, "/")]
    assert error.group(1) == "error" and (error.group(3), error.group(4)) == ("3", "1")
    assert error.group(5) == "shapecheck%3A cannot read the model"


def test_github_escaping() -> None:
    assert escape_data("100% sure\r\nnext") == "100%25 sure%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_info_is_a_notice(tmp_path) -> None:
    finding = Finding(0, "SC101", "unsupported-op", Severity.INFO, "no shape rule for X", "n", "X")
    out = io.StringIO()
    formats.get_renderer("github")([FileReport("m,1.onnx", "onnx", findings=(finding,))], out)
    assert out.getvalue() == "::notice file=m%2C1.onnx,line=1,title=SC101::n (X): no shape rule for X\n"


# -- text --------------------------------------------------------------------------------------------


def _snapshot(name: str, text: str) -> None:
    path = os.path.join(SNAPSHOTS, name)
    if os.environ.get("SHAPECHECK_UPDATE_SNAPSHOTS"):
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    with open(path, encoding="utf-8") as handle:
        assert text == handle.read(), f"text output differs from {path}"


@pytest.mark.parametrize(("name", "argv", "exit_code"), [
    ("check_tiny_unet_odd.txt", (ODD,), 1),
    ("check_unet_k2s2_odd_breaks_37.txt", (UNET, "--dim", "H=37", "--dim", "W=37"), 1),
    ("check_clean_and_unreadable.txt", (CLEAN, "tests/data/sarif-schema-2.1.0.json"), 2),
])
def test_text_snapshots(capsys, name: str, argv: tuple[str, ...], exit_code: int) -> None:
    code, out = _output(capsys, *argv)
    assert code == exit_code
    assert "\x1b[" not in out  # not a terminal: no colour
    _snapshot(name, out)


def _report_with_everything() -> FileReport:
    fix = Fix("set output_padding of 'up' to [1]", "up", "output_padding", [1], "L odd", safe=False,
              confirmed=False)
    related = Related("pool", "MaxPool", "floor-loss", "its floor drops a row")
    findings = (
        Finding(1, "SC201", "join-size-mismatch", Severity.ERROR, "sizes differ", "cat", "Concat", 4, 3,
                (related,), (fix,)),
        Finding(2, "SC301", "floor-drops-input", Severity.WARNING, "drops", "pool", "MaxPool", 2, 3),
        Finding(3, "SC103", "not-checked", Severity.INFO, "not looked at", None),
    )
    return FileReport("m.yaml", "yaml", {"L": 5}, findings)


def test_text_layout_and_colour() -> None:
    plain, colored = io.StringIO(), io.StringIO()
    render_text([_report_with_everything()], plain, color=False)
    render_text([_report_with_everything()], colored, color=True)
    assert plain.getvalue() == (
        "m.yaml:4:3: cat (Concat) SC201 sizes differ\n"
        "  related: pool (MaxPool) floor-loss: its floor drops a row\n"
        "  fix: set output_padding of 'up' to [1] — holds for L odd; unsafe; not confirmed\n"
        "\n"
        "m.yaml:2:3: pool (MaxPool) SC301 drops\n"
        "m.yaml: SC103 not looked at\n"
        "\n"
        "Found 1 error, 1 warning, 1 info in 1 file.\n"
    )
    assert "\x1b[1;31mSC201\x1b[0m" in colored.getvalue() and "\x1b[1;33mSC301" in colored.getvalue()
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored.getvalue()) == plain.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "colored"), [(None, True), ("1", False)])
def test_cli_colours_only_a_terminal_without_no_color(monkeypatch, no_color: str | None, colored: bool) -> None:
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["check", ODD]) == 1
    assert ("\x1b[" in terminal.getvalue()) is colored


@pytest.mark.parametrize(("reports", "line"), [
    ([], "All checks passed."),
    ([FileReport("a.onnx", "onnx")], "All checks passed."),
    ([FileReport("a.onnx", "onnx"), FileReport("b.onnx", "onnx", error="b.onnx: bad")],
     "Found 0 errors, 0 warnings, 0 infos in 2 files; 1 could not be read."),
])
def test_summary_line(reports: list[FileReport], line: str) -> None:
    assert summary(reports) == line


@pytest.mark.parametrize(("error", "parts"), [
    ("m.yaml:2:1: YAML: expected a node", ("2:1", "YAML: expected a node")),
    ("m.yaml: cannot read the file: gone", (None, "cannot read the file: gone")),
    ("m.yaml:node 'c': bad pads: [1]", ("node 'c'", "bad pads: [1]")),
    ("something else: entirely", (None, "something else: entirely")),
])
def test_error_parts(error: str, parts: tuple[str | None, str]) -> None:
    assert error_parts(FileReport("m.yaml", "yaml", error=error)) == parts


def test_check_file_reports_match_the_cli(capsys) -> None:
    """The renderers are functions of FileReports: rendering check_file's report gives the CLI output."""
    out = io.StringIO()
    formats.get_renderer("json")([check_file(ODD, confirm=True)], out)
    assert out.getvalue() == _output(capsys, ODD, "--format", "json")[1]
