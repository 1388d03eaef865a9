"""Convolutions whose int8 kernel needs a large scratch buffer, for profiles short of memory.

ONNX Runtime's quantized Conv (QLinearConv, and ConvInteger for dynamic int8) lowers a convolution
to a GEMM over an im2col copy of its input: one byte for each of Cin/group · kernel elements at each
output position, allocated for the whole image while the node runs, beside an int32 accumulator
for the whole output. Its float kernels do not: MLAS works through an fp32 convolution in small
per-thread blocks. On arm64 (ORT 1.31) every 3x3 convolution with fewer than 64 input channels takes
that path (x86 takes an indirect kernel without the copy), so an early full-resolution one can cost
several MB more in int8 than in fp32 (OriNet's second conv, 32->32 at 160x160: 7.4 MB of im2col;
docs/deploy.md). A profile's `quantization.max_conv_workspace_mb` keeps those nodes in float; they
run in float on the device because its sessions turn off ORT's WeightBiasQuantization, which would
quantize them back at load (edge_agent/bundle/graph.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class ConvWorkspace:
    node: str
    bytes: int


def conv_workspaces(fp32: Path) -> list[ConvWorkspace]:
    """The int8 im2col buffer of each named Conv whose shapes are known (batch 1 where symbolic),
    largest first; pointwise (1x1, stride 1, unpadded) and depthwise convolutions need none."""
    import onnx
    from onnx.helper import get_attribute_value

    model = onnx.shape_inference.infer_shapes(onnx.load(str(fp32)))
    graph = model.graph
    weights = {t.name: list(t.dims) for t in graph.initializer}
    shapes: dict[str, list[int | None]] = {}
    for v in list(graph.value_info) + list(graph.output) + list(graph.input):
        dims = v.type.tensor_type.shape.dim
        shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    found: list[ConvWorkspace] = []
    for node in graph.node:
        if node.op_type != "Conv" or not node.name or len(node.input) < 2:
            continue
        w = weights.get(node.input[1])
        out = shapes.get(node.output[0])
        if w is None or out is None or len(w) < 3 or len(out) != len(w):
            continue
        spatial = out[2:]
        if any(d is None or d <= 0 for d in spatial):
            continue  # dynamic image size: the buffer is unknown at export time
        kernel = w[2:]
        attrs = {a.name: get_attribute_value(a) for a in node.attribute}
        group = attrs.get("group", 1)
        strides = list(attrs.get("strides") or [1] * len(kernel))
        pads = list(attrs.get("pads") or [0] * (2 * len(kernel)))
        if w[1] == 1 and group > 1:
            continue  # depthwise: a direct kernel, no im2col
        if all(k == 1 for k in kernel) and all(s == 1 for s in strides) and not any(pads):
            continue  # pointwise: the GEMM reads the input in place
        found.append(ConvWorkspace(node.name, math.prod(w[1:]) * math.prod(d or 0 for d in spatial)))
    return sorted(found, key=lambda c: -c.bytes)


def heavy_convs(fp32: Path, max_mb: float) -> list[ConvWorkspace]:
    """The convolutions whose int8 workspace exceeds `max_mb`."""
    return [c for c in conv_workspaces(fp32) if c.bytes > max_mb * MB]
