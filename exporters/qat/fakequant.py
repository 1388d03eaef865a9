"""Fake quantization that computes what ONNX Runtime's static QDQ int8 model will compute.

The model is traced with torch.fx, its BatchNorms folded into the convolutions (as ORT's
`quant_pre_process` folds them in the exported graph), then:

- every Conv/Linear weight is rounded as `quantize_static` rounds it: symmetric int8, per output
  channel (or per tensor), scale = max|w| / 127, codes in [-127, 127], recomputed from the current
  weights at every step (ORT computes them from the final weights);
- every activation tensor that ORT's QDQ quantizer puts a QuantizeLinear on is rounded to uint8 with
  ORT's MinMax calibrator's range: the min and max over the calibration samples, widened to hold
  0, scale = (max - min) / 255, zero point round(-min / scale). Those tensors are the graph input
  and every input and output of a Conv, Linear (Gemm) or add, an activation (ReLU/ReLU6) taking
  its conv's place, since ORT fuses it and quantizes its output instead; with `float_output` the
  layer that writes the graph's output stays wholly float, as ORT's `nodes_to_exclude` leaves it
  (its weights, its input and its output). The ranges are
  re-measured on the float model (`observe`), as ORT calibrates the fine-tuned fp32 model;
- gradients pass straight through the rounding (zero outside the range), as in torch's fake_quantize.
"""

from __future__ import annotations

import operator
from functools import partial
from typing import Any, cast

import torch
from torch import Tensor, fx, nn
from torch.fx.experimental.optimization import fuse
from torch.nn.utils import parametrize

from exporters.errors import ExportError

_ACTS = (nn.ReLU, nn.ReLU6, nn.Hardtanh)
_LAYERS = (nn.Conv2d, nn.Linear)
_ADDS = (operator.add, operator.iadd, torch.add)


