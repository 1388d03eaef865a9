"""Config model of the video sources (video file, image folder, camera, stream); the audio and sensor
kinds have theirs in signal_config and sensor_config. A pipeline's `source:` tells them apart by `kind`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from edge_agent.strict import Strict


class SourceConfig(Strict):
    kind: Literal["video", "folder", "camera", "stream"] = Field(
        description="video: a file; folder: images sorted by name; camera: index or /dev/videoN; "
        "stream: RTSP/HTTP URL."
    )
    path: str = Field(description="File, folder, camera index or device path, or stream URL.")
    fps: float | None = Field(
        default=None, gt=0, description="Cap on frames per second; None: as fast as it comes."
    )
    loop: bool = Field(default=False, description="video/folder: start again at the end.")
    width: int | None = Field(default=None, gt=0, description="camera: requested capture width.")
    height: int | None = Field(default=None, gt=0, description="camera: requested capture height.")

    @field_validator("path", mode="before")
    @classmethod
    def _index_to_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    retry_min_s: float = Field(default=0.5, gt=0, description="First retry delay after a failure.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")
    queue: int = Field(
        default=4,
        ge=1,
        le=1024,
        description="Frames buffered for files (live sources keep only the newest; a low_memory "
        "profile keeps 1 unless this is set).",
    )
