"""Model-zoo benchmark: ``shapecheck check DIR -j N`` over 500 models, throughput per worker count.

The zoo (generated in a temporary directory, never committed) mixes copies of the fixtures — ONNX
exports of real U-Nets, an audio encoder/decoder, a 3-D U-Net, YAML models — with synthetic U-Net
chains (``benchmarks/synthetic.py``) of 50 to 800 nodes, at sizes that work (32, 64) and sizes that
break (33, 65), some with symbolic H/W, and a few broken files; in sub-directories of 50, as a zoo is.

Each worker count runs the real command line end to end in a fresh process (start-up, directory walk,
every check, the JSON report), ``CI=1`` so that no progress bar is drawn; the reports must be byte-
identical whatever the worker count. The machine's core count bounds the speed-up.

    python benchmarks/bench_zoo.py [--files 500] [--jobs 1,2] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from synthetic import unet_chain  # noqa: E402

FIXTURES = sorted(glob.glob(os.path.join(REPO, "fixtures", "onnx", "*.onnx"))) + sorted(
    glob.glob(os.path.join(REPO, "fixtures", "yaml", "*.y*ml")))


def make_zoo(folder: str, count: int, seed: int = 0) -> dict[str, int]:
    """Write ``count`` models under ``folder``; what kinds were written."""
    rng = random.Random(seed)
    kinds: dict[str, int] = {}
    for index in range(count):
        sub = os.path.join(folder, f"group_{index // 50:02d}")
        os.makedirs(sub, exist_ok=True)
        if index % 100 == 99:
            kind, target = "broken", os.path.join(sub, f"broken_{index}.onnx")
            with open(target, "wb") as handle:
                handle.write(b"\x08\x07 not a model")
        elif index % 4 == 0:
            source = FIXTURES[(index // 4) % len(FIXTURES)]
            kind, target = "fixture", os.path.join(sub, f"{index:03d}_{os.path.basename(source)}")
            shutil.copyfile(source, target)
        else:
            nodes, size = rng.choice((50, 100, 200, 400, 800)), rng.choice((32, 33, 64, 65))
            symbolic = rng.random() < 0.3
            kind, target = "synthetic", os.path.join(sub, f"{index:03d}_unet_{nodes}.onnx")
            onnx.save(unet_chain(nodes, size=size, symbolic=symbolic), target)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def run_check(folder: str, jobs: int, output: str) -> tuple[float, str, int]:
    """Seconds, the stderr summary row (files ... workers) and the exit code of one end-to-end run."""
    env = {**os.environ, "CI": "1"}
    command = [sys.executable, "-m", "shapecheck", "check", folder, "-j", str(jobs), "--format", "json",
               "-o", output, "--no-config"]
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    elapsed = time.perf_counter() - start
    if process.returncode not in (0, 1, 2) or "Traceback" in process.stderr:
        raise SystemExit(f"check failed ({process.returncode}):\n{process.stderr}")
    return elapsed, process.stderr.strip().splitlines()[-1], process.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--jobs", default="1,2", help="worker counts to compare (default 1,2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per worker count")
    parser.add_argument("--keep", metavar="DIR", help="write the zoo here and keep it")
    args = parser.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix="shapecheck-zoo-")
    try:
        started = time.perf_counter()
        kinds = make_zoo(folder, args.files)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(folder) for f in names)
        print(f"zoo: {args.files} files ({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), "
              f"{size / 1e6:.1f} MB, generated in {time.perf_counter() - started:.1f} s")
        print(f"python {sys.version.split()[0]}, onnx {onnx.__version__}, {os.cpu_count()} cores, "
              f"{args.repeats} end-to-end runs each (best and median: the machine may be shared)")
        print(f"{'jobs':>4} {'best s':>7} {'median s':>8} {'files/s':>8} {'speed-up':>8}")
        baseline = None
        digests: set[str] = set()
        rows: list[str] = []
        for jobs in (int(j) for j in args.jobs.split(",")):
            times, row = [], ""
            for repeat in range(args.repeats):
                output = os.path.join(tempfile.gettempdir(), f"zoo_report_{jobs}_{repeat}.json")
                seconds, row, _ = run_check(folder, jobs, output)
                times.append(seconds)
                with open(output, "rb") as handle:
                    digests.add(hashlib.sha256(handle.read()).hexdigest())
                os.remove(output)
            best, median = min(times), statistics.median(times)
            baseline = baseline or best
            print(f"{jobs:>4} {best:>7.2f} {median:>8.2f} {args.files / best:>8.1f} {baseline / best:>7.2f}x")
            rows.append(row)
        print(f"summary table (stderr) of the last run: {rows[-1].strip()}")
        print(f"reports byte-identical across worker counts and runs: {'yes' if len(digests) == 1 else 'NO'}")
        return 0 if len(digests) == 1 else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
