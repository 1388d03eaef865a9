"""The `text` pipeline kind: text sources in, an SLM bundle on onnxruntime-genai, compact results out.

It builds its own model side (`stages`, the runner's hook for kinds that do not run an ONNX Runtime
session): the engine per bundle, the task from the `postprocess: {kind: text}` block (or the bundle's
PromptSpec), voting members from `ensemble:`, and a TextSession / TextResult pair the runner drives
like any other (edge_agent.text.session). Frames carry the input's UTF-8 bytes; the preprocess passes
them through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from edge_agent.accounting.config import AccountingConfig
from edge_agent.ensemble.config import CascadeConfig, EnsembleConfig
from edge_agent.errors import ModelError
from edge_agent.gating.config import MotionGateConfig
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.stopper import RunStopper
from edge_agent.publish.config import PublishConfig
from edge_agent.sources.mqtt_input import OwnTopics, Subscribe
from edge_agent.stages.protocols import Counters, Gating, Source, Stages, Tensor
from edge_agent.stages.types import JSON, Letterbox
from edge_agent.text.config import TextPost
from edge_agent.text.engine import TextEngine
from edge_agent.text.escalate import EscalationPolicy, EscalationSetupError, LocalClassifier, build_policy
from edge_agent.text.escalate_config import BundleTarget
from edge_agent.text.inputs.factory import text_source
from edge_agent.text.inputs.file import TextFileSource
from edge_agent.text.session import INPUT_NAME, TextCounters, TextResult, TextSession, escalating
from edge_agent.text.source_config import TextSourceConfig
from edge_agent.text.tasks import Classify, Task, build_task, open_classifier
from edge_agent.text.voting import TextVote, Voter


class TextPipeline(Protocol):
    """What this kind reads of edge_agent.config.models.PipelineConfig (not imported: config imports
    this package's config modules, docs/architecture.md "How to add a pipeline kind")."""

    @property
    def model(self) -> ModelConfig: ...
    @property
    def postprocess(self) -> Any: ...
    @property
    def ensemble(self) -> EnsembleConfig | None: ...
    @property
    def cascade(self) -> CascadeConfig | None: ...
    @property
    def accounting(self) -> AccountingConfig | None: ...
    @property
    def publish(self) -> PublishConfig: ...


@dataclass(frozen=True, slots=True)
class TextModel:
    """What status reports about a text pipeline's model."""

    model_id: str
    providers: list[str] = field(default_factory=lambda: ["CPUExecutionProvider"])


def _passthrough(data: Tensor, /) -> tuple[Tensor, Letterbox | None]:
    return data, None


def _engine(cfg: Any, stopper: RunStopper) -> TextEngine:
    engine = TextEngine.open(cfg)
    engine.cancelled = lambda: stopper.stopped  # a stop ends a generation between two tokens
    return engine


def _task(name: str, cfg: TextPipeline, post: TextPost, stopper: RunStopper) -> tuple[Task, str]:
    if cfg.cascade is not None:
        raise ModelError(f"pipelines.{name}.cascade: a text pipeline escalates with postprocess.escalate")
    engine = _engine(cfg.model, stopper)
    model_id = cfg.model.id or engine.model_id
    task = build_task(post, engine, f"pipelines.{name}.postprocess")
    if cfg.ensemble is None:
        return task, model_id
    if not isinstance(task, Classify):
        raise ModelError(f"pipelines.{name}.ensemble: members vote on a label: task must be classify")
    ens = cfg.ensemble
    voters = [Voter(task, ens.weight, model_id)]
    for i, member in enumerate(ens.members):
        m_engine = _engine(member.model, stopper)
        m_task = build_task(post, m_engine, f"pipelines.{name}.ensemble.members.{i}", member.prompt)
        assert isinstance(m_task, Classify)
        voters.append(Voter(m_task, member.weight, f"{member.model.id or m_engine.model_id}#{i + 1}"))
    return TextVote(voters, ens.voting), model_id


def _source_counters(source: Any) -> JSON:
    counters: JSON = source.counters()  # every text input has them (edge_agent.text.inputs)
    return counters


def _interrupt(source: Any) -> None:
    if not isinstance(source, TextFileSource):
        source.close()  # thread-safe: a read() blocked on the backlog returns None (files never block)


def _escalation(name: str, post: TextPost, task: Task, stopper: RunStopper) -> EscalationPolicy | None:
    """The pipeline's `escalate:` policy (off unless configured), asked as its own model was asked."""
    if post.escalate is None:
        return None
    first = task.voters[0].task if isinstance(task, TextVote) else task
    if not isinstance(first, Classify):
        raise ModelError(f"pipelines.{name}.postprocess.escalate: escalation is for task classify")
    spec = first.engine.prompt_spec
    labels = list(first.labels)

    def open_bundle(target: BundleTarget) -> LocalClassifier:
        model = ModelConfig(path=target.bundle)
        return open_classifier(model, labels, target.timeout_s, lambda: stopper.stopped)

    try:
        return build_policy(
            post.escalate,
            labels,
            label_field=spec.label_field if spec else None,
            system=first.prompt.system,
            template=first.prompt.template,
            open_bundle=open_bundle,
        )
    except EscalationSetupError as exc:
        raise ModelError(f"pipelines.{name}.postprocess.escalate: {exc}") from exc


def build_text_stages(
    name: str, cfg: TextPipeline, profile: HardwareProfile | None, stopper: RunStopper
) -> Stages:
    """Open the bundle(s) and build the text pipeline's stages; ModelError names what does not fit."""
    post = cfg.postprocess if cfg.postprocess is not None else TextPost()
    if not isinstance(post, TextPost):
        raise ModelError(f"pipelines.{name}.postprocess: a text source needs kind text, got {post.kind}")
    task, model_id = _task(name, cfg, post, stopper)
    counters = TextCounters()
    watts = None
    if cfg.accounting is not None and cfg.accounting.enabled:
        watts = cfg.accounting.watts_per_busy_core or (profile.watts_per_busy_core if profile else 2.0)
    stage_counters: dict[str, Counters] = {"text": counters}
    if isinstance(task, TextVote):
        stage_counters["combination"] = task.stats
    policy = _escalation(name, post, task, stopper)
    session = TextSession(task, counters, escalating(policy.apply) if policy is not None else None)
    if policy is not None:
        stage_counters["escalations"] = policy.stats
    return Stages(
        model=TextModel(model_id),
        input_name=INPUT_NAME,
        preprocess=_passthrough,
        session=session,
        frame_session=session,
        postprocess=TextResult(include_input=cfg.publish.include_input, watts=watts),
        counters=stage_counters,
        source_counters=_source_counters,
        interrupt=_interrupt,
    )


class Text:
    """PipelineKind for text sources (text_mqtt, text_file, log_follow, journald, events)."""

    def source(
        self,
        cfg: TextSourceConfig,
        name: str,
        subscribe: Subscribe | None = None,
        *,
        own: OwnTopics | None = None,
    ) -> Source:
        prefix, device = own if own is not None else ("edge", None)
        return text_source(cfg, name, subscribe, prefix=prefix, device=device)

    def gate(self, cfg: TextSourceConfig, gate: MotionGateConfig | None) -> Gating | None:
        return None

    def stages(
        self, name: str, cfg: TextPipeline, profile: HardwareProfile | None, stopper: RunStopper
    ) -> Stages:
        return build_text_stages(name, cfg, profile, stopper)
