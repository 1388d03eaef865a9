"""What a compressed variant costs: parameters, MACs, ONNX file size, latency and an energy estimate.

Parameters and MACs are structural, counted on the fp32 ONNX file (BatchNorm folded), so teacher
and student are counted alike and tests can compare them without timing anything. Latency is
exporters.measure's (own process, one thread); energy per result is an *estimate*, CPU-seconds
(p50 latency x threads) x the hardware profile's `watts_per_busy_core`, the same estimate the
agent's accounting reports on the device.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.hardware.profile import load_profile
from exporters.measure import measure


def onnx_params(path: Path) -> int:
    """Parameter count of an fp32 ONNX file (its float initializers)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return int(
        sum(
            numpy_helper.to_array(t).size
            for t in model.graph.initializer
            if t.data_type == onnx.TensorProto.FLOAT
        )
    )


def onnx_macs(path: Path, size: tuple[int, int]) -> int:
    """Multiply-accumulates of Conv, Gemm and MatMul nodes of an fp32 ONNX model at batch 1 and
    `size` (width, height)."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path))
    init = {t.name: list(t.dims) for t in model.graph.initializer}
    first = next(i for i in model.graph.input if i.name not in init)
    for d, v in zip(first.type.tensor_type.shape.dim, (1, 3, size[1], size[0]), strict=False):
        d.Clear()
        d.dim_value = v
    graph = shape_inference.infer_shapes(model).graph
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in [*graph.value_info, *graph.output, *graph.input]
    }
    shapes |= init
    total = 0
    for node in graph.node:
        out = int(np.prod(shapes.get(node.output[0], [0])))
        w = shapes.get(node.input[1], []) if len(node.input) > 1 else []
        if node.op_type == "Conv" and len(w) == 4:
            total += out * w[1] * w[2] * w[3]
        elif node.op_type == "Gemm" and len(w) == 2:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            total += out * (w[1] if trans_b else w[0])
        elif node.op_type == "MatMul" and shapes.get(node.input[0]):
            total += out * shapes[node.input[0]][-1]
    return total


def to_onnx(model: Any, size: tuple[int, int], dst: Path, opset: int = 17) -> Path:
    """Export an image classifier with a dynamic batch, as the exporter's torch source does."""
    import torch

    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter warns that it is legacy, on purpose
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, size[1], size[0]),),
            str(dst),
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    return dst


def cost(
    path: Path, sample: np.ndarray, *, target: str = "generic-x86", runs: int = 30, threads: int = 1
) -> dict[str, Any]:
    """Latency p50/p95, file size and the energy estimate per result of the ONNX model at `path`."""
    from exporters.compress.images import first_input

    bench = measure(path, {first_input(path)[0]: sample[:1]}, runs=runs, threads=threads)
    watts = load_profile(target).watts_per_busy_core or 2.0
    cpu_s = bench["p50_ms"] / 1000 * threads
    return {
        "p50_ms": bench["p50_ms"],
        "p95_ms": bench["p95_ms"],
        "size_bytes": bench["size_bytes"],
        "energy_mj_per_result_estimate": round(cpu_s * watts * 1000, 4),
        "watts_per_busy_core": watts,
    }
