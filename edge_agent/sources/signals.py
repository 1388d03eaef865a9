"""Opens the source for an audio or sensor `source:` block (video kinds: edge_agent.sources.video)."""

from __future__ import annotations

from edge_agent.sources.audio import AlsaSource, AudioFileSource, open_audio_source
from edge_agent.sources.sensors import SensorSource
from edge_agent.sources.signal_config import AudioSourceConfig, SensorSourceConfig


def open_signal_source(
    cfg: AudioSourceConfig | SensorSourceConfig, name: str
) -> AudioFileSource | AlsaSource | SensorSource:
    """The source for a non-video pipeline."""
    if isinstance(cfg, AudioSourceConfig):
        return open_audio_source(cfg, name)
    return SensorSource(cfg, name)
