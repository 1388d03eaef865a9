"""Pipeline kinds: what builds a pipeline's stages, chosen by its `source.kind`.

A kind turns its own `source:` block into a Source and, where it has one, a Gate, and builds the
model side: `stages(...)` returns the `Stages` between the source and the sink (edge_agent.stages).
The kinds that run one ONNX Runtime session (vision, audio, sensor) inherit `OnnxStages`
(edge_agent.pipeline.assemble): their `stages` is the shared assembly, which asks the kind only for
its `preprocess` and `rate`. A kind with another model side (a text kind's onnxruntime-genai
generator) implements `stages` itself.

Which kinds exist is the registry's business (edge_agent.config.kinds: one line per kind, naming
its implementation as "module:attribute"); `kind_of(cfg)` imports that implementation the first
time a pipeline of the kind starts, so a device never loads the kinds it does not run. The runner
knows nothing else about kinds. docs/architecture.md, "How to add a pipeline kind".
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Protocol, TypeVar, cast

from edge_agent.config.kinds import kind_for
from edge_agent.config.models import PipelineConfig
from edge_agent.gating.config import MotionGateConfig
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.inference.stopper import RunStopper
from edge_agent.sources.mqtt_input import OwnTopics, Subscribe
from edge_agent.stages.protocols import Gating, Source, Stages

C_contra = TypeVar("C_contra", contravariant=True)


class PipelineKind(Protocol[C_contra]):
    """Builds a pipeline's stages; `C_contra` is the kind's own `source:` config."""

    def source(
        self, cfg: C_contra, name: str, subscribe: Subscribe | None = None, *, own: OwnTopics | None = None
    ) -> Source:
        """The source, not yet opened (the capture thread opens it and retries); `subscribe` is the
        agent's MQTT connection, for inputs that arrive over it; `own` names the device's own topics
        (prefix, device id), for inputs that read what this device publishes (a text kind's events)."""
        ...

    def gate(self, cfg: C_contra, gate: MotionGateConfig | None) -> Gating | None:
        """The gate deciding which frames reach the model; None: every frame does."""
        ...

    def stages(
        self, name: str, cfg: PipelineConfig, profile: HardwareProfile | None, stopper: RunStopper
    ) -> Stages:
        """Open the model and build the stages between the source and the sink; raise a clear error
        (naming `pipelines.<name>...`) when they do not fit. Every model run goes through `stopper`."""
        ...


_LOADED: dict[str, PipelineKind[Any]] = {}
_LOCK = threading.Lock()  # pipelines may be (re)started from the command thread too


def load_kind(factory: str) -> PipelineKind[Any]:
    """The implementation at "module:attribute", imported once; a class is instantiated once."""
    with _LOCK:
        found = _LOADED.get(factory)
        if found is None:
            module, _, attr = factory.partition(":")
            obj = getattr(importlib.import_module(module), attr)
            found = _LOADED[factory] = cast(PipelineKind[Any], obj() if isinstance(obj, type) else obj)
        return found


def kind_of(cfg: PipelineConfig) -> PipelineKind[Any]:
    """The kind that builds this pipeline (every `source.kind` the config accepts is registered)."""
    return load_kind(kind_for(cfg.source.kind).factory)
