"""The model side of the kinds that run one ONNX Runtime session (vision, audio, sensor): open the model,
pick the pre/post settings (the config's, else the bundle manifest's), and wrap the session in a
stream, ensemble or cascade. A kind gets it by inheriting `OnnxStages`; it supplies only `preprocess`
and `rate` (`OnnxInput`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from edge_agent.bundle.settings import PreprocessConfig, VadPost
from edge_agent.config.models import PipelineConfig
from edge_agent.ensemble.session import build_combination
from edge_agent.errors import ModelError
from edge_agent.events.logic import build_events
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.inference.session import open_model
from edge_agent.inference.stopper import RunStopper
from edge_agent.inference.streaming import vad_session
from edge_agent.postprocess import build_postprocessor
from edge_agent.postprocess.anomaly import Anomaly
from edge_agent.stages.protocols import Counters, Preprocess, Session, Stages


class OnnxInput(Protocol):
    """What the shared assembly asks of a kind: how its frames become the model's input."""

    def preprocess(
        self, cfg: Any, pre: PreprocessConfig, input_shape: Sequence[int | str | None], input_type: str
    ) -> Preprocess:
        """Frame data → the model's input tensor (`cfg`: the kind's `source:` block; `pre`: the
        config's or the bundle's settings)."""
        ...

    def rate(self, cfg: Any) -> int:
        """Samples per second, for a model that takes the rate as an input (vad)."""
        ...


class OnnxStages:
    """Mixin of a PipelineKind (edge_agent.pipeline.kinds) whose model side is `build_stages`."""

    def stages(
        self: OnnxInput, name: str, cfg: PipelineConfig, profile: HardwareProfile | None, stopper: RunStopper
    ) -> Stages:
        return build_stages(name, cfg, self, profile, stopper)


def build_stages(
    name: str,
    cfg: PipelineConfig,
    kind: OnnxInput,
    profile: HardwareProfile | None,
    stopper: RunStopper,
) -> Stages:
    """Open the model and build the stages between the source and the sink; raise a clear error if they
    do not fit. Every session.run of the pipeline (model, stream, members) goes through `stopper`."""
    model = open_model(cfg.model, profile)
    manifest = model.bundle.manifest if model.bundle else None
    pre_cfg = cfg.preprocess or (manifest.preprocess if manifest else None) or PreprocessConfig()
    post_cfg = cfg.postprocess or (manifest.postprocess if manifest else None)
    if post_cfg is None:
        raise ModelError(
            f"pipelines.{name}.postprocess: required for a plain .onnx model (no bundle manifest)"
        )
    inp = model.input
    pre = kind.preprocess(cfg.source, pre_cfg, list(inp.shape), inp.type)
    base: Path | None = model.bundle.root if model.bundle else cfg.model.path.parent
    outputs = [o.name for o in model.session.get_outputs()]
    post = build_postprocessor(post_cfg, base, output_names=outputs)
    model.stopper = stopper
    session: Session = model
    if isinstance(post_cfg, VadPost):  # recurrent: the state outputs feed the next call
        session = vad_session(model.session, post_cfg, kind.rate(cfg.source), stopper)
    counters: dict[str, Counters] = {}
    combination = build_combination(
        model.run, model.model_id, cfg.ensemble, cfg.cascade, profile, stopper=stopper
    )
    if combination is not None:
        session = combination
        counters["combination"] = combination.stats
    events = build_events(cfg.events, post_cfg)
    if events is not None:
        counters["event_counts"] = events.stats
    # Anomaly by reconstruction compares the outputs with the model input.
    compare = post if isinstance(post, Anomaly) and post.needs_input else None
    return Stages(
        model=model,
        input_name=inp.name,
        preprocess=pre,
        session=session,
        postprocess=post,
        compare=compare,
        events=events,
        flush=events.flush if events is not None else None,
        counters=counters,
        # A plain session holds no state between runs; a vad stream and an ensemble/cascade do.
        parallel=session is model,
    )
