"""HTML report benchmark: a 1,000-node model, written in < 2 s, opened in the browser in < 2 s, < 5 MB.

The model is ``synthetic.unet_chain(1000)`` (111 U-Net cells, 999 nodes). "Written" is the wall time of
the whole command as a user runs it — ``python -m shapecheck inspect MODEL --format html -o FILE`` in a
fresh process, start-up, loading, propagation, the rules and the drawing included — and the same for
``check --format html``; the median of several runs. "Opened" is measured in headless Chromium over the
DevTools protocol (``tests/browser_cdp.py``): from navigation start until the page's script has run and
two animation frames have been painted. A second model with symbolic sizes (longer edge labels) is
measured too.

    python benchmarks/bench_html.py [--repeats 3] [--keep DIR]

Prints one line per measurement and PASS or FAIL against the targets; exits 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from synthetic import unet_chain  # noqa: E402

WRITE_TARGET_S = 2.0
OPEN_TARGET_S = 2.0
SIZE_TARGET_MB = 5.0


def _write_seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "shapecheck", *argv], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"shapecheck {' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return statistics.median(times)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="write the models and reports to this directory instead of a temporary one")
    args = parser.parse_args(argv)
    directory = args.keep or tempfile.mkdtemp(prefix="shapecheck-bench-html-")
    os.makedirs(directory, exist_ok=True)
    failures = 0
    rows: list[tuple[str, str, float, float]] = []
    reports = []
    for name, model in (("unet_chain(1000)", unet_chain(1000)),
                        ("unet_chain(1000, symbolic)", unet_chain(1000, symbolic=True))):
        path = os.path.join(directory, name.replace("(", "_").replace(")", "").replace(", ", "_") + ".onnx")
        onnx.save(model, path)
        nodes = len(model.graph.node)
        for command in ("inspect", "check"):
            out = path[:-5] + f".{command}.html"
            extra = ["--dim", "H=32", "--dim", "W=32"] if "symbolic" in name and command == "check" else []
            seconds = _write_seconds([command, path, "--format", "html", "-o", out, *extra], args.repeats)
            megabytes = os.path.getsize(out) / 1e6
            rows.append((f"{command} --format html, {name}, {nodes} nodes: written", "s", seconds, WRITE_TARGET_S))
            rows.append((f"{command} --format html, {name}: file size", "MB", megabytes, SIZE_TARGET_MB))
            reports.append((f"{command}, {name}", out))

    from browser_cdp import Chromium, find_chromium, missing_reason

    binary = find_chromium()
    if binary is None:
        print(f"browser: not measured — {missing_reason()}")
        failures += 1
    else:
        with Chromium(binary) as browser:
            for label, out in reports:
                loads = [browser.open(out) for _ in range(args.repeats)]
                errors = loads[-1].errors
                if errors:
                    print(f"browser: {label}: console errors {errors}")
                    failures += 1
                rows.append((f"{label}: opened in Chromium (navigation to painted)", "s",
                             statistics.median(load.ready_ms for load in loads) / 1000, OPEN_TARGET_S))
    for label, unit, value, target in rows:
        ok = value < target
        failures += not ok
        print(f"{_verdict(ok)}  {label}: {value:.3f} {unit} (target < {target:g} {unit})")
    print(f"reports in {directory}")
    print("PASS" if not failures else f"FAIL ({failures})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
