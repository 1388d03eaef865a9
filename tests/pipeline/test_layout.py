"""The thread layout a pipeline gets (edge_agent.pipeline.layout): shares of the cores, workers vs
intra-op threads, the config's override, the profile's budget, and the errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.config.loader import parse_config
from edge_agent.config.models import PipelineConfig
from edge_agent.errors import ConfigError
from edge_agent.hardware.profile import load_profile
from edge_agent.pipeline.layout import inference_budget, plan, settle, shares

VIDEO = {"kind": "video", "path": "a.mp4"}
CLASSIFY = {"kind": "classification", "top_k": 1}
HEAD = "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n"


def _pipe(model: dict[str, Any] | None = None, **extra: Any) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {"source": VIDEO, "model": {"path": "m.onnx", **(model or {})}, "postprocess": CLASSIFY, **extra}
    )


def test_one_core_is_one_worker_of_one_thread_as_before_layouts() -> None:
    """`auto` is the default only because on one core it is exactly the old default (1 x 1)."""
    for cfg in (_pipe(), _pipe(postprocess={"kind": "vad"})):
        layout = plan(cfg, shares({"a": cfg}, None, cores=1)["a"])
        assert (layout.workers, layout.intra_op_threads) == (1, 1)


def test_independent_frames_get_workers_a_stateful_model_gets_threads() -> None:
    assert (plan(_pipe(), 4).workers, plan(_pipe(), 4).intra_op_threads) == (4, 1)
    vad = plan(_pipe(postprocess={"kind": "vad"}), 4)
    assert (vad.workers, vad.intra_op_threads) == (1, 4)
    assert "vad" in vad.why
    cascade = _pipe(cascade={"large": {"model": {"path": "big.onnx"}}, "band": [0.2, 0.8]})
    assert (plan(cascade, 3).workers, plan(cascade, 3).intra_op_threads) == (1, 3)


def test_config_numbers_win_and_a_stateful_model_is_cut_to_one_worker() -> None:
    assert (plan(_pipe({"intra_op_threads": 2}), 4).workers, plan(_pipe({"intra_op_threads": 2}), 4).why) == (
        2,
        "frames are independent; config sets intra_op_threads",
    )
    fixed = plan(_pipe({"workers": 3, "intra_op_threads": 1}), 2)
    assert (fixed.workers, fixed.intra_op_threads) == (3, 1)  # the config may oversubscribe on purpose
    assert plan(_pipe({"workers": 2}), 4).intra_op_threads == 2
    assert plan(_pipe({"intra_op_threads": 0}), 4).workers == 1  # ORT sizes its own pool
    cut = plan(_pipe({"workers": 4}, postprocess={"kind": "vad"}), 4)
    assert cut.workers == 1


def test_low_memory_keeps_one_run_in_flight_unless_the_config_says() -> None:
    layout = plan(_pipe(), 3, low_memory=True)
    assert (layout.workers, layout.intra_op_threads) == (1, 3)
    assert plan(_pipe({"workers": 3}), 3, low_memory=True).workers == 3


def test_settle_cuts_workers_when_the_built_stages_run_one_at_a_time() -> None:
    layout = plan(_pipe(), 2)
    assert settle(layout, parallel=True, provider="CPUExecutionProvider") == layout
    assert settle(layout, parallel=False, provider="CPUExecutionProvider").workers == 1
    assert settle(layout, parallel=True, provider="CUDAExecutionProvider").workers == 1


def test_cores_split_fairly_across_enabled_pipelines_and_never_exceed_the_machine() -> None:
    pipes = {"a": _pipe(), "b": _pipe(), "c": _pipe(), "off": _pipe(enabled=False)}
    assert shares(pipes, None, cores=4) == {"a": 2, "b": 1, "c": 1}
    assert shares(pipes, None, cores=2) == {"a": 1, "b": 1, "c": 1}  # more pipelines than cores
    rpi5 = load_profile("rpi5")
    assert rpi5.inference_threads == 3
    assert inference_budget(rpi5, cores=4) == 3  # one core left for capture, outbox and MQTT
    assert inference_budget(rpi5, cores=2) == 2  # a container limited to 2 cores
    assert inference_budget(load_profile("generic-x86"), cores=8) == 8  # auto


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("intra_op_threads", "many", "from 0 to 256"),
        ("intra_op_threads", "-1", "from 0 to 256"),
        ("workers", "0", "from 1 to 64"),
        ("workers", "lots", "from 1 to 64"),
    ],
)
def test_bad_thread_settings_name_the_key(key: str, value: str, expected: str) -> None:
    text = f"{HEAD}    model:\n      path: m.onnx\n      {key}: {value}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "broken.yaml")
    (issue,) = info.value.issues
    assert issue.path == f"pipelines.door.model.{key}"
    assert issue.line == 6
    assert "'auto'" in issue.message
    assert expected in issue.message


def test_existing_configs_stay_valid_and_auto_parses() -> None:
    text = f"{HEAD}    model: {{path: m.onnx, intra_op_threads: 2}}\n"
    assert parse_config(text, "ok.yaml").pipelines["door"].model.intra_op_threads == 2
    auto = parse_config(text.replace("2}", "auto, workers: auto}"), "ok.yaml").pipelines["door"].model
    assert (auto.intra_op_threads, auto.workers) == ("auto", "auto")
