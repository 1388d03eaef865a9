"""A node the exporter keeps in float stays float on the device and in the exporter's gate: both halves
open sessions with edge_agent.bundle.graph's settings, which turn off ONNX Runtime's
WeightBiasQuantization (it would quantize the node's float weights at load and run it int8)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge_agent.bundle.graph import DISABLE_OPTIMIZERS_KEY, SESSION_CONFIG
from edge_agent.hardware.profile import load_profile
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import open_model, session_options

KEPT = "/body/body.3/Conv"


@pytest.fixture(scope="module")
def qdq_with_a_float_conv(orinet_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OriNet, static QDQ int8 as the rpi-zero-2w recipe quantizes it, one convolution excluded."""
    from exporters.quantize import QuantSpec, quantize

    rng = np.random.default_rng(0)
    calib = [{"x": rng.random((1, 3, 320, 320), dtype=np.float32)} for _ in range(2)]
    spec = QuantSpec("static-qdq", per_channel=True, exclude=(KEPT,))
    return quantize(spec, orinet_path, tmp_path_factory.mktemp("qdq") / "model.onnx", calib, progress=False)


def _ops(model: Path, so: ort.SessionOptions, out: Path) -> Counter[str]:
    so.optimized_model_filepath = str(out)
    ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    return Counter(n.op_type for n in onnx.load(str(out)).graph.node)


@pytest.mark.parametrize("profile", ["rpi-zero-2w", "generic-x86"])
def test_the_agent_runs_the_excluded_conv_in_float(
    qdq_with_a_float_conv: Path, tmp_path: Path, profile: str
) -> None:
    so = session_options(ModelConfig(path=qdq_with_a_float_conv), load_profile(profile))
    ops = _ops(qdq_with_a_float_conv, so, tmp_path / "agent.onnx")
    assert (ops["Conv"], ops["QLinearConv"]) == (1, 7), ops


def test_onnx_runtime_s_default_would_quantize_it_back(qdq_with_a_float_conv: Path, tmp_path: Path) -> None:
    # Why the setting exists: with ORT's defaults the exporter's exclusion is undone at load.
    ops = _ops(qdq_with_a_float_conv, ort.SessionOptions(), tmp_path / "default.onnx")
    assert (ops["Conv"], ops["QLinearConv"]) == (0, 8), ops


def test_the_gate_and_the_device_open_the_same_graph(qdq_with_a_float_conv: Path) -> None:
    from exporters import metrics
    from exporters.device_check_chroot import _RUN

    gate = metrics.session(qdq_with_a_float_conv).get_session_options()
    device = open_model(ModelConfig(path=qdq_with_a_float_conv)).session.get_session_options()
    for key, value in SESSION_CONFIG.items():
        assert gate.get_session_config_entry(key) == device.get_session_config_entry(key) == value
    assert SESSION_CONFIG[DISABLE_OPTIMIZERS_KEY] == "WeightBiasQuantization"
    assert _RUN.startswith(f"SESSION_CONFIG = {SESSION_CONFIG!r}\n")  # the arm64 device check's script
