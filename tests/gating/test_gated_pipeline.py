"""A video pipeline with the motion gate and change-only events, through the runner, on a real model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

from edge_agent.config.models import PipelineConfig
from edge_agent.pipeline.runner import Pipeline
from edge_agent.stages.types import Outbound


def _video(path: Path) -> None:
    """6 s at 10 fps: a still room, a face crossing between 2 and 3 s."""
    scene = cv2.resize(np.ascontiguousarray(data.coffee()[:, :, ::-1]), (320, 240))
    face = cv2.resize(np.ascontiguousarray(data.astronaut()[20:260, 120:340, ::-1]), (80, 88))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for i in range(60):
        img = scene.copy()
        if 20 <= i < 30:
            x = (i - 20) * 28
            img[60:148, x : x + 80] = face[:, : min(80, 320 - x)]
        writer.write(img)
    writer.release()


def test_gate_skips_still_frames_and_reports_stats(orinet_path: Path, tmp_path: Path) -> None:
    video = tmp_path / "room.avi"
    _video(video)
    cfg = PipelineConfig.model_validate(
        {
            "source": {"kind": "video", "path": str(video)},
            "model": {"path": str(orinet_path)},
            "preprocess": {"resize": "letterbox", "pad_value": 255},
            "postprocess": {"kind": "classification", "labels": ["0", "90", "180", "270"], "top_k": 1},
            "gate": {"keyframe_interval_s": None, "hold_s": 0.0},
            "events": {"change": {"key": "top.0.label"}},
            "accounting": {},
        }
    )
    out: list[Outbound] = []
    pipe = Pipeline("room", cfg, out.append)
    pipe.start()
    assert pipe.finished.wait(120)
    pipe.stop()
    snap = pipe.snapshot()
    assert snap["failures"] == 0, snap["error"]
    gate = snap["gate"]
    assert gate["frames_seen"] == 60
    # the first frame, the face's ten frames and the frame after it left; MJPG noise stays under threshold
    assert 10 <= gate["frames_inferred"] <= 16
    assert gate["frames_skipped"] == 60 - gate["frames_inferred"] == snap["skipped"]
    assert len([o for o in out if o.kind == "results"]) == gate["frames_inferred"]
    changed = [o.body for o in out if o.kind == "events"]
    assert changed
    assert changed[0]["event"] == "changed"
    assert changed[0]["previous"] is None
    assert snap["cpu"]["frames"] == 60
    assert snap["cpu"]["results"] == gate["frames_inferred"]
