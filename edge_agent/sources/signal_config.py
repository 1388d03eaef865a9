"""Config model of the audio sources (files, ALSA); the sensor kinds have theirs in sensor_config.

It sits beside the video SourceConfig in a pipeline's `source:` block, told apart by `kind`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge_agent.strict import Strict


class AudioSourceConfig(Strict):
    """Audio as model-rate chunks: each Frame is `context + chunk` float32 samples, mono."""

    kind: Literal["audio_file", "alsa"] = Field(
        description="audio_file: a WAV/FLAC/OGG file (libsndfile); alsa: live capture through `arecord`."
    )
    path: str = Field(
        default="default", description="audio_file: the file; alsa: the ALSA device (e.g. default, hw:1,0)."
    )
    rate: int = Field(default=16000, ge=1000, le=192000, description="Sample rate the model expects, Hz.")
    chunk: int = Field(default=512, ge=1, description="New samples per frame (silero-vad: 512 at 16 kHz).")
    context: int = Field(
        default=64, ge=0, description="Samples of the previous chunk put in front of each frame (silero: 64)."
    )
    channel: int | None = Field(
        default=None, ge=0, description="Channel to keep; None mixes all channels down to mono."
    )
    capture_rate: int | None = Field(
        default=None, ge=1000, le=192000, description="alsa: rate asked of the device; None: `rate`."
    )
    channels: int = Field(default=1, ge=1, le=32, description="alsa: channels asked of the device.")
    arecord: str = Field(default="arecord", description="alsa: the arecord program (alsa-utils).")
    realtime: bool = Field(
        default=False, description="audio_file: deliver chunks at real-time pace instead of at once."
    )
    loop: bool = Field(default=False, description="audio_file: start again at the end.")
    fps: float | None = Field(default=None, gt=0, description="Unused for audio (chunks set the pace).")
    retry_min_s: float = Field(default=0.5, gt=0, description="First retry delay after a failure.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")
    queue: int = Field(default=64, ge=1, le=4096, description="Chunks buffered between capture and worker.")
