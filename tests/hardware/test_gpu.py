"""CUDA / TensorRT through the Jetson profile. Needs an NVIDIA GPU and onnxruntime-gpu; skips elsewhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.hardware import check_active, load_profile, resolve_providers

AVAILABLE = ort.get_available_providers()
HAS_GPU = Path("/dev/nvidia0").exists() or Path("/dev/nvmap").exists()

pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(
        not HAS_GPU or "CUDAExecutionProvider" not in AVAILABLE,
        reason="needs an NVIDIA GPU (/dev/nvidia0 or Jetson /dev/nvmap) and onnxruntime-gpu; "
        f"this machine has providers {AVAILABLE}",
    ),
]


@pytest.mark.parametrize("first", ["TensorrtExecutionProvider", "CUDAExecutionProvider"])
def test_gpu_chain_is_active(
    first: str, tiny_model: Path, tiny_input: dict[str, np.ndarray], tmp_path: Path
) -> None:
    if first not in AVAILABLE:
        pytest.skip(f"{first} not in this onnxruntime build")
    prof = load_profile("jetson-orin-nano")
    specs = [p for p in prof.providers if p.name in (first, "CPUExecutionProvider")]
    names, opts = resolve_providers(specs, AVAILABLE, require_accelerator=True, cache_dir=tmp_path)
    sess = ort.InferenceSession(str(tiny_model), providers=names, provider_options=opts)
    assert check_active(sess, names, require_accelerator=True)[0] == first
    ref = ort.InferenceSession(str(tiny_model), providers=["CPUExecutionProvider"]).run(None, tiny_input)[0]
    # TensorRT runs this profile in fp16.
    np.testing.assert_allclose(sess.run(None, tiny_input)[0], ref, rtol=2e-2, atol=2e-2)
