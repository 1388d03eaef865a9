"""On a `low_memory` profile a file source keeps one frame waiting unless its `queue` is set, and
still delivers every frame (a file's capture blocks on a full queue, it never drops)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge_agent.config.models import PipelineConfig
from edge_agent.hardware.profile import HardwareProfile, load_profile
from edge_agent.pipeline.runner import Pipeline, queue_depth
from edge_agent.stages.protocols import Feeds, Session, Tensor
from edge_agent.stages.types import Outbound

PRE = {"resize": "letterbox", "pad_value": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class _Held:
    """Fault injection: the first run waits until the capture thread has filled its queue (the file
    has more frames than any queue here), and records how deep that is."""

    def __init__(self, inner: Session, pipe: Pipeline) -> None:
        self.inner, self.pipe, self.deepest = inner, pipe, 0

    def run(self, feeds: Feeds) -> list[Tensor]:
        if not self.deepest:
            deadline = time.monotonic() + 60  # a bound only, so a broken capture fails instead of hanging
            while not self.pipe._queue.full() and time.monotonic() < deadline:
                time.sleep(0.005)
            self.deepest = self.pipe._queue.qsize()
        return self.inner.run(feeds)


def _run(orinet: Path, video: Path, profile: HardwareProfile | None, **source: Any) -> tuple[int, int, int]:
    cfg = PipelineConfig.model_validate(
        {
            "source": {"kind": "video", "path": str(video), **source},
            "model": {"path": str(orinet), "workers": 1, "intra_op_threads": 1},
            "preprocess": PRE,
            "postprocess": {"kind": "classification", "top_k": 1},
        }
    )
    out: list[Outbound] = []
    pipe = Pipeline("orient", cfg, out.append, profile=profile)
    pipe.load()
    assert pipe.stages is not None
    held = _Held(pipe.stages.session, pipe)
    pipe.stages.session = held
    pipe.start()
    assert pipe.finished.wait(120)
    pipe.stop()
    return pipe._queue.maxsize, held.deepest, sum(o.kind == "results" for o in out)


def test_a_low_memory_profile_keeps_one_frame_waiting(
    orinet_path: Path, demo_video: tuple[Path, list[str]]
) -> None:
    video, truth = demo_video
    small = load_profile("rpi-zero-2w")
    assert small.low_memory
    assert _run(orinet_path, video, small) == (1, 1, len(truth))
    assert _run(orinet_path, video, small, queue=3) == (3, 3, len(truth))  # set in the config: kept
    assert _run(orinet_path, video, load_profile("generic-x86")) == (4, 4, len(truth))  # the default


def test_queue_depth_rules() -> None:
    small, usual = load_profile("rpi-zero-2w"), load_profile("generic-x86")
    assert queue_depth(4, False, live=True, profile=usual) == 1  # live sources keep the newest only
    assert queue_depth(4, True, live=True, profile=small) == 1
    assert queue_depth(4, False, live=False, profile=small) == 1
    assert queue_depth(6, True, live=False, profile=small) == 6
    assert queue_depth(4, False, live=False, profile=usual) == 4
    assert queue_depth(4, False, live=False, profile=None) == 4


class _Watched:
    """Fault injection: the first run waits until an input is prepared ahead of it (the workers' slot
    full); every preprocess call records how many prepared inputs were then waiting, and every run
    the size of the pixels its frame still carries."""

    def __init__(self, pipe: Pipeline) -> None:
        assert pipe.stages is not None
        self.pipe, self.waiting, self.pixels = pipe, [], []
        self.pre, self.run_one = pipe.stages.preprocess, pipe._run
        pipe.stages.preprocess = self.preprocess
        pipe._run = self.run  # type: ignore[method-assign]

    def preprocess(self, data: Any) -> Any:
        self.waiting.append(self.pipe._ready.qsize())
        return self.pre(data)

    def run(self, prep: Any, input_name: str) -> Any:
        if not self.pixels:
            deadline = time.monotonic() + 60  # a bound only
            while not self.pipe._ready.full() and time.monotonic() < deadline:
                time.sleep(0.005)
        self.pixels.append(prep.frame.data.size)
        return self.run_one(prep, input_name)


def _watch(orinet: Path, video: Path, profile: HardwareProfile, **publish: Any) -> tuple[_Watched, list[int]]:
    cfg = PipelineConfig.model_validate(
        {
            "source": {"kind": "video", "path": str(video)},
            "model": {"path": str(orinet), "workers": 1, "intra_op_threads": 1},
            "preprocess": PRE,
            "postprocess": {"kind": "classification", "top_k": 1},
            "publish": publish,
        }
    )
    out: list[Outbound] = []
    pipe = Pipeline("orient", cfg, out.append, profile=profile)
    pipe.load()
    watched = _Watched(pipe)
    pipe.start()
    assert pipe.finished.wait(120)
    pipe.stop()
    return watched, [o.body["frame"] for o in out if o.kind == "results"]


def test_a_low_memory_profile_prepares_one_input_ahead_and_no_frame_keeps_its_pixels(
    orinet_path: Path, demo_video: tuple[Path, list[str]]
) -> None:
    video, truth = demo_video
    small, w = _watch(orinet_path, video, load_profile("rpi-zero-2w"))
    assert small.pixels == [0] * len(truth)  # the model input is all a worker gets
    assert max(small.waiting) == 0  # a frame is taken only once the slot is free: one input ahead
    assert w == list(range(len(truth)))  # every frame, in order
    usual, w = _watch(orinet_path, video, load_profile("generic-x86"))
    assert max(usual.waiting) == 1  # elsewhere the prep thread works one further ahead
    assert usual.pixels == [0] * len(truth)
    assert w == list(range(len(truth)))
    kept, w = _watch(orinet_path, video, load_profile("rpi-zero-2w"), include_frame=True)
    assert set(kept.pixels) == {640 * 480 * 3}  # `snapshot` needs the last frame's pixels: kept
    assert w == list(range(len(truth)))
