"""A CI linter pays its imports on every call: ``--version`` must not import numpy or onnx, and the
command-line parser (every subcommand registered) must not either."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from shapecheck.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("numpy", "onnx", "networkx", "pydantic", "yaml", "rich") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


def _heavy_modules_after(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1]
    assert out.startswith("HEAVY:")
    return [m for m in out.removeprefix("HEAVY:").split(",") if m]


def test_version_imports_no_heavy_module() -> None:
    assert _heavy_modules_after(["--version"]) == []


def test_help_imports_no_heavy_module() -> None:
    assert _heavy_modules_after(["--help"]) == []


def test_checking_or_inspecting_yaml_never_imports_onnx() -> None:
    probe = """
import contextlib, io, sys
from shapecheck.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["inspect", "fixtures/yaml/tiny_unet.yaml"])
    main(["check", "fixtures/yaml/tiny_unet_odd.yaml"])
print("HEAVY:" + ",".join(m for m in ("onnx", "onnxruntime") if m in sys.modules))
"""
    root = __file__.rsplit("/tests/", 1)[0]
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.splitlines()[-1] == "HEAVY:"
