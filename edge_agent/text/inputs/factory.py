"""The Source for a text pipeline's `source:` block (edge_agent.text.source_config)."""

from __future__ import annotations

from edge_agent.text.inputs.events import EventsSource
from edge_agent.text.inputs.file import TextFileSource
from edge_agent.text.inputs.follow import LogFollowSource
from edge_agent.text.inputs.journald import JournaldSource
from edge_agent.text.inputs.mqtt import Subscribe, TextMqttSource
from edge_agent.text.source_config import (
    EventsConfig,
    JournaldConfig,
    LogFollowConfig,
    TextFileConfig,
    TextMqttConfig,
    TextSourceConfig,
)

TextSource = TextMqttSource | TextFileSource | LogFollowSource | JournaldSource | EventsSource


def text_source(
    cfg: TextSourceConfig,
    name: str = "",
    subscribe: Subscribe | None = None,
    *,
    prefix: str = "edge",
    device: str | None = None,
) -> TextSource:
    """The source, not yet opened (the capture thread opens it and retries).

    `subscribe` is the agent's MQTT connection (text_mqtt, events); `prefix` and `device` (mqtt.prefix
    and the device id) name the events topics. Each source has `counters()` for the stats message.
    """
    if isinstance(cfg, TextMqttConfig):
        return TextMqttSource(cfg, name, subscribe)
    if isinstance(cfg, TextFileConfig):
        return TextFileSource(cfg, name)
    if isinstance(cfg, LogFollowConfig):
        return LogFollowSource(cfg, name)
    if isinstance(cfg, JournaldConfig):
        return JournaldSource(cfg, name)
    if isinstance(cfg, EventsConfig):
        return EventsSource(cfg, name, subscribe, prefix=prefix, device=device)
    raise TypeError(f"text_source: expected a text source config, got {type(cfg).__name__}")
