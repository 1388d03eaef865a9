"""Every shipped hardware profile loads against the schema and is internally consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.errors import ConfigError
from edge_agent.hardware import all_profiles, load_profile
from edge_agent.hardware.profile import profiles_dir
from edge_agent.hardware.providers import CACHE_PLACEHOLDER, CPU, KNOWN_OPTIONS, unknown_options

EXPECTED = {
    "rpi4",
    "rpi5",
    "jetson-orin-nano",
    "intel-core-ultra",
    "snapdragon-x",
    "amd-ryzen-ai",
    "apple-m",
    "generic-x86",
    "generic-arm64",
}
PROFILES = all_profiles()


def test_every_target_has_a_profile() -> None:
    assert set(PROFILES) >= EXPECTED


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_is_consistent(name: str) -> None:
    prof = PROFILES[name]
    assert prof.name == name, "name must match the file name (load_profile looks it up by name)"
    assert prof.providers[-1].name == CPU, "the chain ends with the CPU EP for what accelerators cannot run"
    for ep in prof.providers:
        assert ep.name in KNOWN_OPTIONS, f"{ep.name}: add its documented options to KNOWN_OPTIONS"
        assert unknown_options(ep.name, ep.options) == [], f"{name}: {ep.name} has undocumented options"
        if ep.name != CPU:
            assert ep.hint, f"{name}: {ep.name} needs a hint saying what to install when it is missing"
    assert prof.detect.arch, "doctor needs at least the architecture to match on"
    if not name.startswith("generic-"):
        assert prof.detect.priority > 0
        assert prof.detect.model_contains or prof.detect.dmi_contains or prof.detect.files


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_recipe_matches_precision(name: str) -> None:
    prof = PROFILES[name]
    q = prof.quantization
    if prof.precision == "int8":
        assert q.mode in ("static-qdq", "dynamic")
    if prof.precision == "a16w8":
        assert (q.mode, q.activation_type, q.weight_type) == ("qnn-a16w8", "uint16", "uint8")
    if prof.precision == "fp16":
        # fp16 targets compile fp32 bundles to fp16 themselves (TensorRT, CoreML ML Program).
        assert q.mode in ("none", "fp16")


def test_npu_targets_need_static_shapes_and_cache() -> None:
    for name in ("intel-core-ultra", "snapdragon-x", "amd-ryzen-ai", "apple-m", "jetson-orin-nano"):
        prof = PROFILES[name]
        assert prof.static_shapes, name
        caches = [v for ep in prof.providers for v in ep.options.values() if CACHE_PLACEHOLDER in str(v)]
        assert caches or prof.session_config.get("ep.context_enable") == "1", f"{name}: no compiled cache"


def test_real_option_values() -> None:
    """Spot-check the values ONNX Runtime's docs give for the key options."""
    trt = PROFILES["jetson-orin-nano"].providers[0]
    assert trt.name == "TensorrtExecutionProvider"
    assert trt.options["trt_fp16_enable"] == "True"
    assert trt.options["trt_engine_cache_enable"] == "True"
    assert PROFILES["intel-core-ultra"].providers[0].options["device_type"] == "NPU"
    qnn = PROFILES["snapdragon-x"].providers[0].options
    assert qnn["backend_path"] == "libQnnHtp.so"
    assert qnn["htp_performance_mode"] == "burst"
    assert PROFILES["apple-m"].providers[0].options["ModelFormat"] == "MLProgram"


def test_thermal_paths_resolve_against_a_fake_tree(tmp_path: Path) -> None:
    zone = tmp_path / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("48312\n")
    hw = tmp_path / "sys/class/hwmon/hwmon1"
    hw.mkdir(parents=True)
    (hw / "in0_lcrit_alarm").write_text("0\n")
    temps, throttles = PROFILES["rpi5"].thermal.resolve(tmp_path)
    assert temps == [zone / "temp"]
    assert throttles == [hw / "in0_lcrit_alarm"]


def test_bad_profile_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ndescription: x\narch: x86_64\nprecision: int4\nproviders:\n  - name: Cuda\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_profile(bad)
    lines = {i.path: i.line for i in err.value.issues}
    assert lines["precision"] == 4  # the config reader's key paths and lines, as in agent configs
    assert lines["providers[0].name"] == 6


def test_unknown_profile_lists_known() -> None:
    with pytest.raises(ConfigError, match="rpi5"):
        load_profile("no-such-board")


def test_profiles_dir_is_the_checkout() -> None:
    assert (profiles_dir() / "generic-x86.yaml").is_file()
