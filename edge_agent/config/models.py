"""The config schema: pydantic v2 models with `extra="forbid"`, so the schema is the documentation.

Everything a user can write in the YAML file is declared here with a description; the JSON Schema in
docs/config.schema.json is generated from these classes (`edge-agent config schema`).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.accounting.config import AccountingConfig
from edge_agent.commands.settings import FleetDeviceConfig
from edge_agent.config_base import ModelConfig, ProviderSpec, Strict
from edge_agent.ensemble.config import CascadeConfig, EnsembleConfig
from edge_agent.events.config import EventsConfig
from edge_agent.gating.config import MotionGateConfig
from edge_agent.postprocess.anomaly import AnomalyPost
from edge_agent.postprocess.vad import VadPost
from edge_agent.sources.sensor_config import SensorSourceConfig
from edge_agent.sources.signal_config import AudioSourceConfig
from edge_agent.text.config import TextPost
from edge_agent.text.standin_source import TextFileConfig

__all__ = ["ModelConfig", "ProviderSpec", "Strict"]  # re-exported: defined in config_base (see there)

NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class DeviceConfig(Strict):
    id: str = Field(
        default_factory=lambda: re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:64] or "device",
        pattern=NAME_RE,
        description="Device id used in every topic and payload; defaults to the host name.",
    )
    state_dir: Path = Field(
        default=Path("/var/lib/edge-agent"),
        description="Where the outbox, sequence numbers and active bundles live "
        "(systemd's StateDirectory; $STATE_DIRECTORY overrides the default).",
    )
    hardware_profile: str | None = Field(
        default=None,
        description="Name of a hardware/<name>.yaml profile (EP chain, threads, thermal paths). "
        "None: chosen by `edge-agent doctor` rules, else generic CPU.",
    )


class TLSConfig(Strict):
    ca_file: Path | None = Field(default=None, description="CA certificate (PEM) to verify the broker.")
    cert_file: Path | None = Field(default=None, description="Client certificate (PEM) for mTLS.")
    key_file: Path | None = Field(
        default=None, description="Client key (PEM) for mTLS; may be a file in $CREDENTIALS_DIRECTORY."
    )
    insecure: bool = Field(default=False, description="Skip host-name verification (tests only).")

    @model_validator(mode="after")
    def _pair(self) -> TLSConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together for mTLS: give both or neither")
        return self


class MqttConfig(Strict):
    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 is usual for TLS).")
    protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version.")

    @field_validator("protocol", mode="before")
    @classmethod
    def _proto_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    prefix: str = Field(
        default="edge",
        description="First topic level(s), before the device id: no +, #, NUL or control characters, "
        "no empty level, not starting with $.",
    )

    @field_validator("prefix")
    @classmethod
    def _topic_prefix(cls, v: str) -> str:
        from edge_agent.config.names import prefix_problem  # names imports this module

        problem = prefix_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    client_id: str | None = Field(default=None, description="Client id; defaults to edge-agent-<device id>.")
    username: str | None = Field(default=None, description="User name, if the broker requires one.")
    password_env: str = Field(
        default="EDGE_AGENT_MQTT_PASSWORD",
        description="Environment variable holding the password. The password is also read from "
        "$CREDENTIALS_DIRECTORY/mqtt-password (systemd LoadCredential). Never put it in this file.",
    )
    tls: TLSConfig | None = Field(default=None, description="TLS settings; absent means plain TCP.")
    keepalive: int = Field(default=30, ge=5, le=3600, description="Keep-alive in seconds.")
    max_inflight: int = Field(
        default=64, ge=1, le=65535, description="QoS 1 messages awaiting PUBACK at once."
    )
    reconnect_min_s: float = Field(default=1.0, gt=0, description="First reconnect delay, seconds.")
    reconnect_max_s: float = Field(default=60.0, gt=0, description="Longest reconnect delay, seconds.")
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description="MQTT 5 session expiry: the broker keeps the session this long across reconnects.",
    )

    @model_validator(mode="after")
    def _delays(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class OutboxConfig(Strict):
    path: Path | None = Field(default=None, description="SQLite file; defaults to <state_dir>/outbox.sqlite.")
    max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=64 * 1024, description="Largest size of queued payloads, bytes."
    )
    max_rows: int = Field(default=500_000, ge=100, description="Most results kept while undelivered.")
    commit_interval_ms: int = Field(
        default=200, ge=0, le=60_000, description="Batch commits: at most this long between commits."
    )
    commit_batch: int = Field(
        default=100, ge=1, le=100_000, description="Batch commits: commit once this many are waiting."
    )
    retention_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="Results older than this are dropped first when full."
    )


class PreprocessConfig(Strict):
    size: tuple[int, int] | None = Field(
        default=None, description="Model input [width, height]; None reads it from the model."
    )
    resize: Literal["stretch", "letterbox"] = Field(default="stretch", description="How frames are fitted.")
    pad_value: int = Field(default=114, ge=0, le=255, description="Letterbox padding grey level.")
    color: Literal["rgb", "bgr", "gray"] = Field(
        default="rgb", description="Channel order the model expects."
    )
    layout: Literal["nchw", "nhwc"] = Field(default="nchw", description="Tensor layout the model expects.")
    dtype: Literal["float32", "float16", "uint8", "int8"] = Field(
        default="float32", description="Input tensor type."
    )
    scale: float = Field(default=1.0 / 255.0, description="Multiply pixel values by this first.")
    mean: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0), description="Subtract per channel.")
    std: tuple[float, float, float] = Field(default=(1.0, 1.0, 1.0), description="Divide per channel.")

    @field_validator("size")
    @classmethod
    def _positive(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and (v[0] <= 0 or v[1] <= 0):
            raise ValueError("width and height must be positive")
        return v

    @field_validator("std")
    @classmethod
    def _nonzero(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(s == 0 for s in v):
            raise ValueError("std values must be non-zero")
        return v


class ClassificationPost(Strict):
    kind: Literal["classification"] = "classification"
    labels: list[str] | None = Field(default=None, description="Class names; index order.")
    labels_file: Path | None = Field(
        default=None,
        description="Text file, one label per line; relative to the config file's folder (in a bundle "
        "manifest: to the bundle directory).",
    )
    top_k: int = Field(default=3, ge=1, le=100, description="How many classes to report.")
    softmax: bool | None = Field(
        default=None, description="Apply softmax; None: only when the outputs do not already sum to 1."
    )
    threshold: float = Field(default=0.0, ge=0, le=1, description="Drop classes scoring below this.")


class DetectionPost(Strict):
    kind: Literal["yolo", "ssd"] = Field(
        description="yolo: YOLOv5 [1,N,5+C] or YOLOv8 [1,4+C,N] head; ssd: boxes/scores/classes tensors."
    )
    labels: list[str] | None = Field(default=None, description="Class names; index order.")
    labels_file: Path | None = Field(
        default=None,
        description="Text file, one label per line; relative to the config file's folder (in a bundle "
        "manifest: to the bundle directory).",
    )
    threshold: float = Field(default=0.25, ge=0, le=1, description="Minimum score.")
    iou: float = Field(default=0.45, gt=0, le=1, description="NMS IoU threshold.")
    max_detections: int = Field(default=50, ge=1, le=1000, description="Most boxes per frame.")
    classes: list[str] | None = Field(default=None, description="Keep only these labels.")
    box_format: Literal["xyxy", "yxyx", "cxcywh"] = Field(
        default="xyxy", description="ssd only: coordinate order of the boxes tensor."
    )
    normalized_boxes: bool = Field(
        default=True, description="ssd only: boxes are already in 0..1 of the model input."
    )


class EmbeddingPost(Strict):
    kind: Literal["embedding"] = "embedding"
    normalize: bool = Field(default=True, description="L2-normalise the vector.")
    encoding: Literal["float16-b64", "list", "none"] = Field(
        default="float16-b64",
        description="How the vector is published: base64 of float16 (compact), a JSON list, or not at all.",
    )


class RawPost(Strict):
    kind: Literal["raw"] = "raw"
    max_values: int = Field(
        default=16, ge=0, le=4096, description="Tensors up to this many values are published whole."
    )


PostprocessConfig = Annotated[
    ClassificationPost | DetectionPost | EmbeddingPost | RawPost | VadPost | AnomalyPost | TextPost,
    Field(discriminator="kind"),
]


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
        default=4, ge=1, le=1024, description="Frames buffered for files (live sources keep only the newest)."
    )


class PublishConfig(Strict):
    results: bool = Field(default=True, description="Publish one result per inference.")
    include_frame: bool = Field(
        default=False, description="Opt in to sending pixels (snapshots). Off: raw frames never leave."
    )
    include_input: bool = Field(
        default=False, description="Text pipelines: put the input text in each result. Off: it never leaves."
    )


class PipelineConfig(Strict):
    source: SourceConfig | AudioSourceConfig | SensorSourceConfig | TextFileConfig = Field(
        discriminator="kind",
        description="Where frames come from: video/folder/camera/stream, audio_file/alsa, or "
        "csv/jsonl/serial/iio/mqtt sensor readings (one model per kind; docs/pipelines.md).",
    )
    model: ModelConfig
    preprocess: PreprocessConfig | None = Field(
        default=None, description="Overrides the bundle manifest; required for a plain .onnx."
    )
    postprocess: PostprocessConfig | None = Field(
        default=None, description="Overrides the bundle manifest; required for a plain .onnx."
    )
    publish: PublishConfig = Field(default_factory=PublishConfig)
    enabled: bool = Field(default=True, description="Start this pipeline with the agent.")
    gate: MotionGateConfig | None = Field(
        default=None, description="Video: run the model only when something moved (and on keyframes)."
    )
    events: EventsConfig | None = Field(
        default=None,
        description="State-change events (thresholds, tracking, zones, counts); None: the postprocess "
        "kind's own (vad: speech start/end, anomaly: anomaly start/end), else none.",
    )
    ensemble: EnsembleConfig | None = Field(
        default=None, description="More classifiers voting with `model:` on the same input."
    )
    cascade: CascadeConfig | None = Field(
        default=None, description="`model:` is the small model; a large one runs when it is unsure."
    )
    accounting: AccountingConfig | None = Field(
        default=None, description="CPU-seconds per result by stage and an energy estimate, in stats."
    )

    @model_validator(mode="after")
    def _one_combination(self) -> PipelineConfig:
        if self.ensemble is not None and self.cascade is not None:
            raise ValueError("ensemble and cascade exclude each other: pick one")
        if self.gate is not None and not isinstance(self.source, SourceConfig):
            raise ValueError(f"gate: motion gating is for video sources, got source kind {self.source.kind}")
        text_source = isinstance(self.source, TextFileConfig)
        if isinstance(self.postprocess, TextPost) and not text_source:
            raise ValueError(f"postprocess kind text is for text sources, got source kind {self.source.kind}")
        if text_source and self.postprocess is not None and not isinstance(self.postprocess, TextPost):
            raise ValueError(f"postprocess: a text source needs kind text, got {self.postprocess.kind}")
        return self


class AgentConfig(Strict):
    """The whole file."""

    version: Literal[1] = Field(default=1, description="Config file format version.")
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    pipelines: dict[Annotated[str, Field(pattern=NAME_RE)], PipelineConfig] = Field(
        description="Pipelines by name; the name is a topic level."
    )
    stats_interval_s: float = Field(default=30.0, ge=1, description="How often stats are published.")
    fleet: FleetDeviceConfig = Field(
        default_factory=FleetDeviceConfig,
        description="Commands, model updates, Home Assistant discovery and /metrics (docs/fleet.md).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")

    @field_validator("pipelines")
    @classmethod
    def _some(cls, v: dict[str, PipelineConfig]) -> dict[str, PipelineConfig]:
        if not v:
            raise ValueError("at least one pipeline is required")
        return v
