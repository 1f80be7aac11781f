"""``shapecheck check DIR -j N``: a model zoo at once — the same output as one process, in the same order;
a broken file, a bug in shapecheck or a dying worker costs one file, never the run; a progress bar only
for a person at a terminal; a summary table on stderr that leaves stdout untouched."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys

import pytest

from shapecheck.cli import main
from shapecheck.commands import check as check_command

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = os.path.join(REPO, "fixtures")
DIMS = ("--dim", "H=37", "--dim", "W=37", "--dim", "L=1001")


@pytest.fixture()
def zoo(tmp_path, monkeypatch) -> str:
    """Every fixture model, plus two broken files, in a fresh directory (run from an empty one)."""
    root = tmp_path / "zoo"
    for sub in ("onnx", "yaml"):
        shutil.copytree(os.path.join(FIXTURES, sub), root / sub, ignore=shutil.ignore_patterns("*.json"))
    (root / "yaml" / "broken.yaml").write_text("shapecheck: 1\nlayers: [\n")
    (root / "onnx" / "broken.onnx").write_bytes(b"\x08\x07garbage")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("CI", raising=False)
    return str(root)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "shapecheck", "check", *argv], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.parametrize("fmt", ["json", "sarif", "text"])
def test_parallel_output_is_byte_identical_to_one_process(zoo, fmt: str) -> None:
    one = _run(zoo, *DIMS, "--select", "ALL", "--format", fmt, "-j", "1")
    two = _run(zoo, *DIMS, "--select", "ALL", "--format", fmt, "-j", "2")
    assert one.returncode == two.returncode == 2  # the two broken files
    assert one.stdout == two.stdout


def test_broken_files_do_not_stop_the_others(zoo, capsys) -> None:
    code = main(["check", zoo, *DIMS, "--format", "json", "-j", "2", "--no-confirm"])
    document = json.loads(capsys.readouterr().out)
    assert code == 2
    errors = {os.path.basename(f["path"]): f["error"] for f in document["files"] if f["error"]}
    assert set(errors) == {"broken.onnx", "broken.yaml"}
    assert sum(1 for f in document["files"] if f["findings"]) >= 10


def test_a_bug_in_shapecheck_costs_one_file(zoo, monkeypatch, capsys) -> None:
    """An exception that escapes check_file (a bug) becomes that file's error, with the exception named."""
    import shapecheck.check

    real = shapecheck.check.check_file

    def flaky(path: str, **options):
        if path.endswith("tiny_unet.yaml"):
            raise ZeroDivisionError("a bug")
        return real(path, **options)

    monkeypatch.setattr(shapecheck.check, "check_file", flaky)
    code = main(["check", zoo, *DIMS, "--format", "json", "--no-confirm"])
    files = json.loads(capsys.readouterr().out)["files"]
    assert code == 2
    failed = next(f for f in files if f["path"].endswith("tiny_unet.yaml"))
    assert "internal error in shapecheck (ZeroDivisionError: a bug)" in failed["error"]["message"]
    assert sum(1 for f in files if f["error"] is None) == len(files) - 3


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="the patch reaches workers by fork")
def test_a_worker_that_dies_costs_one_file(zoo, monkeypatch, capsys) -> None:
    import shapecheck.check

    real = shapecheck.check.check_file

    def deadly(path: str, **options):
        if path.endswith("unet3d.onnx"):
            os._exit(9)  # as the OOM killer would
        return real(path, **options)

    monkeypatch.setattr(shapecheck.check, "check_file", deadly)
    code = main(["check", zoo, *DIMS, "--format", "json", "-j", "2", "--no-confirm"])
    files = json.loads(capsys.readouterr().out)["files"]
    assert code == 2
    died = [f for f in files if f["error"] and "worker process checking this file died" in f["error"]["message"]]
    assert [os.path.basename(f["path"]) for f in died] == ["unet3d.onnx"]
    assert sum(1 for f in files if f["error"] is None) == len(files) - 3


def test_the_summary_table_goes_to_stderr_for_a_zoo(zoo, capsys) -> None:
    main(["check", zoo, *DIMS, "--format", "json", "--no-confirm"])
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout is the JSON document and nothing else
    header, values = captured.err.strip().splitlines()[-2:]
    row = dict(zip(header.split(), values.split()))
    document = json.loads(captured.out)
    assert row["files"] == str(len(document["files"])) and row["unreadable"] == "2"
    assert row["errors"] == str(document["summary"]["errors"])
    main(["check", zoo, *DIMS, "--format", "json", "--no-confirm", "--no-summary"])
    assert "files" not in capsys.readouterr().err


def test_no_summary_table_for_a_few_files(capsys) -> None:
    main(["check", os.path.join(FIXTURES, "yaml"), "--no-confirm", "--no-config"])
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("tty", "ci", "expected"), [(True, None, True), (True, "true", False), (False, None, False)])
def test_progress_only_for_a_person_at_a_terminal(monkeypatch, tty: bool, ci: str | None, expected: bool) -> None:
    class Stream:
        def isatty(self) -> bool:
            return tty

    monkeypatch.setattr(sys, "stderr", Stream())
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert check_command._interactive() is expected


def test_a_terminal_gets_a_progress_bar_and_a_rich_table(zoo) -> None:
    """Run under a pseudo-terminal: the bar is drawn (and cleared), the table is a rich table."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    process = subprocess.Popen([sys.executable, "-m", "shapecheck", "check", zoo, *DIMS, "-j", "2",
                                "--no-confirm", "--format", "json", "-o", os.devnull],
                               stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=300)
    text = output.decode("utf-8", "replace")
    total = len([n for _, _, names in os.walk(zoo) for n in names])
    assert "checking" in text and f"/{total}" in text  # the bar, with its n/total column
    assert "shapecheck summary" in text and "┃" in text


def test_jobs_must_not_be_negative(capsys) -> None:
    assert main(["check", os.path.join(FIXTURES, "yaml"), "-j", "-1"]) == 2
    assert "-j/--jobs" in capsys.readouterr().err
