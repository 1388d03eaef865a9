"""The audio and sensor kinds: chunks and windows reshaped to the model's input, no gate."""

from __future__ import annotations

from collections.abc import Sequence

from edge_agent.bundle.settings import PreprocessConfig
from edge_agent.features.tensor import SignalPreprocessor
from edge_agent.gating.config import MotionGateConfig
from edge_agent.pipeline.assemble import OnnxStages
from edge_agent.sources.audio import open_audio_source
from edge_agent.sources.mqtt_input import OwnTopics, Subscribe
from edge_agent.sources.sensor_config import SensorSourceConfig
from edge_agent.sources.sensors import SensorSource
from edge_agent.sources.signal_config import AudioSourceConfig
from edge_agent.stages.protocols import Gating, Preprocess, Source


class _Signal(OnnxStages):
    """What audio and sensor pipelines share: reshape only (no resize, no normalisation), no gate
    (the config refuses `gate:` on a non-video source)."""

    def preprocess(
        self, cfg: object, pre: PreprocessConfig, input_shape: Sequence[int | str | None], input_type: str
    ) -> Preprocess:
        return SignalPreprocessor(list(input_shape), input_type)

    def gate(self, cfg: object, gate: MotionGateConfig | None) -> Gating | None:
        return None


class Audio(_Signal):
    """PipelineKind for an audio `source:` block (audio_file, alsa)."""

    def source(
        self,
        cfg: AudioSourceConfig,
        name: str,
        subscribe: Subscribe | None = None,
        *,
        own: OwnTopics | None = None,
    ) -> Source:
        return open_audio_source(cfg, name)

    def rate(self, cfg: AudioSourceConfig) -> int:
        return cfg.rate


class Sensor(_Signal):
    """PipelineKind for a sensor `source:` block (csv, jsonl, serial, iio, mqtt)."""

    def source(
        self,
        cfg: SensorSourceConfig,
        name: str,
        subscribe: Subscribe | None = None,
        *,
        own: OwnTopics | None = None,
    ) -> Source:
        return SensorSource(cfg, name, subscribe)

    def rate(self, cfg: SensorSourceConfig) -> int:
        return 16000  # no audio: what a vad model would get by default
