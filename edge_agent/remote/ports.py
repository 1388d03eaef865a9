"""What the device's fleet features may use of the agent: one small Protocol per need.

The fleet features (commands, model updates, Home Assistant, /metrics, stats) never see the Agent.
The agent hands them these views when it builds them (edge_agent/agent.py, `Agent.start`), so each
feature can be built and tested against anything that has the few methods it needs:

- `PipelineHost`: the config the agent runs and its pipelines' lifecycle (commands, updates);
- `PipelineFigures`: read-only figures of the pipelines and the outbox (stats, metrics, HA);
- `Link`: the agent's one MQTT connection (publish, subscribe, on every connect).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from edge_agent.config.models import AgentConfig, PipelineConfig


@dataclass(slots=True)
class PipelineCounters:
    """One pipeline's counters, as the /metrics sampler reads them."""

    inferred: int
    skipped: int
    failures: int
    latencies_ms: Sequence[float]  # newest last


class PipelineHost(Protocol):
    """The agent's config and its pipelines' lifecycle, as commands and model updates change them.

    Methods raise EdgeAgentError when a pipeline cannot start (bad model, source not there).
    """

    @property
    def config(self) -> AgentConfig:
        """The config the agent runs now (a remote update's installed bundle already in its pipelines)."""
        ...

    def status(self) -> dict[str, Any]:
        """The retained status content: state, version, mqtt, outbox, pipelines."""
        ...

    def pipeline_state(self, name: str) -> str | None:
        """"running", "loading", "stopped", "failed", "finished", or None for a pipeline never built."""
        ...

    def run_pipeline(self, name: str, pcfg: PipelineConfig) -> None:
        """Record `pcfg` as the config of `name`, stop what runs as `name` and start a new pipeline on it."""
        ...

    def stop_pipeline(self, name: str) -> None:
        """Stop `name` if it runs or loads (it stays known, with its config)."""
        ...

    def remove_pipeline(self, name: str) -> None:
        """Stop `name` and forget the pipeline (the caller drops it from the config)."""
        ...

    def replace_config(self, cfg: AgentConfig) -> None:
        """Run on `cfg` from now on; the caller restarts what changed (device and mqtt stay as they are)."""
        ...

    def last_frame(self, name: str) -> Any:
        """The newest frame of `name` (kept only with publish.include_frame), or None."""
        ...


class PipelineFigures(Protocol):
    """Read-only figures for stats, /metrics and Home Assistant discovery."""

    def snapshots(self) -> dict[str, dict[str, Any]]:
        """Each pipeline's snapshot (counters, latency percentiles, source state...)."""
        ...

    def counters(self) -> dict[str, PipelineCounters]:
        """Each pipeline's raw counters and latency ring buffer."""
        ...

    def model_task(self, name: str) -> str | None:
        """The bundle manifest's task (classification, detection, anomaly, vad...) when the model has one."""
        ...

    def outbox_depth(self) -> int:
        """Messages waiting in the outbox."""
        ...


class Link(Protocol):
    """The agent's one MQTT connection (edge_agent.publish.mqtt.MqttPublisher is one)."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Hand a message over; its mid, or None when it could not be taken."""
        ...

    def subscribe(
        self, topic: str, fn: Callable[[mqtt.MQTTMessage], None], *, retained: bool = True
    ) -> None:
        """Subscribe now and after every reconnect."""
        ...

    def on_connected(self, fn: Callable[[], None]) -> None:
        """Run `fn` on every (re)connection."""
        ...