class ActQuant(nn.Module):
    """uint8 asymmetric fake quantization of one tensor at its calibrated min/max."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "off"  # off | observe | quant
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))

    def reset(self) -> None:
        cast(Tensor, self.lo).fill_(0.0)  # ORT widens every range to hold 0
        cast(Tensor, self.hi).fill_(0.0)

    def qparams(self) -> tuple[Tensor, Tensor]:
        lo, hi = cast(Tensor, self.lo), cast(Tensor, self.hi)
        scale = (hi - lo).double() / 255.0
        if float(scale) < torch.finfo(torch.float32).tiny:
            return torch.ones(1), torch.zeros(1, dtype=torch.int32)
        zp = torch.round(-lo.double() / scale).to(torch.int32)
        return scale.float().reshape(1), zp.reshape(1)

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "observe":
            with torch.no_grad():
                lo, hi = cast(Tensor, self.lo), cast(Tensor, self.hi)
                lo.copy_(torch.minimum(lo, x.min()))
                hi.copy_(torch.maximum(hi, x.max()))
            return x
        if self.mode == "quant":
            scale, zp = self.qparams()
            return torch.fake_quantize_per_tensor_affine(x, scale, zp, 0, 255)
        return x


class WeightQuant(nn.Module):
    """Symmetric int8 fake quantization of a weight, per output channel or per tensor (a parametrization)."""

    def __init__(self, per_channel: bool) -> None:
        super().__init__()
        self.per_channel = per_channel
        self.enabled = False

    def forward(self, w: Tensor) -> Tensor:
        if not self.enabled:
            return w
        if self.per_channel:
            absmax = w.detach().abs().reshape(w.shape[0], -1).amax(1)
            scale = torch.where(absmax > 0, absmax / 127.0, torch.ones_like(absmax))
            zp = torch.zeros(w.shape[0], dtype=torch.int32)
            return torch.fake_quantize_per_channel_affine(w, scale, zp, 0, -127, 127)
        absmax = w.detach().abs().max()
        scale = (absmax / 127.0 if float(absmax) > 0 else torch.tensor(1.0)).reshape(1)
        return torch.fake_quantize_per_tensor_affine(w, scale, torch.zeros(1, dtype=torch.int32), -127, 127)


def _is(gm: fx.GraphModule, node: fx.Node, kinds: tuple[type, ...]) -> bool:
    return node.op == "call_module" and isinstance(gm.get_submodule(str(node.target)), kinds)


def _is_add(node: fx.Node) -> bool:
    return node.op in ("call_function", "call_method") and (
        node.target in _ADDS or node.target in ("add", "add_")
    )


def instrument(model: nn.Module, *, per_channel: bool, float_output: bool) -> fx.GraphModule:
    """A traced, BatchNorm-folded copy of `model` with fake quantization where ORT's QDQ puts it.

    `float_output`: the tensor the graph returns stays float (the ladder's "float outputs" spec,
    which leaves the classifier's Gemm output unquantized).
    """
    try:
        gm = cast(fx.GraphModule, fuse(model.eval(), inplace=False))  # fx trace + Conv/BatchNorm folding
    except Exception as exc:  # fx raises many types for code it cannot trace
        raise ExportError(f"QAT needs a model torch.fx can trace: {type(exc).__name__}: {exc}") from exc
    graph = gm.graph
    outputs = {a for n in graph.nodes if n.op == "output" for a in n.all_input_nodes}
    # ORT's nodes_to_exclude leaves the whole node in float: weights, inputs and output
    floating = outputs if float_output else set()
    points: list[fx.Node] = []

    def mark(node: fx.Node) -> None:
        # a conv whose only user is its activation is fused by ORT: the activation's output is quantized
        users = list(node.users)
        if _is(gm, node, _LAYERS) and len(users) == 1 and _is(gm, users[0], _ACTS):
            node = users[0]
        if node not in points and node not in floating:
            points.append(node)

    for node in list(graph.nodes):
        if node.op == "placeholder":
            mark(node)
        elif node in floating:
            continue
        elif _is(gm, node, _LAYERS) or _is_add(node):
            for arg in node.all_input_nodes:
                if arg.op != "get_attr":
                    mark(arg)
            mark(node)
    for i, node in enumerate(points):
        name = f"actq_{i}"
        gm.add_submodule(name, ActQuant())
        with graph.inserting_after(node):
            q = graph.call_module(name, (node,))
        node.replace_all_uses_with(q, delete_user_cb=partial(operator.is_not, q))
    graph.lint()
    gm.recompile()
    kept = {str(n.target) for n in floating if n.op == "call_module"}
    for name, mod in gm.named_modules():
        if isinstance(mod, _LAYERS) and name not in kept:
            parametrize.register_parametrization(mod, "weight", WeightQuant(per_channel))
    return gm


def set_mode(gm: nn.Module, mode: str) -> None:
    """`off` (plain float), `observe` (float, recording activation ranges), `quant` (fake int8)."""
    for mod in gm.modules():
        if isinstance(mod, ActQuant):
            if mode == "observe":
                mod.reset()
            mod.mode = mode
        elif isinstance(mod, WeightQuant):
            mod.enabled = mode == "quant"


def calibrate(gm: nn.Module, batches: list[Tensor]) -> None:
    """Activation ranges as ORT's MinMax calibrator finds them on the float model, over `batches`."""
    set_mode(gm, "observe")
    with torch.no_grad():
        for x in batches:
            gm(x)
    set_mode(gm, "quant")


def quant_points(gm: nn.Module) -> int:
    """How many activation tensors are fake-quantized (compare with the QDQ graph's QuantizeLinear count)."""
    return sum(isinstance(m, ActQuant) for m in gm.modules())


def float_copy(gm: fx.GraphModule) -> nn.Module:
    """The fine-tuned float model for export: weights unrounded, no fake quantization left."""
    import copy

    out: fx.GraphModule = copy.deepcopy(gm)
    set_mode(out, "off")
    for mod in out.modules():
        if isinstance(mod, _LAYERS) and parametrize.is_parametrized(mod, "weight"):
            parametrize.remove_parametrizations(mod, "weight", leave_parametrized=False)
    graph = out.graph
    for node in list(graph.nodes):
        if node.op == "call_module" and isinstance(out.get_submodule(str(node.target)), ActQuant):
            node.replace_all_uses_with(cast(fx.Node, node.args[0]))
            graph.erase_node(node)
    graph.lint()
    out.recompile()
    return out


def describe(gm: fx.GraphModule) -> dict[str, Any]:
    """What was instrumented, for the report."""
    layers = sum(isinstance(m, _LAYERS) and parametrize.is_parametrized(m, "weight") for m in gm.modules())
    return {"fake_quant_activations": quant_points(gm), "fake_quant_weights": layers}
