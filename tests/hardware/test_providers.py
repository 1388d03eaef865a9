"""EP selection with real onnxruntime sessions: missing EPs are reported, never silently dropped."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.errors import ProviderError
from edge_agent.hardware import check_active, load_profile, resolve_providers
from edge_agent.hardware.providers import CPU, accelerator_required
from edge_agent.inference.config import ProviderSpec

AVAILABLE = ort.get_available_providers()


def test_cpu_profile_opens_a_real_session(tiny_model: Path, tiny_input: dict[str, np.ndarray]) -> None:
    prof = load_profile("generic-x86")
    names, opts = resolve_providers(prof.providers, AVAILABLE, require_accelerator=False)
    assert names == [CPU]
    assert opts == [{}]
    sess = ort.InferenceSession(str(tiny_model), providers=names, provider_options=opts)
    assert check_active(sess, names, require_accelerator=True) == [CPU]
    assert sess.run(None, tiny_input)[0].shape == (1, 4)


def test_missing_ep_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    prof = load_profile("jetson-orin-nano")
    available = [CPU]  # what the PyPI wheel has on a Jetson
    with caplog.at_level(logging.WARNING, logger="edge_agent.hardware.providers"):
        names, _ = resolve_providers(prof.providers, available, require_accelerator=False, cache_dir=tmp_path)
    assert names == [CPU]
    text = caplog.text
    assert "TensorrtExecutionProvider is not in this onnxruntime build" in text
    assert "JetPack" in text, "the warning carries the profile's hint on what to install"


def test_missing_ep_refused_when_required(tmp_path: Path) -> None:
    prof = load_profile("intel-core-ultra")
    with pytest.raises(ProviderError, match="none of OpenVINOExecutionProvider is in"):
        resolve_providers(prof.providers, [CPU], require_accelerator=True, cache_dir=tmp_path)


def test_required_entry_refused_even_without_the_flag() -> None:
    specs = [
        load_profile("rpi5")
        .providers[0]
        .model_copy(update={"name": "XnnpackExecutionProvider", "required": True})
    ]
    assert accelerator_required(specs, False)
    with pytest.raises(ProviderError, match="marks it required"):
        resolve_providers(specs, [CPU], require_accelerator=False)


def test_cpu_only_chain_cannot_require_an_accelerator() -> None:
    with pytest.raises(ProviderError, match="names only CPUExecutionProvider"):
        resolve_providers([ProviderSpec(name=CPU)], AVAILABLE, require_accelerator=True)


def test_cache_dir_is_expanded_and_created(tmp_path: Path) -> None:
    prof = load_profile("jetson-orin-nano")
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU]
    names, opts = resolve_providers(prof.providers, available, require_accelerator=True, cache_dir=tmp_path)
    assert names == available
    assert opts[0]["trt_engine_cache_path"] == str(tmp_path / "tensorrt")
    assert (tmp_path / "tensorrt").is_dir()
    assert all(isinstance(v, str) for o in opts for v in o.values())


def test_config_provider_specs_work_too() -> None:
    """The lead's config ProviderSpec (no `required`, no `hint`) goes through the same function."""
    specs = [ProviderSpec(name="AzureExecutionProvider"), ProviderSpec(name=CPU, options={"x": 1})]
    names, opts = resolve_providers(specs, ["AzureExecutionProvider", CPU], require_accelerator=False)
    assert names == ["AzureExecutionProvider", CPU]
    assert opts[1] == {"x": "1"}


def test_silent_fallback_is_caught_on_a_real_session(
    tiny_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A session that runs on CPU while an accelerator was asked: error when required, warning otherwise."""
    sess = ort.InferenceSession(str(tiny_model), providers=[CPU])
    asked = ["OpenVINOExecutionProvider", CPU]
    with pytest.raises(ProviderError, match="OpenVINOExecutionProvider did not start"):
        check_active(sess, asked, require_accelerator=True)
    with caplog.at_level(logging.WARNING, logger="edge_agent.hardware.providers"):
        assert check_active(sess, asked, require_accelerator=False) == [CPU]
    assert "did not start" in caplog.text
    assert "refusing" not in caplog.text
