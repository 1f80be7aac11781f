"""Full acceptance sweep of the valid-size analysis: generated U-Nets and encoder/decoders vs brute force.

Every combination of a downsampling layer, an upsampling layer, a depth 1..6 and a kind (a U-Net that
concatenates its skips, or an encoder/decoder whose output is added to its input) is written as a YAML
model with input ``[1, 4, H, W]``. For each, ``analyse_sizes`` computes the valid set of ``H`` (``W`` held
at the valid size the analysis picked), and propagation at every ``H`` in ``1..--max-size`` must agree
with it exactly. The test suite runs a sample of the same models (``tests/test_sizes_generated.py``).

    python benchmarks/sweep_sizes.py [--max-size 2048] [--depths 1-6] [--jobs 2]

Prints one line per mismatch, a summary table per kind and depth, and PASS/FAIL; exit 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from shapecheck.graph import ModelGraph

CHANNELS = 4

#: Downsampling layers: YAML layer fields (name and input added by the generator).
DOWNS: dict[str, str] = {
    "maxpool2": "op: maxpool, kernel_size: 2, stride: 2",
    "maxpool2_ceil": "op: maxpool, kernel_size: 2, stride: 2, ceil_mode: true",
    "maxpool3_s2_p1": "op: maxpool, kernel_size: 3, stride: 2, padding: 1",
    "avgpool3_s2_ceil": "op: avgpool, kernel_size: 3, stride: 2, ceil_mode: true",
    "conv3_s2_p1": f"op: conv, out_channels: {CHANNELS}, kernel_size: 3, stride: 2, padding: 1",
    "conv2_s2": f"op: conv, out_channels: {CHANNELS}, kernel_size: 2, stride: 2",
    "conv4_s2_p1": f"op: conv, out_channels: {CHANNELS}, kernel_size: 4, stride: 2, padding: 1",
    "conv3_s3": f"op: conv, out_channels: {CHANNELS}, kernel_size: 3, stride: 3",
}

#: Upsampling layers; ``shuffle2`` is a 1x1 conv to 4x the channels followed by ``pixel_shuffle``.
UPS: dict[str, list[str]] = {
    "convT2_s2": [f"op: conv_transpose, out_channels: {CHANNELS}, kernel_size: 2, stride: 2"],
    "convT3_s2_p1_op1": [f"op: conv_transpose, out_channels: {CHANNELS}, kernel_size: 3, stride: 2, padding: 1, "
                         "output_padding: 1"],
    "convT3_s2_p1": [f"op: conv_transpose, out_channels: {CHANNELS}, kernel_size: 3, stride: 2, padding: 1"],
    "convT4_s2_p1": [f"op: conv_transpose, out_channels: {CHANNELS}, kernel_size: 4, stride: 2, padding: 1"],
    "upsample2": ["op: upsample, scale_factor: 2, mode: nearest"],
    "shuffle2": [f"op: conv, out_channels: {4 * CHANNELS}, kernel_size: 1", "op: pixel_shuffle, upscale_factor: 2"],
    "convT3_s3": [f"op: conv_transpose, out_channels: {CHANNELS}, kernel_size: 3, stride: 3"],
}

KINDS = ("unet", "encdec")


@dataclass(frozen=True)
class Case:
    """One generated model."""

    kind: str
    depth: int
    down: str
    up: str

    @property
    def label(self) -> str:
        return f"{self.kind}-d{self.depth}-{self.down}-{self.up}"


def unet_yaml(case: Case) -> str:
    """The YAML text of ``case``: conv blocks (3x3, same size) around each down and up step."""
    lines = ["shapecheck: 1", f"name: {case.label}", "inputs:", f"  x: [1, {CHANNELS}, H, W]", "layers:"]

    def layer(name: str, fields: str, source: str | None = None) -> None:
        wiring = f", input: {source}" if source else ""
        lines.append(f"  - {{name: {name}{wiring}, {fields}}}")

    same = f"op: conv, out_channels: {CHANNELS}, kernel_size: 3, padding: 1"
    layer("e0", same, "x")
    for level in range(1, case.depth + 1):
        layer(f"down{level}", DOWNS[case.down], f"e{level - 1}")
        layer(f"e{level}", same)
    previous = f"e{case.depth}"
    for level in range(case.depth, 0, -1):
        for step, fields in enumerate(UPS[case.up]):
            layer(f"up{level}_{step}", fields, previous if step == 0 else None)
        last_up = f"up{level}_{len(UPS[case.up]) - 1}"
        if case.kind == "unet":
            lines.append(f"  - {{name: cat{level - 1}, op: concat, inputs: [{last_up}, e{level - 1}]}}")
            layer(f"d{level - 1}", same)
        else:
            layer(f"d{level - 1}", same, last_up)
        previous = f"d{level - 1}"
    if case.kind == "encdec":
        lines.append("  - {name: residual, op: add, inputs: [d0, x]}")
    return "\n".join(lines) + "\n"


def load_yaml_text(text: str) -> ModelGraph:
    """Load YAML text as a model (the loader reads files, so it goes through a temporary one)."""
    from shapecheck.load.yaml import load_yaml

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as handle:
        handle.write(text)
        path = handle.name
    try:
        return load_yaml(path)
    finally:
        os.unlink(path)


def cases(depths: range = range(1, 7)) -> Iterator[Case]:
    for kind, depth, down, up in itertools.product(KINDS, depths, DOWNS, UPS):
        yield Case(kind, depth, down, up)


def brute_force(graph: ModelGraph, symbol: str, fixed: dict[str, int], sizes: range) -> set[int]:
    """The sizes of ``symbol`` at which propagation records no failing fact (the definition)."""
    from shapecheck.propagate import propagate
    from shapecheck.verify import failing_facts

    return {size for size in sizes if not failing_facts(propagate(graph, dims={**fixed, symbol: size}))}


@dataclass(frozen=True)
class Outcome:
    case: Case
    agrees: bool
    proven: bool
    method: str
    described: str
    mismatches: tuple[int, ...]
    analysis_ms: float
    brute_ms: float


def check_case(case: Case, max_size: int = 2048) -> Outcome:
    """Analyse ``case`` and compare with brute force: every ``H`` in ``1..max_size`` propagated with ``W``
    at one concrete size (the smallest valid ``W``, or 64 when none is valid), against
    :meth:`SizeAnalysis.accepts`."""
    from shapecheck.sizes import analyse_sizes

    graph = load_yaml_text(unet_yaml(case))
    start = time.perf_counter()
    analysis = analyse_sizes(graph)
    analysis_ms = (time.perf_counter() - start) * 1000
    sizes = analysis.symbols["H"]
    width = next(iter(analysis.symbols["W"].valid.smallest(1)), 64)
    start = time.perf_counter()
    truth = brute_force(graph, "H", {"W": width}, range(1, max_size + 1))
    brute_ms = (time.perf_counter() - start) * 1000
    wrong = tuple(h for h in range(1, max_size + 1) if analysis.accepts({"H": h, "W": width}) != (h in truth))
    return Outcome(case, not wrong, analysis.proven, sizes.valid.method, sizes.valid.describe(), wrong[:10],
                   analysis_ms, brute_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", type=int, default=2048)
    parser.add_argument("--depths", default="1-6", help="e.g. 1-6 or 3")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    low, _, high = args.depths.partition("-")
    depths = range(int(low), int(high or low) + 1)
    todo = list(cases(depths))
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(check_case, todo, itertools.repeat(args.max_size), chunksize=4))
    elapsed = time.perf_counter() - start
    bad = [o for o in outcomes if not o.agrees]
    for outcome in bad:
        print(f"MISMATCH {outcome.case.label}: {outcome.described}; wrong at H={list(outcome.mismatches)}")
    print(f"{'kind':<7} {'depth':>5} {'models':>6} {'agree':>6} {'proven':>6} {'searched':>8} "
          f"{'analysis ms (median)':>21} {'brute ms (median)':>18}")
    for kind, depth in itertools.product(KINDS, depths):
        rows = [o for o in outcomes if o.case.kind == kind and o.case.depth == depth]
        if not rows:
            continue
        analysis = sorted(o.analysis_ms for o in rows)[len(rows) // 2]
        brute = sorted(o.brute_ms for o in rows)[len(rows) // 2]
        print(f"{kind:<7} {depth:>5} {len(rows):>6} {sum(o.agrees for o in rows):>6} "
              f"{sum(o.proven for o in rows):>6} {sum(o.method == 'search' for o in rows):>8} "
              f"{analysis:>21.1f} {brute:>18.1f}")
    print(f"{len(outcomes)} models, H in 1..{args.max_size}, {elapsed:.0f} s with {args.jobs} jobs")
    print("PASS" if not bad else f"FAIL: {len(bad)} model(s) disagree with brute force")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
