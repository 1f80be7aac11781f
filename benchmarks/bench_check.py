"""``shapecheck check`` as a whole process vs ONNX's own load + shape inference, on the same file.

Issue target: ``shapecheck check light_resnet50.onnx`` within 1.5× of
``python -c "import onnx, sys; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]))"``, medians of
whole-process wall times measured side by side (interleaved) in one run.

    python benchmarks/bench_check.py [--repeats 15] [MODEL ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import onnx

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
TARGET = 1.5
BASELINE = "import onnx, sys; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]))"


#: Both commands run as a user's shell runs them: with Python's bytecode cache (some sandboxes set
#: PYTHONDONTWRITEBYTECODE, which would recompile shapecheck's sources on every call).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("models", nargs="*", default=[os.path.join(LIGHT, "light_resnet50.onnx")])
    args = parser.parse_args()
    ok = True
    print(f"python {sys.version.split()[0]}, onnx {onnx.__version__}, {os.cpu_count()} cores, "
          f"median of {args.repeats} interleaved runs")
    print(f"{'model':<28} {'onnx load+infer':>16} {'shapecheck check':>17} {'ratio':>6}")
    for model in args.models:
        ours_argv = [sys.executable, "-m", "shapecheck", "check", model]
        base_argv = [sys.executable, "-c", BASELINE, model]
        _wall(ours_argv), _wall(base_argv)  # warm the file cache and .pyc files
        ours, base = [], []
        for _ in range(args.repeats):
            ours.append(_wall(ours_argv))
            base.append(_wall(base_argv))
        ratio = statistics.median(ours) / statistics.median(base)
        ok &= ratio <= TARGET
        print(f"{os.path.basename(model):<28} {statistics.median(base):>15.3f}s {statistics.median(ours):>16.3f}s "
              f"{ratio:>6.2f}")
    print(("PASS" if ok else "FAIL") + f" shapecheck check within {TARGET}x of ONNX load + shape inference")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
