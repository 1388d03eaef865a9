"""Pipeline kinds: what builds the source-side stages of a pipeline, chosen by its `source.kind`.

A kind turns its own `source:` block into a Source, a Preprocess for the model's input and, where it
has one, a Gate; the model side (session, postprocess, events) is built the same way for every kind
(edge_agent.pipeline.assemble). The runner asks `kind_of(cfg)` and knows nothing else about kinds.
A new kind is its own folder plus one `register` line below (docs/architecture.md, "How to add a
pipeline kind").

A kind may also build its own model side: a `stages(name, cfg, profile, stopper) -> Stages` method
(the text kind's genai engine is no ONNX Runtime session); without one the runner uses
edge_agent.pipeline.assemble.build_stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from edge_agent.config.models import PipelineConfig, PreprocessConfig
from edge_agent.gating.config import MotionGateConfig
from edge_agent.pipeline.signals import Audio, Sensor
from edge_agent.pipeline.vision import Vision
from edge_agent.sources.mqtt_input import Subscribe
from edge_agent.stages.protocols import Gating, Preprocess, Source
from edge_agent.text.kind import TEXT_SOURCES, Text

C_contra = TypeVar("C_contra", contravariant=True)


class PipelineKind(Protocol[C_contra]):
    """Builds the stages that differ between kinds from the kind's own `source:` config `C_contra`."""

    def source(self, cfg: C_contra, name: str, subscribe: Subscribe | None = None) -> Source:
        """The source, not yet opened (the capture thread opens it and retries); `subscribe` is the
        agent's MQTT connection, for inputs that arrive over it."""
        ...

    def preprocess(
        self, cfg: C_contra, pre: PreprocessConfig, input_shape: Sequence[int | str | None], input_type: str
    ) -> Preprocess:
        """Frame data → the model's input tensor (`pre`: the config's or the bundle's settings)."""
        ...

    def gate(self, cfg: C_contra, gate: MotionGateConfig | None) -> Gating | None:
        """The gate deciding which frames reach the model; None: every frame does."""
        ...

    def rate(self, cfg: C_contra) -> int:
        """Samples per second, for a model that takes the rate as an input (vad)."""
        ...


KINDS: dict[str, PipelineKind[Any]] = {}


def register(kind: PipelineKind[Any], *source_kinds: str) -> None:
    """Let `kind` build the pipelines whose `source.kind` is one of `source_kinds`."""
    for name in source_kinds:
        KINDS[name] = kind


register(Vision(), "video", "folder", "camera", "stream")
register(Audio(), "audio_file", "alsa")
register(Sensor(), "csv", "jsonl", "serial", "iio", "mqtt")
register(Text(), *TEXT_SOURCES)


def kind_of(cfg: PipelineConfig) -> PipelineKind[Any]:
    """The kind that builds this pipeline's source-side stages."""
    return KINDS[cfg.source.kind]  # every kind the config accepts is registered (tests/pipeline)
