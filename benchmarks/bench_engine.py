"""Engine benchmark: load + propagate vs ``onnx.load`` + ``onnx.shape_inference.infer_shapes``.

Synthetic U-Net-style graphs of 1k, 10k and 100k nodes (``benchmarks/synthetic.py``). Both sides are
timed in the same run, medians of several repeats; peak memory of shapecheck's side is measured in a
fresh process per size (``VmHWM``). Targets (issue 3): within 2× of ONNX, linear in the node
count, 100k nodes under 1.5 GB peak.

    python benchmarks/bench_engine.py [--repeats 5]
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synthetic import unet_chain

from shapecheck.load.onnx import load_onnx
from shapecheck.propagate import propagate

SIZES = (1_000, 10_000, 100_000)
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 1536

_PEAK = """
import sys
from shapecheck.load.onnx import load_onnx
from shapecheck.propagate import propagate
result = propagate(load_onnx(sys.argv[1]))
assert result.shape(result.graph.outputs[0]) is not None
# VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts from its parent's peak
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) // 1024)
"""


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for count in SIZES:
            path = os.path.join(folder, f"unet_{count}.onnx")
            onnx.save(unet_chain(count), path)
            nodes = len(onnx.load(path).graph.node)
            onnx_time = _median(lambda p=path: onnx.shape_inference.infer_shapes(onnx.load(p)), args.repeats)
            ours = _median(lambda p=path: propagate(load_onnx(p)), args.repeats)
            peak = int(subprocess.check_output([sys.executable, "-c", _PEAK, path], text=True).strip())
            rows.append((nodes, onnx_time, ours, ours / onnx_time, ours / nodes * 1e6, peak))
    print(f"python {sys.version.split()[0]}, onnx {onnx.__version__}, {os.cpu_count()} cores, "
          f"median of {args.repeats}")
    print(f"{'nodes':>8} {'onnx load+infer':>16} {'shapecheck':>11} {'ratio':>6} {'us/node':>8} {'peak MB':>8}")
    for nodes, onnx_time, ours, ratio, per_node, peak in rows:
        print(f"{nodes:>8} {onnx_time:>15.3f}s {ours:>10.3f}s {ratio:>6.2f} {per_node:>8.2f} {peak:>8}")
    worst = max(r[3] for r in rows)
    linear = rows[-1][4] / rows[1][4]
    checks = [
        (f"ratio <= {RATIO_TARGET} at every size (worst {worst:.2f})", worst <= RATIO_TARGET),
        (f"linear: us/node at 100k within 1.5x of 10k ({linear:.2f}x)", linear <= 1.5),
        (f"100k nodes peak memory < {MEMORY_TARGET_MB} MB ({rows[-1][5]} MB)", rows[-1][5] < MEMORY_TARGET_MB),
    ]
    for label, passed in checks:
        ok &= passed
        print(("PASS " if passed else "FAIL ") + label)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
