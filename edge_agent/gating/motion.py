"""The motion gate: downscale, grey, blur, difference against a running background, threshold,
and keep the largest changed region if it is at least `min_area` of the frame.

At 160 px wide this costs a few hundred microseconds per frame, against milliseconds for a model:
on a mostly still scene that is where the saving comes from. A periodic keyframe keeps results
fresh (and lets a tracker see a still object) even when nothing moves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.gating.config import MotionGateConfig
from edge_agent.stages.types import JSON, Frame

log = logging.getLogger(__name__)
_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(slots=True)
class GateStats:
    """Frames seen, inferred (motion, hold or keyframe) and skipped."""

    seen: int = 0
    inferred: int = 0
    skipped: int = 0
    motion: int = 0
    keyframes: int = 0

    def as_json(self) -> JSON:
        """For the stats message; `inferred_ratio` is what the gate saved, at a glance."""
        ratio = self.inferred / self.seen if self.seen else 0.0
        return {
            "frames_seen": self.seen,
            "frames_inferred": self.inferred,
            "frames_skipped": self.skipped,
            "motion_frames": self.motion,
            "keyframes": self.keyframes,
            "inferred_ratio": round(ratio, 4),
        }


class MotionGate:
    """Gate (edge_agent.stages.protocols): True when the frame should go to the model."""

    def __init__(self, cfg: MotionGateConfig) -> None:
        self.cfg = cfg
        self.stats = GateStats()
        self.last_area = 0.0  # share of the frame in the largest changed region, last frame
        self._background: npt.NDArray[np.float32] | None = None
        self._last_motion_ts = float("-inf")
        self._last_infer_ts = float("-inf")

    def _small(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        h, w = image.shape[:2]
        width = min(self.cfg.width, w)
        height = max(1, round(h * width / w))
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self.cfg.blur > 1:
            small = cv2.GaussianBlur(small, (self.cfg.blur, self.cfg.blur), 0)
        return np.asarray(small, dtype=np.uint8)

    def motion_area(self, image: npt.NDArray[np.uint8]) -> float:
        """Largest changed region as a share of the frame; updates the background."""
        grey = self._small(image)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey.astype(np.float32)
            return 1.0  # first frame (or a resolution change): everything is new
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        _, mask = cv2.threshold(diff, self.cfg.threshold, 255, cv2.THRESH_BINARY)
        mask = cv2.dilate(mask, _KERNEL, iterations=2)  # join a moving object's fragments into one region
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        largest = max((cv2.contourArea(c) for c in contours), default=0.0)
        if self.cfg.background_alpha > 0:
            cv2.accumulateWeighted(grey.astype(np.float32), self._background, self.cfg.background_alpha)
        else:
            self._background = grey.astype(np.float32)
        return float(largest) / float(grey.shape[0] * grey.shape[1])

    def __call__(self, frame: Frame) -> bool:
        self.stats.seen += 1
        self.last_area = self.motion_area(frame.data)
        ts = frame.ts
        moved = self.last_area >= self.cfg.min_area
        if moved:
            self.stats.motion += 1
            self._last_motion_ts = ts
        run = moved or ts - self._last_motion_ts <= self.cfg.hold_s
        interval = self.cfg.keyframe_interval_s
        if not run and interval is not None and ts - self._last_infer_ts >= interval:
            run = True
            self.stats.keyframes += 1
        if run:
            self.stats.inferred += 1
            self._last_infer_ts = ts
        else:
            self.stats.skipped += 1
        return run


def build_gate(cfg: MotionGateConfig | None) -> MotionGate | None:
    """The pipeline's gate, or None when every frame goes to the model."""
    if cfg is None:
        return None
    log.debug("motion gate: width %d, min_area %.4f", cfg.width, cfg.min_area)
    return MotionGate(cfg)
