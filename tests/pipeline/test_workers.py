"""Several inference workers on one real ONNX Runtime session: results leave in frame order with the
outputs one worker gives, a slow run does not reorder them, the layout shows in the stats, and a
stateful model (silero-vad) is held to one worker."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config.models import PipelineConfig
from edge_agent.pipeline.runner import Pipeline
from edge_agent.stages.protocols import Feeds, Session, Tensor
from edge_agent.stages.types import Outbound

PRE = {"resize": "letterbox", "pad_value": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class _SlowFirst:
    """Fault injection: the first run of the pipeline stalls until another worker has finished a
    later frame, so results are sure to complete out of order."""

    def __init__(self, inner: Session) -> None:
        self.inner = inner
        self.calls = 0
        self.threads: set[str] = set()
        self.overtaken = threading.Event()
        self._lock = threading.Lock()

    def run(self, feeds: Feeds) -> list[Tensor]:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
            self.threads.add(threading.current_thread().name)
        if first:
            self.overtaken.wait(60)  # a bound only so a broken runner fails instead of hanging
            return self.inner.run(feeds)
        outputs = self.inner.run(feeds)
        self.overtaken.set()
        return outputs


def _cfg(orinet: Path, video: Path, **model: Any) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "source": {"kind": "video", "path": str(video)},
            "model": {"path": str(orinet), **model},
            "preprocess": PRE,
            "postprocess": {"kind": "classification", "top_k": 2},
            "accounting": {"watts_per_busy_core": 2.0},
        }
    )


def _run(
    cfg: PipelineConfig, cores: int | None = None, slow: bool = False
) -> tuple[list[Any], Pipeline, Any]:
    out: list[Outbound] = []
    pipe = Pipeline("orient", cfg, out.append, cores=cores)
    pipe.load()
    assert pipe.stages is not None
    wrapped = _SlowFirst(pipe.stages.session) if slow else None
    if wrapped is not None:
        pipe.stages.session = wrapped
    pipe.start()
    assert pipe.finished.wait(120)
    pipe.stop()
    return [o.body for o in out if o.kind == "results"], pipe, wrapped


def test_three_workers_keep_frame_order_and_the_single_worker_outputs(
    orinet_path: Path, demo_video: tuple[Path, list[str]]
) -> None:
    video, truth = demo_video
    one, single, _ = _run(_cfg(orinet_path, video, workers=1, intra_op_threads=1))
    many, pipe, slow = _run(_cfg(orinet_path, video, workers=3, intra_op_threads=1), slow=True)
    assert pipe.layout is not None
    assert pipe.layout.workers == 3
    assert slow is not None
    assert slow.overtaken.is_set()  # a later frame really finished before the first
    assert len(slow.threads) > 1
    assert [r["frame"] for r in many] == list(range(len(truth)))  # in order despite the stalled first run
    assert [r["output"] for r in many] == [r["output"] for r in one]
    snap = pipe.snapshot()
    assert snap["failures"] == 0, snap["error"]
    assert snap["threads"] == {
        "cores": pipe.layout.cores,
        "workers": 3,
        "intra_op_threads": 1,
        "why": "frames are independent; config sets workers, intra_op_threads",
    }
    assert snap["inferred"] == snap["cpu"]["results"] == len(truth)
    assert snap["cpu"]["cpu_s_per_result"]["inference"] > 0
    assert "note" not in snap["cpu"]  # one intra-op thread per worker: ORT's CPU is on the workers' threads
    assert snap["cpu"]["process_cpu_s_per_result"] >= snap["cpu"]["cpu_s_per_result"]["inference"]
    assert single.snapshot()["threads"]["workers"] == 1


def test_auto_layout_uses_the_pipelines_share(orinet_path: Path, demo_video: tuple[Path, list[str]]) -> None:
    video, truth = demo_video
    results, pipe, _ = _run(_cfg(orinet_path, video), cores=2)
    assert pipe.layout is not None
    assert (pipe.layout.cores, pipe.layout.workers, pipe.layout.intra_op_threads) == (2, 2, 1)
    assert [r["frame"] for r in results] == list(range(len(truth)))


def test_intra_op_threads_reach_the_session(orinet_path: Path, demo_video: tuple[Path, list[str]]) -> None:
    video, _ = demo_video
    pipe = Pipeline("orient", _cfg(orinet_path, video, workers=1), lambda _m: None, cores=3)
    pipe.load()
    assert pipe.layout is not None
    assert (pipe.layout.workers, pipe.layout.intra_op_threads) == (1, 3)
    model = pipe.stages.model if pipe.stages else None
    session = getattr(model, "session", None)
    assert session is not None
    assert session.get_session_options().intra_op_num_threads == 3
    assert pipe.accounts is not None
    assert "note" in pipe.accounts.report()


def test_a_stateful_model_is_held_to_one_worker(tmp_path: Path) -> None:
    silero_vad = pytest.importorskip(
        "silero_vad", reason="silero-vad is not installed (install-test-models.sh)"
    )
    sf = pytest.importorskip("soundfile", reason="the audio extra (soundfile) is not installed")
    import numpy as np

    model = Path(silero_vad.__file__).parent / "data" / "silero_vad.onnx"
    wav = tmp_path / "noise.wav"
    sf.write(str(wav), np.random.default_rng(3).normal(0, 0.01, 16000).astype(np.float32), 16000)
    cfg = PipelineConfig.model_validate(
        {
            "source": {"kind": "audio_file", "path": str(wav), "rate": 16000, "chunk": 512, "context": 64},
            "model": {"path": str(model), "workers": 4},
            "postprocess": {"kind": "vad"},
        }
    )
    out: list[Outbound] = []
    pipe = Pipeline("mic", cfg, out.append, cores=4)
    pipe.start()
    assert pipe.finished.wait(60)
    pipe.stop()
    assert pipe.layout is not None
    assert (pipe.layout.workers, pipe.layout.intra_op_threads) == (1, 4)
    assert "vad" in pipe.layout.why
    snap = pipe.snapshot()
    assert snap["failures"] == 0, snap["error"]
    assert snap["inferred"] == len([o for o in out if o.kind == "results"]) > 20
