"""Synthetic U-Net-style ONNX graphs of any size, for the engine benchmarks (built with onnx.helper).

A graph is a chain of U-Net "cells": conv → relu → maxpool → conv → relu → convtranspose → concat with
the cell's input → conv (back to the cell's channel count) → relu. Each cell is 9 nodes; spatial size is
preserved, so cells can be stacked to any node count.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NODES_PER_CELL = 9


def unet_chain(nodes: int, *, channels: int = 2, size: int = 32, symbolic: bool = False) -> onnx.ModelProto:
    """A model of about ``nodes`` nodes; with ``symbolic`` the spatial dims are ``H`` and ``W``."""
    cells = max(1, nodes // NODES_PER_CELL)
    c = channels
    weights = {
        "w_same": np.zeros((c, c, 3, 3), np.float32),
        "w_up": np.zeros((c, c, 2, 2), np.float32),
        "w_merge": np.zeros((c, 2 * c, 1, 1), np.float32),
    }
    initializers = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    graph_nodes = []
    x = "x"
    for i in range(cells):
        p = f"c{i}_"
        graph_nodes += [
            helper.make_node("Conv", [x, "w_same"], [p + "a"], name=p + "conv1", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [p + "a"], [p + "b"], name=p + "relu1"),
            helper.make_node("MaxPool", [p + "b"], [p + "c"], name=p + "pool", kernel_shape=[2, 2],
                             strides=[2, 2]),
            helper.make_node("Conv", [p + "c", "w_same"], [p + "d"], name=p + "conv2", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [p + "d"], [p + "e"], name=p + "relu2"),
            helper.make_node("ConvTranspose", [p + "e", "w_up"], [p + "f"], name=p + "up", strides=[2, 2]),
            helper.make_node("Concat", [p + "f", p + "b"], [p + "g"], name=p + "cat", axis=1),
            helper.make_node("Conv", [p + "g", "w_merge"], [p + "h"], name=p + "merge"),
            helper.make_node("Relu", [p + "h"], [p + "y"], name=p + "relu3"),
        ]
        x = p + "y"
    dims: list[int | str] = ["H", "W"] if symbolic else [size, size]
    graph = helper.make_graph(
        graph_nodes,
        f"unet_chain_{cells}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, *dims])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
