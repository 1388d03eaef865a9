"""The whole config file, composed from the blocks each domain owns (`<domain>/config.py`, the bundle's
pre/post settings, the pipeline kinds' source blocks registered in edge_agent.config.kinds), plus the
blocks that are the agent's own: device, pipeline and the file itself.

Everything a user can write in the YAML file is declared with a description; the JSON Schema in
docs/config.schema.json is generated from these classes (`edge-agent config schema`).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.accounting.config import AccountingConfig
from edge_agent.bundle.settings import PostprocessConfig, PreprocessConfig
from edge_agent.config.kinds import SourceBlock, kind_task_problem, source_union, task_union
from edge_agent.ensemble.config import CascadeConfig, EnsembleConfig
from edge_agent.events.config import EventsConfig
from edge_agent.gating.config import MotionGateConfig
from edge_agent.inference.config import ModelConfig
from edge_agent.outbox.config import OutboxConfig
from edge_agent.publish.config import MqttConfig, PublishConfig
from edge_agent.remote.config import FleetDeviceConfig
from edge_agent.sources.video_config import SourceConfig
from edge_agent.strict import Strict, Tagged
from edge_agent.topics import NAME_RE

if TYPE_CHECKING:
    # What code may rely on without narrowing: a `kind` (and, for a source, how it is captured). The
    # members come from the kinds registered in edge_agent.config.kinds, at run time; isinstance narrows.
    AnySource = SourceBlock
    AnyTask = PostprocessConfig | Tagged
else:
    AnySource = source_union()
    AnyTask = task_union()


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


class PipelineConfig(Strict):
    source: AnySource = Field(
        discriminator="kind",
        description="Where frames come from: video/folder/camera/stream, audio_file/alsa, or "
        "csv/jsonl/serial/iio/mqtt sensor readings (one model per kind; docs/pipelines.md).",
    )
    model: ModelConfig
    preprocess: PreprocessConfig | None = Field(
        default=None, description="Overrides the bundle manifest; required for a plain .onnx."
    )
    postprocess: AnyTask | None = Field(
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
        task_problem = kind_task_problem(self.source.kind, self.postprocess)
        if task_problem is not None:
            raise ValueError(task_problem)
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
