"""The QAT rung (exporters/qat): climbed only after every post-training rung missed, on torch sources
only; its fake quantization computes what ORT's QDQ model computes; its model is a QDQ graph ORT runs.

A small MobileNet-shaped network (stem, depthwise block with a residual add, pooled classifier) on
32x32 crops keeps each export to seconds; the full MobileNetV2 run is benchmarks/export.py's
(docs/exporter.md, "MobileNetV2: the gate doing its job").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import Tensor, nn

from edge_agent.bundle import verify_bundle
from edge_agent.hardware.cpu import host_cpu
from exporters.data import load_samples
from exporters.errors import GateFailedError, UsageError
from exporters.pipeline import ExportOptions, export_model
from exporters.qat import fakequant
from exporters.quantize import QuantSpec, quantize
from exporters.sources import SourceSpec, load_source
from exporters.sources.torch_module import build_module

SOURCE = f"{__file__}:tiny_net"
SHAPE = (1, 3, 32, 32)
PTQ_RUNGS = frozenset(
    {
        "per-channel",
        "float outputs",
        "uint8 weights",
        "calibration percentile",
        "calibration entropy",
        "bias correction",
        "uint16 activations",
        "exclude",
    }
)


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Sequential(
            nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6()
        )
        self.pw = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
        self.head = nn.Linear(16, 10)

    def forward(self, x: Tensor) -> Tensor:
        y = self.stem(x)
        y = y + self.pw(self.dw(y))
        out: Tensor = self.head(y.mean((2, 3)))
        return out


def tiny_net() -> TinyNet:
    """Seeded weights with BatchNorm statistics that are not the identity, so folding matters."""
    torch.manual_seed(0)
    net = TinyNet()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.running_mean is not None
            assert m.running_var is not None
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return net.eval()


def _options(crops: dict[str, Path], out: Path, **kw: Any) -> ExportOptions:
    return ExportOptions(
        source=SOURCE,
        out=out,
        input_shape=SHAPE,
        calib=crops["calib"],
        holdout=crops["holdout"],
        holdout_limit=24,
        qat_steps=12,  # a step count, not a time budget: the same training on a busy machine
        runs=3,
        progress=False,
        **kw,
    )


def _fixed_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    """Injected timings: fp32 10 ms, the post-training variant 10 ms (1x), the QAT variant (the rung
    after the recipe when the others are skipped, variant1) 2 ms (5x), so only QAT meets --min-speedup 2."""

    def timer(path: Path, *_: Any, **__: Any) -> dict[str, float]:
        ms = 2.0 if path.name == "variant1.onnx" else 10.0
        return {"p50_ms": ms, "p95_ms": ms}

    monkeypatch.setattr("exporters.pipeline.quick_latency", timer)


def test_qat_is_not_climbed_when_a_post_training_rung_passes(crops: dict[str, Path], tmp_path: Path) -> None:
    result = export_model(_options(crops, tmp_path / "ok", max_drop=1.0))
    gate = result.report["gate"]
    assert [r["rung"] for r in gate["rungs"]] == ["recipe"]
    assert "qat_skipped" not in gate


def test_qat_is_climbed_after_the_post_training_rungs_miss_and_its_qdq_model_runs(
    crops: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_latency(monkeypatch)
    result = export_model(
        _options(crops, tmp_path / "qat", max_drop=1.0, min_speedup=2.0, skip_rungs=PTQ_RUNGS)
    )
    rungs = result.report["gate"]["rungs"]
    assert [r["rung"] for r in rungs] == ["recipe", "qat"]
    assert rungs[0]["too_slow"]
    assert not rungs[0]["passed"]
    qat = rungs[1]
    assert qat["passed"]
    assert 0.0 <= qat["value"] <= 1.0
    assert qat["metrics"]["metric"] == "top1_agreement"
    assert qat["latency"]["speedup"] == 5.0
    q = qat["quantization"]
    assert (q["activation_type"], q["weight_type"], q["method"]) == ("uint8", "int8", "minmax")
    notes = qat["metrics"]["qat"]
    assert notes["steps"] == 12
    assert notes["settings"]["max_steps"] == 12
    assert notes["history"]
    assert 0.0 <= notes["history"][-1]["train_agreement"] <= 1.0
    # BatchNorm folded: the fake-quantized tensors are the input, the 3 conv outputs and the add; the
    # classifier stays wholly float, as "float outputs" leaves it in the QDQ graph
    assert notes["fake_quant_activations"] == 5
    assert notes["fake_quant_weights"] == 3
    bundle = verify_bundle(result.bundle.root)
    assert bundle.manifest.quantization.mode == "static-qdq"
    ops = {n.op_type for n in onnx.load(str(bundle.model_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    sess = ort.InferenceSession(str(bundle.model_path), providers=["CPUExecutionProvider"])
    x = np.zeros(SHAPE, np.float32)
    (out,) = sess.run(None, {sess.get_inputs()[0].name: x})
    assert out.shape == (1, 10)
    assert np.isfinite(out).all()


def test_qat_is_skipped_with_a_reason_for_a_source_that_is_not_a_torch_module(
    crops: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    onnx_file = load_source(SourceSpec(SOURCE, input_shape=SHAPE), tmp_path / "src").onnx_path
    _fixed_latency(monkeypatch)
    opts = _options(crops, tmp_path / "onnx", max_drop=1.0, min_speedup=2.0, skip_rungs=PTQ_RUNGS)
    opts.source = str(onnx_file)
    opts.preprocess = "imagenet"
    with pytest.raises(GateFailedError) as info:
        export_model(opts)
    gate = info.value.report["gate"]
    assert [r["rung"] for r in gate["rungs"]] == ["recipe"]
    assert "not a torch module" in gate["qat_skipped"]


def test_skip_rung_qat_leaves_it_out(
    crops: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_latency(monkeypatch)
    opts = _options(crops, tmp_path / "skip", max_drop=1.0, min_speedup=2.0, skip_rungs=PTQ_RUNGS | {"qat"})
    with pytest.raises(GateFailedError) as info:
        export_model(opts)
    gate = info.value.report["gate"]
    assert [r["rung"] for r in gate["rungs"]] == ["recipe"]
    assert "qat" in gate["skipped_rungs"]


def test_fake_quantization_computes_what_the_ort_qdq_model_computes(
    crops: dict[str, Path], tmp_path: Path
) -> None:
    """Same weights, same calibration samples: the torch fake-quant model and ORT's static QDQ model
    (per-channel s8 weights, u8 minmax activations, float outputs) give the same logits to within a
    couple of output quantization steps, while plain fp32 differs from both by more (measured: 7e-5
    against 4e-3)."""
    spec = SourceSpec(SOURCE, input_shape=SHAPE)
    fp32 = load_source(spec, tmp_path).onnx_path
    inputs: list[tuple[str, list[int | str], str]] = [("input", list(SHAPE), "float32")]
    from exporters.data import PRESETS

    pre = PRESETS["imagenet"].model_copy(update={"size": (32, 32)})
    calib = load_samples(crops["calib"], inputs, pre, None)
    held = load_samples(crops["holdout"], inputs, pre, None, limit=24)
    head = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "Gemm"]
    qdq = quantize(
        QuantSpec("static-qdq", exclude=tuple(head)), fp32, tmp_path / "qdq.onnx", calib, progress=False
    )
    # ORT_DISABLE_ALL runs the QDQ graph as written (dequantize, float op, quantize): what it means on
    # any CPU. The default session fuses it into int8 kernels, which compute the same where u8s8 sums
    # do not saturate (VNNI) and clip on x86 without it; fake quantization models the graph, not the clip.
    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sessions = [ort.InferenceSession(str(qdq), plain, providers=["CPUExecutionProvider"])]
    if not host_cpu()["int8_saturates"]:
        sessions.append(ort.InferenceSession(str(qdq), providers=["CPUExecutionProvider"]))

    gm = fakequant.instrument(build_module(spec.source, spec.weights), per_channel=True, float_output=True)
    fakequant.calibrate(gm, [torch.from_numpy(f["input"]) for f in calib])
    x = torch.from_numpy(np.concatenate([f["input"] for f in held]))
    with torch.no_grad():
        fq_out = gm(x).numpy()
        fp_out = build_module(spec.source, spec.weights)(x).numpy()
    for sess in sessions:
        ort_out = np.concatenate([sess.run(None, f)[0] for f in held])
        emulation_error = np.abs(fq_out - ort_out).max()
        rounding_error = np.abs(fp_out - ort_out).max()
        assert emulation_error < 0.1 * rounding_error, sess.get_session_options().graph_optimization_level


def test_a_qat_budget_that_is_not_positive_is_a_usage_error(crops: dict[str, Path], tmp_path: Path) -> None:
    opts = _options(crops, tmp_path / "bad")
    opts.qat_budget_s = 0.0
    with pytest.raises(UsageError, match="--qat-budget-s 0: expected a positive number of seconds"):
        export_model(opts)


def test_a_qat_step_count_that_is_not_positive_is_a_usage_error(
    crops: dict[str, Path], tmp_path: Path
) -> None:
    opts = _options(crops, tmp_path / "bad-steps")
    opts.qat_steps = 0
    with pytest.raises(UsageError, match="--qat-steps 0: expected a positive whole number of steps"):
        export_model(opts)
