"""The vision kind: video files, image folders, cameras and streams; letterboxed image tensors; the
motion gate."""

from __future__ import annotations

from collections.abc import Sequence

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import PreprocessConfig
from edge_agent.gating.config import MotionGateConfig
from edge_agent.gating.motion import build_gate
from edge_agent.pipeline.assemble import OnnxStages
from edge_agent.sources.mqtt_input import OwnTopics, Subscribe
from edge_agent.sources.video import open_source
from edge_agent.sources.video_config import SourceConfig
from edge_agent.stages.protocols import Gating, Preprocess, Source


class Vision(OnnxStages):
    """PipelineKind for a video `source:` block (video, folder, camera, stream)."""

    def source(
        self,
        cfg: SourceConfig,
        name: str,
        subscribe: Subscribe | None = None,
        *,
        own: OwnTopics | None = None,
    ) -> Source:
        return open_source(cfg, name)

    def preprocess(
        self,
        cfg: SourceConfig,
        pre: PreprocessConfig,
        input_shape: Sequence[int | str | None],
        input_type: str,
    ) -> Preprocess:
        return Preprocessor(pre, list(input_shape), input_type)

    def gate(self, cfg: SourceConfig, gate: MotionGateConfig | None) -> Gating | None:
        motion = build_gate(gate)
        return None if motion is None else Gating(motion, motion.stats.as_json)

    def rate(self, cfg: SourceConfig) -> int:
        return 16000  # no audio: what a vad model would get by default
