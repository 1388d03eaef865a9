"""Hot-path values shared by every stage (edge_agent.stages.protocols). Plain slotted dataclasses,
not pydantic (STYLE.md §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

JSON = dict[str, Any]


@dataclass(slots=True)
class Frame:
    """One unit of input: a video frame (HxWx3 BGR uint8), an audio chunk (1-D float32, mono) or a
    sensor window (1-D or 2-D float32). `ts` is the capture time in Unix seconds; `index` counts from 0
    per source and restarts when a file source loops."""

    data: npt.NDArray[Any]
    ts: float
    index: int
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.data, np.ndarray):
            raise TypeError(f"Frame.data: expected numpy.ndarray, got {type(self.data).__name__}")


@dataclass(slots=True)
class Letterbox:
    """How a frame was fitted into the model input, to map boxes back to the frame (0..1)."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    in_w: int
    in_h: int
    frame_w: int
    frame_h: int

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        """Model-input pixel → normalised frame coordinate, clipped to 0..1."""
        fx = (x - self.pad_x) / self.scale_x / self.frame_w
        fy = (y - self.pad_y) / self.scale_y / self.frame_h
        return min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0)


@dataclass(slots=True)
class Outbound:
    """A message for the outbox: the outbox assigns `seq` and the device id when it commits."""

    pipeline: str
    kind: str  # "results" | "events" | "stats" ... : the last topic level
    body: JSON
    priority: int = 1  # 0 detail (dropped first), 1 result, 2 event (dropped last)
