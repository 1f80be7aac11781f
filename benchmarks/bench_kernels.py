"""Time shapecheck's NumPy kernels against onnxruntime and onnx.reference.ReferenceEvaluator.

Run from the repository root::

    python benchmarks/bench_kernels.py [--blocks 5] [--per-block 8] [--reference-repeats 1] [--no-tune]

The shapes are those of a U-Net decoder: transposed convs 64 -> 32 channels at 64x64, 3x3 convs at
128x128, a depthwise and a dilated conv, and a 1-D audio upsampler. Every contender is timed in the same
run. Timing goes in blocks: each contender in turn gets a short pause (so the other library's worker
threads stop spinning on the two cores), two untimed calls, then a few timed calls; the blocks rotate
several times so that background load hits all contenders alike. The table shows medians and ratios.
onnxruntime gets as many intra-op threads as NumPy's BLAS uses; both numbers are printed.

One process-level setting is applied unless ``--no-tune`` is given: onnxruntime allocates from its own
arena, while NumPy allocates from glibc malloc, which hands freed multi-megabyte blocks back to the
kernel, so each call page-faults its arrays in again (about 2 us per 4 KiB page in this VM). ``mallopt``
keeps freed blocks in the heap (``M_MMAP_THRESHOLD`` 32 MiB, ``M_TRIM_THRESHOLD`` 1 GiB), an arena in
effect. The OpenBLAS core type (``OPENBLAS_CORETYPE``) is left as the environment sets it, and printed.
This project's machine pins it (and ``OPENBLAS_L2_SIZE``) to Haswell for older OpenBLAS builds that crash
on its CPU; its notes say to benchmark a current NumPy with both unset for that one command::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kernels.py

Targets (medians, same run): default Conv and ConvTranspose within 2x of onnxruntime (depthwise and
dilated within 4x); the zero-insertion ConvTranspose within 10x; every ConvTranspose at least 100x faster
than the ReferenceEvaluator. The script prints PASS/FAIL for each and exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from ort_oracle import make_session, make_single_node_model  # noqa: E402

from shapecheck import kernel  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    op: str
    x: tuple[int, ...]
    w: tuple[int, ...]
    attrs: dict[str, Any]
    target: float  # allowed ratio of the default kernel to onnxruntime


CASES = [
    Case("convT k3 s2 p1 op1 64->32 @64x64", "ConvTranspose", (1, 64, 64, 64), (64, 32, 3, 3),
         {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, 2.0),
    Case("convT k2 s2 64->32 @64x64", "ConvTranspose", (1, 64, 64, 64), (64, 32, 2, 2),
         {"strides": [2, 2]}, 2.0),
    Case("convT k4 s2 p1 64->32 @64x64", "ConvTranspose", (1, 64, 64, 64), (64, 32, 4, 4),
         {"strides": [2, 2], "pads": [1, 1, 1, 1]}, 2.0),
    Case("conv 3x3 64->64 @128x128", "Conv", (1, 64, 128, 128), (64, 64, 3, 3),
         {"pads": [1, 1, 1, 1]}, 2.0),
    Case("depthwise 3x3 C64 @128x128", "Conv", (1, 64, 128, 128), (64, 1, 3, 3),
         {"pads": [1, 1, 1, 1], "group": 64}, 4.0),
    Case("dilated 3x3 d2 64->64 @128x128", "Conv", (1, 64, 128, 128), (64, 64, 3, 3),
         {"pads": [2, 2, 2, 2], "dilations": [2, 2]}, 4.0),
    Case("convT 1-D k8 s4 p2 32->32 L16000", "ConvTranspose", (1, 32, 16000), (32, 32, 8),
         {"strides": [4], "pads": [2, 2]}, 2.0),
]  # fmt: skip

WARM_CALLS = 2  # untimed calls after the pause: the first calls after an idle spell run slow in this VM
SETTLE_SECONDS = 0.15  # lets the previous contender's worker threads stop spinning (OpenBLAS: ~0.1 s)


def tune_malloc() -> str:
    """Keep freed memory in the heap, as an arena allocator does (glibc only)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "malloc: not glibc, left alone"
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30)
    return "malloc: glibc mallopt M_MMAP_THRESHOLD=32MiB, M_TRIM_THRESHOLD=1GiB" if ok else "malloc: mallopt failed"


def openblas() -> ctypes.CDLL | None:
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    paths = glob.glob(os.path.join(libs, "*openblas*"))
    return ctypes.CDLL(paths[0]) if paths else None


def _openblas_call(names: tuple[str, ...], restype: Any) -> Any:
    lib = openblas()
    for name in names:
        if lib is not None and hasattr(lib, name):
            function = getattr(lib, name)
            function.restype = restype
            return function()
    return None


