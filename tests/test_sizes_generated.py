"""Acceptance: on generated U-Nets and encoder/decoders the computed valid sets equal brute force.

The generator and the full sweep (every down/up combination, depth 1..6, both kinds) are in
``benchmarks/sweep_sizes.py``; here a fixed sample that covers every downsampling and every upsampling
layer, every depth and both kinds is compared with propagation at every ``H`` in ``1..2048``.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from sweep_sizes import DOWNS, KINDS, UPS, Case, check_case, load_yaml_text, unet_yaml

MAX_SIZE = 2048


def _sample() -> list[Case]:
    downs, ups = list(DOWNS), list(UPS)
    picked = []
    for shift, kind in enumerate(KINDS):
        for i, down in enumerate(downs):
            picked.append(Case(kind, 1 + (i + 3 * shift) % 6, down, ups[(i + 3 * shift) % len(ups)]))
    return picked


SAMPLE = _sample()


def test_the_sample_covers_every_layer_depth_and_kind() -> None:
    assert {c.down for c in SAMPLE} == set(DOWNS) and {c.up for c in SAMPLE} == set(UPS)
    assert {c.depth for c in SAMPLE} == set(range(1, 7)) and {c.kind for c in SAMPLE} == set(KINDS)


@pytest.mark.parametrize("case", SAMPLE, ids=lambda c: c.label)
def test_valid_set_equals_brute_force(case: Case) -> None:
    outcome = check_case(case, MAX_SIZE)
    assert outcome.agrees, f"{outcome.described}: wrong at H={list(outcome.mismatches)}"


def test_generated_yaml_loads_with_the_layers_named_per_level() -> None:
    graph = load_yaml_text(unet_yaml(Case("unet", 2, "maxpool2_ceil", "shuffle2")))
    names = [node.name for node in graph.topological_order()]
    assert names[:4] == ["e0", "down1", "e1", "down2"] and "cat0" in names and "up1_1" in names
    assert graph.nodes["up1_1"].op == "PixelShuffle" and graph.nodes["down1"].attrs["ceil_mode"]
