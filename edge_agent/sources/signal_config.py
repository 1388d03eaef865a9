"""Config models for the non-camera sources: audio (files, ALSA) and sensors (replay, serial, IIO, MQTT).

They sit beside the video SourceConfig in a pipeline's `source:` block, told apart by `kind`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_agent.config_base import Strict


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


class SensorSourceConfig(Strict):
    """Sensor readings as sliding windows; each reading is a vector of `channels` numbers."""

    kind: Literal["csv", "jsonl", "serial", "iio", "mqtt"] = Field(
        description="csv/jsonl: replay a file; serial: lines from a serial port (pyserial); iio: poll "
        "Linux IIO sysfs channels; mqtt: readings published by other local devices."
    )
    path: str = Field(
        default="",
        description="csv/jsonl: the file; serial: the port (/dev/ttyUSB0); iio: the device directory "
        "(/sys/bus/iio/devices/iio:device0); mqtt: the topic to subscribe to.",
    )
    channels: list[str] = Field(
        default_factory=list,
        description="Column / key / IIO channel names to read, in order (iio: e.g. in_accel_x). "
        "csv/jsonl/mqtt: empty means every numeric field except the time column; serial: empty "
        "means every value on the line.",
    )
    time_key: str | None = Field(
        default="ts", description="csv/jsonl/mqtt: column or key holding the reading's time (seconds)."
    )
    speed: float = Field(
        default=1.0, ge=0, description="csv/jsonl: replay speed factor (2 = twice as fast; 0 = at once)."
    )
    rate_hz: float = Field(default=100.0, gt=0, description="iio: polling rate; serial: baud is separate.")
    baud: int = Field(default=115200, ge=50, description="serial: baud rate.")
    host: str = Field(default="127.0.0.1", description="mqtt: broker host.")
    port: int = Field(default=1883, ge=1, le=65535, description="mqtt: broker port.")
    loop: bool = Field(default=False, description="csv/jsonl: start again at the end.")
    fps: float | None = Field(default=None, gt=0, description="Unused (readings set the pace).")
    retry_min_s: float = Field(default=0.5, gt=0, description="First retry delay after a failure.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")
    queue: int = Field(default=64, ge=1, le=4096, description="Windows buffered between capture and worker.")
    window: WindowConfig | None = Field(
        default=None, description="Sliding windows and features; None: one frame per reading."
    )

    @model_validator(mode="after")
    def _needs(self) -> SensorSourceConfig:
        if not self.path:
            raise ValueError(f"path is required for kind {self.kind}")
        if self.kind == "iio" and not self.channels:
            raise ValueError("iio needs `channels` (e.g. [in_accel_x, in_accel_y, in_accel_z])")
        return self


class WindowConfig(Strict):
    """Sliding windows over readings, and what each window becomes."""

    size: int = Field(default=64, ge=2, description="Readings per window.")
    hop: int = Field(default=32, ge=1, description="Readings between window starts (hop < size overlaps).")
    features: list[Literal["mean", "std", "rms", "min", "max", "ptp", "fft"]] | None = Field(
        default=None,
        description="Features per channel, concatenated in this order; None: the raw window "
        "(size x channels) goes to the model.",
    )
    fft_bands: int = Field(
        default=4, ge=1, le=256, description="fft: magnitude spectrum summed into this many equal bands."
    )

    @model_validator(mode="after")
    def _hop(self) -> WindowConfig:
        if self.hop > self.size:
            raise ValueError(f"hop must be <= size (no gaps), got hop={self.hop} > size={self.size}")
        return self


SensorSourceConfig.model_rebuild()
