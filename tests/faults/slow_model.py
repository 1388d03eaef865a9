"""A real ONNX graph that is slow on purpose, for the stop/cancel tests.

image (or `input`) mean x a 1024x1024 matrix, then `matmuls` MatMuls by it (input-dependent, so
nothing is folded at load; ~25 ms each on one quiet core), then the tiny model's colour scores
(+ 0 x the chain's mean, so the chain must run). `stateful=True` adds a recurrent state input and
output (`state` → `stateN`, as silero-vad has) for the streaming-session path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_slow_model(path: Path, matmuls: int = 24, *, stateful: bool = False) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    k = 1024
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], keepdims=0),
        helper.make_node("Mul", ["A", "m"], ["x0"]),
    ]
    nodes += [helper.make_node("MatMul", [f"x{i}", "A"], [f"x{i + 1}"]) for i in range(matmuls)]
    nodes += [
        helper.make_node("ReduceMean", [f"x{matmuls}"], ["r"], keepdims=0),
        helper.make_node("Mul", ["r", "zero"], ["r0"]),
        helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Add", ["flat", "r0"], ["scores"]),
    ]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])]
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])]
    if stateful:
        nodes.append(helper.make_node("Add", ["state", "r0"], ["stateN"]))
        inputs.append(helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, 4]))
        outputs.append(helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [1, 4]))
    graph = helper.make_graph(
        nodes,
        "slow_colour",
        inputs,
        outputs,
        initializer=[
            numpy_helper.from_array(np.eye(k, dtype=np.float32), "A"),
            numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
