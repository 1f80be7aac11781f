"""Valid-size analysis benchmark: ``analyse_sizes`` vs brute-force propagation of every size, same run.

Four 5-level U-Nets (``benchmarks/sweep_sizes.py`` generates them) with symbolic ``H`` and ``W``: the
classic MaxPool(2) / ConvTranspose(k2 s2) pair, the same with ceil-mode pools (sizes the engine cannot
write as expressions, so the period comes from the strides), Conv(k3 s2 p1) / ConvTranspose(k3 s2 p1
op1), and MaxPool(2) / nearest upsampling. Brute force propagates every ``H`` in ``1..4096`` with ``W``
held, and every ``W`` with ``H`` held; both must give the same sets. Targets: the analysis under 100 ms
after loading, and at least 20x faster than brute force.

    python benchmarks/bench_sizes.py [--repeats 7] [--max-size 4096]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sweep_sizes import Case, brute_force, load_yaml_text, unet_yaml

from shapecheck.sizes import analyse_sizes

MODELS = (
    Case("unet", 5, "maxpool2", "convT2_s2"),
    Case("unet", 5, "maxpool2_ceil", "convT2_s2"),
    Case("unet", 5, "conv3_s2_p1", "convT3_s2_p1_op1"),
    Case("unet", 5, "maxpool2", "upsample2"),
)
TIME_TARGET_MS = 100.0
RATIO_TARGET = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--max-size", type=int, default=4096)
    args = parser.parse_args()
    sizes = range(1, args.max_size + 1)
    rows = []
    ok = True
    for case in MODELS:
        graph = load_yaml_text(unet_yaml(case))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            analysis = analyse_sizes(graph)
            times.append(time.perf_counter() - start)
        ours = statistics.median(times)
        start = time.perf_counter()
        truth = {}
        for symbol, other in (("H", "W"), ("W", "H")):
            held = analysis.symbols[symbol].fixed.get(other) or next(iter(analysis.symbols[other].valid.smallest(1)))
            truth[symbol] = brute_force(graph, symbol, {other: held}, sizes)
        brute = time.perf_counter() - start
        same = all(set(analysis.symbols[s].valid.sizes(1, args.max_size)) == truth[s] for s in truth)
        proven = analysis.proven
        described = "; ".join(f"{s.valid.describe()}" for s in analysis.symbols.values())
        rows.append((case.label, len(graph.nodes), ours * 1000, analysis.propagations, brute, brute / ours, same,
                     proven, described))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, analysis median of {args.repeats}, "
          f"brute force over 1..{args.max_size} per symbol (the other held), same run")
    print(f"{'model':<36} {'nodes':>5} {'analysis':>10} {'props':>6} {'brute force':>12} {'speed-up':>9} "
          f"{'same':>5} {'proven':>7}  valid sets")
    for label, nodes, ms, props, brute, ratio, same, proven, described in rows:
        print(f"{label:<36} {nodes:>5} {ms:>8.1f}ms {props:>6} {brute:>11.2f}s {ratio:>8.0f}x {same!s:>5} "
              f"{proven!s:>7}  {described}")
    slowest = max(r[2] for r in rows)
    weakest = min(r[5] for r in rows)
    checks = [
        (f"valid sets of every 5-level U-Net in < {TIME_TARGET_MS:.0f} ms after loading (slowest "
         f"{slowest:.1f} ms)", slowest < TIME_TARGET_MS),
        (f">= {RATIO_TARGET:.0f}x faster than brute force over 1..{args.max_size} (weakest {weakest:.0f}x)",
         weakest >= RATIO_TARGET),
        ("the same sets as brute force, proven", all(r[6] and r[7] for r in rows)),
    ]
    for label, passed in checks:
        ok &= passed
        print(("PASS " if passed else "FAIL ") + label)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
