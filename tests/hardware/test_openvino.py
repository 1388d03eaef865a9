"""A second real EP: OpenVINO (CPU device) through the same selection code, in `.venv-openvino`.

Run: scripts/openvino-venv.sh && .venv-openvino/bin/python -m pytest -m openvino tests/hardware
In the main venv (plain onnxruntime) these skip: the EP is not in that build.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.errors import ProviderError
from edge_agent.hardware import check_active, load_profile, resolve_providers
from edge_agent.hardware.profile import EPSpec

OV = "OpenVINOExecutionProvider"
pytestmark = [
    pytest.mark.openvino,
    pytest.mark.skipif(
        OV not in ort.get_available_providers(),
        reason="OpenVINOExecutionProvider absent: run in .venv-openvino (scripts/openvino-venv.sh)",
    ),
]


def _intel_chain(device_type: str) -> list[EPSpec]:
    """The intel-core-ultra profile's chain with the OpenVINO device swapped (CPU is all CI has)."""
    prof = load_profile("intel-core-ultra")
    ov = prof.providers[0]
    return [
        ov.model_copy(update={"options": {**ov.options, "device_type": device_type}}),
        *prof.providers[1:],
    ]


def _open(
    model: Path, specs: list[EPSpec], require: bool, cache: Path
) -> tuple[ort.InferenceSession, list[str]]:
    names, opts = resolve_providers(specs, ort.get_available_providers(), require, cache_dir=cache)
    return ort.InferenceSession(str(model), providers=names, provider_options=opts), names


def test_openvino_cpu_runs_and_matches_cpu_ep(
    tiny_model: Path, tiny_input: dict[str, np.ndarray], tmp_path: Path
) -> None:
    sess, asked = _open(tiny_model, _intel_chain("CPU"), True, tmp_path)
    assert asked == [OV, "CPUExecutionProvider"]
    assert check_active(sess, asked, require_accelerator=True)[0] == OV
    got = sess.run(None, tiny_input)[0]
    ref = ort.InferenceSession(str(tiny_model), providers=["CPUExecutionProvider"]).run(None, tiny_input)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    assert (tmp_path / "openvino").is_dir(), "the profile's {cache_dir} option was expanded and created"


def test_missing_npu_is_an_error_when_required(tiny_model: Path, tmp_path: Path) -> None:
    """OpenVINO asked for an absent NPU drops itself and ORT runs on CPU: the check refuses that."""
    sess, asked = _open(tiny_model, _intel_chain("NPU"), True, tmp_path)
    assert sess.get_providers() == ["CPUExecutionProvider"], "ORT's own behaviour: a silent fallback"
    with pytest.raises(ProviderError, match="OpenVINOExecutionProvider did not start"):
        check_active(sess, asked, require_accelerator=True)


def test_missing_npu_is_a_logged_fallback_otherwise(
    tiny_model: Path, tiny_input: dict[str, np.ndarray], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sess, asked = _open(tiny_model, _intel_chain("NPU"), False, tmp_path)
    with caplog.at_level(logging.WARNING, logger="edge_agent.hardware.providers"):
        active = check_active(sess, asked, require_accelerator=False)
    assert active == ["CPUExecutionProvider"]
    assert "OpenVINOExecutionProvider did not start" in caplog.text
    assert sess.run(None, tiny_input)[0].shape == (1, 4), "the fallback still serves results"


JIT_PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN (Linux 6.3+)
    sys.exit(77)
import onnxruntime as ort
ort.InferenceSession(sys.argv[1], providers=[("OpenVINOExecutionProvider", {"device_type": "CPU"})])
"""


def test_openvino_needs_writable_code_hence_jit_flag(tiny_model: Path) -> None:
    """Why intel-core-ultra says `jit: true`: OpenVINO cannot compile under MemoryDenyWriteExecute."""
    import subprocess
    import sys

    assert load_profile("intel-core-ultra").jit
    run = subprocess.run(
        [sys.executable, "-c", JIT_PROBE, str(tiny_model)], capture_output=True, text=True, check=False
    )
    if run.returncode == 77:
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    assert run.returncode != 0
    assert "can't protect" in run.stderr