def blas_description() -> tuple[int, str]:
    """How many threads NumPy's BLAS uses, and a line saying which BLAS and how we know."""
    threads = _openblas_call(
        ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads"),
        ctypes.c_int,
    )
    core = _openblas_call(
        ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"),
        ctypes.c_char_p,
    )
    if threads is None:
        count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return count, f"BLAS not identified; assuming {count} thread(s), one per core"
    coretype = os.environ.get("OPENBLAS_CORETYPE", "autodetected")
    return (
        threads,
        f"OpenBLAS core {core.decode() if core else '?'} (OPENBLAS_CORETYPE={coretype}), {threads} thread(s)",
    )


def time_blocks(contenders: dict[str, Callable[[], object]], blocks: int, per_block: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(blocks):
        for name, fn in contenders.items():
            time.sleep(SETTLE_SECONDS)
            for _ in range(WARM_CALLS):
                fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                timings[name].append(time.perf_counter() - start)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5, help="rotations over the contenders (default 5)")
    parser.add_argument("--per-block", type=int, default=8, help="timed calls per block (default 8)")
    parser.add_argument("--reference-repeats", type=int, default=1, help="ReferenceEvaluator calls (slow)")
    parser.add_argument("--no-tune", action="store_true", help="leave glibc malloc alone")
    args = parser.parse_args()

    import onnxruntime
    from onnx.reference import ReferenceEvaluator

    print(tune_malloc() if not args.no_tune else "malloc: untouched (--no-tune)")
    threads, blas = blas_description()
    print(f"numpy {np.__version__}: {blas}")
    print(f"onnxruntime {onnxruntime.__version__}: CPUExecutionProvider, intra_op_num_threads={threads} (as numpy)")
    print(
        f"median of {args.blocks} blocks x {args.per_block} calls per contender; "
        f"ReferenceEvaluator: {args.reference_repeats} call(s)\n"
    )

    rng = np.random.default_rng(0)
    failures: list[str] = []
    rows = []
    started = time.perf_counter()
    for case in CASES:
        x = rng.standard_normal(case.x, dtype=np.float32)
        w = rng.standard_normal(case.w, dtype=np.float32)
        model = make_single_node_model(case.op, {"x": x}, case.attrs, {"w": w})
        session = make_session(model, threads=threads)
        feed = {"x": x}
        ours = kernel.conv if case.op == "Conv" else kernel.conv_transpose
        contenders: dict[str, Callable[[], object]] = {
            "kernel": lambda ours=ours, x=x, w=w, case=case: ours(x, w, **case.attrs),
            "onnxruntime": lambda session=session, feed=feed: session.run(None, feed),
        }
        if case.op == "ConvTranspose":
            contenders["zero_insertion"] = lambda x=x, w=w, case=case: kernel.conv_transpose(
                x, w, method="zero_insertion", **case.attrs
            )
        (expected,) = session.run(None, feed)
        for name, fn in contenders.items():
            result = fn()
            got = result[0] if isinstance(result, list) else result
            if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-4, atol=1e-3):
                failures.append(f"{case.name}: {name} differs from onnxruntime")
        timings = time_blocks(contenders, args.blocks, args.per_block)
        evaluator = ReferenceEvaluator(model)
        timings["reference"] = []
        for _ in range(args.reference_repeats):
            start = time.perf_counter()
            evaluator.run(None, feed)
            timings["reference"].append(time.perf_counter() - start)
        rows.append((case, {name: statistics.median(t) * 1e3 for name, t in timings.items()}))
        print(f"  timed {case.name}", file=sys.stderr, flush=True)

    header = (
        f"{'case':34} {'kernel ms':>9} {'ORT ms':>7} {'ker/ORT':>7} {'target':>6} "
        f"{'zero-ins ms':>11} {'zi/ORT':>6} {'RefEval ms':>10} {'Ref/ker':>7}"
    )
    print(header)
    print("-" * len(header))
    checks = []
    for case, med in rows:
        ratio = med["kernel"] / med["onnxruntime"]
        zi = med.get("zero_insertion")
        zi_cells = f"{zi:11.2f} {zi / med['onnxruntime']:6.2f}" if zi is not None else f"{'-':>11} {'-':>6}"
        speedup = med["reference"] / med["kernel"]
        print(
            f"{case.name:34} {med['kernel']:9.2f} {med['onnxruntime']:7.2f} {ratio:7.2f} {case.target:5.0f}x "
            f"{zi_cells} {med['reference']:10.1f} {speedup:7.0f}"
        )
        checks.append((f"{case.name}: kernel within {case.target:.0f}x of onnxruntime ({ratio:.2f}x)",
                       ratio <= case.target))  # fmt: skip
        if zi is not None:
            zratio = zi / med["onnxruntime"]
            checks.append((f"{case.name}: zero_insertion within 10x of onnxruntime ({zratio:.2f}x)",
                           zratio <= 10))  # fmt: skip
            checks.append((f"{case.name}: kernel >= 100x faster than ReferenceEvaluator ({speedup:.0f}x)",
                           speedup >= 100))  # fmt: skip
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    for text in failures:
        print(f"FAIL  {text}")
    met = sum(ok for _, ok in checks)
    failed = bool(failures) or met < len(checks)
    print(f"\n{'FAIL' if failed else 'PASS'}: {met}/{len(checks)} targets met, {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
