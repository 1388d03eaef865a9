"""Every place that calls session.run honours a stop: the pipeline's model, ensemble and cascade
members, and the streaming (VAD) session. Real ONNX Runtime sessions on a slow code-built model; the
run is caught in flight (RunStopper.in_flight), cancelled with RunOptions.terminate, and must end with
RunCancelledError, never finish or hang."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.bundle.settings import VadPost
from edge_agent.config.models import AgentConfig
from edge_agent.ensemble.config import CascadeConfig, EnsembleConfig, MemberConfig
from edge_agent.ensemble.session import build_combination
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import open_model
from edge_agent.inference.stopper import RunCancelledError, RunStopper
from edge_agent.inference.streaming import vad_session
from edge_agent.pipeline.runner import Pipeline
from edge_agent.stages.types import Outbound
from tests.faults.slow_model import write_slow_model

FEEDS = {"image": np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)}
WAIT_S = 60.0  # generous: only a broken cancel path ever waits this long


@pytest.fixture(scope="module")
def very_slow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~2 s a run quiet: a run caught in flight is still running when it is cancelled."""
    return write_slow_model(tmp_path_factory.mktemp("slow") / "very_slow.onnx", 80)


@pytest.fixture(scope="module")
def slow_stateful(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_slow_model(tmp_path_factory.mktemp("slow") / "slow_state.onnx", 80, stateful=True)


def _cancel_in_flight(stopper: RunStopper, call: Callable[[], Any]) -> object:
    """Run `call` on a thread, wait for its session.run to be in flight, stop; what it ended with."""
    out: list[object] = []

    def go() -> None:
        try:
            out.append(call())
        except Exception as exc:  # the outcome under test
            out.append(exc)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    deadline = time.monotonic() + WAIT_S
    while stopper.in_flight == 0 and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert stopper.in_flight == 1, "the run never went through this stopper"
    assert stopper.stop() == 1
    t.join(WAIT_S)
    assert not t.is_alive()
    return out[0]


def test_model_session_run_is_cancelled_then_refused_until_reset(very_slow: Path) -> None:
    model = open_model(ModelConfig(path=very_slow))
    assert isinstance(_cancel_in_flight(model.stopper, lambda: model.run(FEEDS)), RunCancelledError)
    with pytest.raises(RunCancelledError, match="not started"):
        model.run(FEEDS)
    model.stopper.reset()
    assert model.run(FEEDS)[0].shape == (1, 3)


def test_ensemble_member_run_is_cancelled(tiny_model: Path, very_slow: Path) -> None:
    main = open_model(ModelConfig(path=tiny_model))  # its own stopper: only the member's counts
    stopper = RunStopper()
    ens = build_combination(
        main.run,
        "tiny",
        EnsembleConfig(members=[MemberConfig(model=ModelConfig(path=very_slow))]),
        None,
        stopper=stopper,
    )
    assert ens is not None
    assert isinstance(_cancel_in_flight(stopper, lambda: ens.run(FEEDS)), RunCancelledError)


def test_cascade_large_model_run_is_cancelled(tiny_model: Path, very_slow: Path) -> None:
    main = open_model(ModelConfig(path=tiny_model))
    stopper = RunStopper()
    cascade = build_combination(
        main.run,
        "tiny",
        None,
        CascadeConfig(large=MemberConfig(model=ModelConfig(path=very_slow)), band=(0.0, 1.0)),
        stopper=stopper,
    )
    assert cascade is not None
    assert isinstance(_cancel_in_flight(stopper, lambda: cascade.run(FEEDS)), RunCancelledError)


def test_streaming_vad_session_run_is_cancelled_and_keeps_its_state(slow_stateful: Path) -> None:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    session = ort.InferenceSession(str(slow_stateful), so, providers=["CPUExecutionProvider"])
    stopper = RunStopper()
    stream = vad_session(session, VadPost(state={"state": "stateN"}, rate_input=None), 16000, stopper)
    before = {k: v.copy() for k, v in stream.state.items()}
    assert isinstance(_cancel_in_flight(stopper, lambda: stream.run(FEEDS)), RunCancelledError)
    assert all(np.array_equal(stream.state[k], before[k]) for k in before)  # no half step


def test_pipeline_stop_cancels_the_run_in_flight_and_joins(
    tmp_path: Path, video_2000: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slow = write_slow_model(tmp_path / "slow.onnx", 24)
    cfg = AgentConfig.model_validate(
        {
            "device": {"id": "cancel", "state_dir": str(tmp_path / "state")},
            "pipelines": {
                "slow": {
                    "source": {"kind": "video", "path": str(video_2000), "loop": True},
                    "model": {"path": str(slow)},
                    "preprocess": {"size": [16, 16]},
                    "postprocess": {"kind": "classification", "labels": ["r", "g", "b"], "top_k": 1},
                }
            },
        }
    )
    results: list[Outbound] = []
    pipe = Pipeline("slow", cfg.pipelines["slow"], results.append)
    pipe.start()
    assert pipe.model is not None
    stopper = pipe.model.stopper
    deadline = time.monotonic() + WAIT_S
    while (pipe.inferred < 1 or stopper.in_flight == 0) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert stopper.in_flight >= 1  # one run per inference worker (the layout may run several)
    with caplog.at_level(logging.INFO, logger="edge_agent.pipeline.runner"):
        assert pipe.stop(timeout=WAIT_S, grace=0.0)  # every thread joined
    assert "in-flight inference cancelled" in caplog.text
    assert pipe.failures == 0  # a cancelled run is not a failed frame
    assert pipe.state == "stopped"
    assert len(results) == pipe.inferred  # only whole results were published
