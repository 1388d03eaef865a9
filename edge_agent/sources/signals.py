"""Opens the source for an audio or sensor `source:` block (video kinds: edge_agent.sources.video)."""

from __future__ import annotations

from edge_agent.sources.audio import AlsaSource, AudioFileSource, open_audio_source
from edge_agent.sources.mqtt_input import Subscribe
from edge_agent.sources.sensor_config import SensorSourceConfig
from edge_agent.sources.sensors import SensorSource
from edge_agent.sources.signal_config import AudioSourceConfig


def open_signal_source(
    cfg: AudioSourceConfig | SensorSourceConfig, name: str, subscribe: Subscribe | None = None
) -> AudioFileSource | AlsaSource | SensorSource:
    """The source for a non-video pipeline; `subscribe` (the agent's MQTT connection) feeds `mqtt` inputs."""
    if isinstance(cfg, AudioSourceConfig):
        return open_audio_source(cfg, name)
    return SensorSource(cfg, name, subscribe)
