"""The Python API: ``shapecheck.load / check / fix / sizes`` and ``shapecheck.testing.assert_no_findings``.

``import shapecheck`` must stay cheap (a CI linter pays it on every call), and each API function shares
its name with a module of the package (``shapecheck/check.py`` …): the functions must stay callable
whatever was imported first.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import shapecheck
from shapecheck.errors import LoadError, SpecError
from shapecheck.findings import Finding, Severity
from shapecheck.testing import assert_no_findings

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ODD = os.path.join(REPO, "fixtures", "yaml", "tiny_unet_odd.yaml")
CLEAN = os.path.join(REPO, "fixtures", "yaml", "tiny_unet.yaml")
UNET = os.path.join(REPO, "fixtures", "onnx", "unet_k2s2_odd_breaks.onnx")


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_shapecheck_is_cheap() -> None:
    heavy = _python("import sys, shapecheck\n"
                    "print(','.join(m for m in ('numpy', 'onnx', 'networkx', 'pydantic', 'yaml', 'rich') "
                    "if m in sys.modules))")
    assert heavy == ""


@pytest.mark.parametrize("first", ["shapecheck.check", "shapecheck.fix", "shapecheck.load", "shapecheck.cli",
                                   "shapecheck.rules"])
def test_api_functions_survive_importing_the_module_of_the_same_name(first: str) -> None:
    out = _python(f"import {first}\nimport shapecheck\n"
                  f"r = shapecheck.check({ODD!r})\n"
                  "print(callable(shapecheck.check), callable(shapecheck.fix), callable(shapecheck.load), "
                  "callable(shapecheck.sizes), r.codes)")
    assert out == "True True True True ['SC301', 'SC401', 'SC201', 'SC204']"


def test_sizes_is_callable_after_importing_the_sizes_package() -> None:
    pytest.importorskip("shapecheck.sizes._analysis", reason="the sizes analysis (shapecheck/sizes) is not present")
    out = _python(f"import shapecheck.sizes\nimport shapecheck.sizes as package\nimport shapecheck\n"
                  f"print(sorted(shapecheck.sizes({UNET!r}).symbols), package.analyse_sizes.__name__)")
    assert out == "['H', 'W'] analyse_sizes"


def test_the_modules_behind_the_names_stay_reachable(monkeypatch) -> None:
    import shapecheck.check as check_module

    assert check_module.check_file is shapecheck.check.check_file
    assert shapecheck.load.load_model.__module__ == "shapecheck.load"
    monkeypatch.setattr("shapecheck.check.check_file", lambda *a, **k: "patched")
    assert sys.modules["shapecheck.check"].check_file() == "patched"
    assert "Check a model" in (shapecheck.check.__doc__ or "")
    import inspect

    assert "dims" in inspect.signature(shapecheck.check).parameters


def test_check_returns_the_finding_records_the_cli_renders() -> None:
    report = shapecheck.check(ODD)
    assert report.path == ODD and report.dims == {"H": 65, "W": 65}
    assert all(isinstance(f, Finding) for f in report.findings)
    assert report.codes == ["SC301", "SC401", "SC201", "SC204"]
    assert [f.code for f in report.errors] == ["SC401", "SC201"] and not report.ok
    assert [f.code for f in report.warnings] == ["SC301", "SC204"]
    join = report.errors[-1]
    assert join.node == "cat1" and {r.role for r in join.related} == {"floor-loss", "upsampler"}
    assert join.fixes[0].attribute == "output_padding" and join.fixes[0].confirmed
    assert report.at_least("warning") == report.findings and report.at_least(Severity.ERROR) == report.errors
    assert "SC201" in report.render() and report.render("markdown").startswith("### shapecheck: ❌ 2 errors")
    assert report.render("json").startswith("{")


def test_check_options() -> None:
    assert shapecheck.check(ODD, dims={"H": 64, "W": 64}).codes == []
    assert shapecheck.check(ODD, select=["SC2"]).codes == ["SC201", "SC204"]
    assert shapecheck.check(ODD, select="SC2,SC3", ignore="SC204").codes == ["SC301", "SC201"]
    assert shapecheck.check(UNET, input_shapes={"input": [1, 1, 37, 37]}, select=["SC201"]).codes == ["SC201"] * 2
    unconfirmed = shapecheck.check(ODD, confirm=False).errors[-1].fixes[0]
    assert not unconfirmed.confirmed
    graph = shapecheck.load(UNET)
    assert len(graph) == 38 and shapecheck.check(graph, dims={"H": 40, "W": 40}).ok


def test_check_errors_are_exceptions(tmp_path) -> None:
    with pytest.raises(SpecError, match="no symbolic dim 'h'"):
        shapecheck.check(ODD, dims={"h": 64})
    broken = tmp_path / "broken.yaml"
    broken.write_text("shapecheck: 1\nlayers: [\n")
    with pytest.raises(LoadError):
        shapecheck.check(str(broken))
    with pytest.raises(SpecError, match="no rule code starts with 'SC7'"):
        shapecheck.check(ODD, select=["SC7"])


def test_fix_in_memory_and_to_a_file(tmp_path) -> None:
    result = shapecheck.fix(ODD)
    assert result.path is None and [f.attribute for f in result.applied] == ["output_padding"]
    assert result.report.ok and result.model.nodes["up1"].attr("output_padding") == (1, 1)
    out = tmp_path / "fixed.onnx"
    written = shapecheck.fix(UNET, dims={"H": 37, "W": 37}, output=out)
    assert written.path == str(out) and out.exists()
    assert len(written.applied) == 2 and written.report.ok and written.report.path == str(out)
    assert shapecheck.check(str(out), dims={"H": 37, "W": 37}).ok
    nothing = shapecheck.fix(CLEAN, output=tmp_path / "same.yaml")
    with open(CLEAN, encoding="utf-8") as original:
        assert nothing.applied == () and (tmp_path / "same.yaml").read_text() == original.read()


def test_sizes_delegates_to_the_size_analysis() -> None:
    try:
        import shapecheck.sizes._analysis
    except ImportError:  # a checkout without the size analysis: the API says so instead of guessing
        with pytest.raises(NotImplementedError, match="size analysis"):
            shapecheck.sizes(UNET)
        return
    analysis = shapecheck.sizes(UNET)
    assert set(analysis.symbols) == {"H", "W"}
    assert analysis.path == UNET


def test_assert_no_findings_passes_on_a_clean_model_and_returns_the_report() -> None:
    report = assert_no_findings(CLEAN, dims={"H": 64, "W": 64})
    assert report.findings == ()


def test_assert_no_findings_says_what_to_change() -> None:
    with pytest.raises(AssertionError) as raised:
        assert_no_findings(ODD)
    text = str(raised.value)
    assert text.startswith(f"shapecheck: 4 findings in {ODD}:")
    assert "cat1 (Concat) SC201" in text and "fix: set output_padding of 'up1' to [1, 1]" in text


def test_assert_no_findings_severity_and_ignore() -> None:
    fixed = shapecheck.fix(ODD).model
    with pytest.raises(AssertionError, match="SC502"):
        assert_no_findings(fixed)  # a baked output_padding is a warning
    assert_no_findings(fixed, ignore=["SC502", "SC301"])
    with pytest.raises(AssertionError, match="SC201"):
        assert_no_findings(ODD, severity="error")
    assert_no_findings(ODD, select=["SC5"])


def test_public_names() -> None:
    for name in shapecheck.__all__:
        assert getattr(shapecheck, name) is not None, name
    assert shapecheck.Report.__mro__[1].__name__ == "FileReport"
    assert "check" in dir(shapecheck) and "testing" in dir(shapecheck)
