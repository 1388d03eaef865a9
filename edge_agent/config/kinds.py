"""The pipeline kinds, one registration line each: the config of a kind's `source:` block, where its
implementation is, and any `postprocess:` (task) blocks of its own.

    Kind(SourceConfig, "edge_agent.pipeline.vision:Vision")

- `source`: the config class (or a union of classes) of the kind's `source:` block. Each class has a
  `kind: Literal[...]` field; those values are the source kinds the kind serves, and PipelineConfig's
  `source` is the union of every registered kind's classes, told apart by `kind`.
- `factory`: "module:attribute" of the implementation, a class (instantiated once) or an instance
  satisfying edge_agent.pipeline.kinds.PipelineKind. It is imported at first use
  (edge_agent.pipeline.kinds.kind_of), so a device never loads the kinds it does not run.
- `tasks`: config classes of `postprocess:` blocks that only this kind's own model side decodes (each
  with a `kind: Literal[...]` tag); PipelineConfig's `postprocess` union gains them.

edge_agent.config.models composes from this list, so this module imports config classes only; a
kind's config module must import nothing that imports edge_agent.config back (blocks below it: the
Strict base, bundle settings, other domains' config.py). docs/architecture.md, "How to add a
pipeline kind", walks through a new one.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, Union

from pydantic import Field

from edge_agent.bundle.settings import PostprocessConfig
from edge_agent.sources.sensor_config import SensorSourceConfig
from edge_agent.sources.signal_config import AudioSourceConfig
from edge_agent.sources.video_config import SourceConfig
from edge_agent.strict import Strict
from edge_agent.text.config import TextPost
from edge_agent.text.source_config import TextSourceConfig


class SourceBlock(Protocol):
    """What the runner reads of every kind's `source:` block, whatever the kind: its tag and how the
    capture thread runs it (tests/pipeline checks that every registered class has these fields)."""

    @property
    def kind(self) -> str: ...

    @property
    def fps(self) -> float | None: ...

    @property
    def queue(self) -> int: ...

    @property
    def retry_min_s(self) -> float: ...

    @property
    def retry_max_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Kind:
    """One pipeline kind: its source config (a class or a union of them), its implementation's
    "module:attribute", and the postprocess blocks only it decodes."""

    source: Any  # a Strict subclass or a union of them: `X | Y` is a types.UnionType, not a type
    factory: str
    tasks: tuple[type[Strict], ...] = field(default=())

    @property
    def source_classes(self) -> tuple[type[Strict], ...]:
        return typing.get_args(self.source) or (self.source,)

    @property
    def source_kinds(self) -> tuple[str, ...]:
        """The `source.kind` values this kind serves, read from its classes' `kind` literals."""
        tags = (typing.get_args(c.model_fields["kind"].annotation) for c in self.source_classes)
        return tuple(k for literal in tags for k in literal)


KINDS: tuple[Kind, ...] = (
    Kind(SourceConfig, "edge_agent.pipeline.vision:Vision"),
    Kind(AudioSourceConfig, "edge_agent.pipeline.signals:Audio"),
    Kind(SensorSourceConfig, "edge_agent.pipeline.signals:Sensor"),
    Kind(TextSourceConfig, "edge_agent.text.kind:Text", tasks=(TextPost,)),
)


def kind_for(source_kind: str) -> Kind:
    """The registered kind serving `source.kind` (the config's union admits no other)."""
    for kind in KINDS:
        if source_kind in kind.source_kinds:
            return kind
    raise KeyError(source_kind)


def kind_task_problem(source_kind: str, task: Any) -> str | None:
    """Why `task` (the `postprocess:` block) cannot decode a `source_kind` pipeline, or None: a kind's own
    task blocks go only with that kind's sources, and a kind with its own tasks takes only those."""
    if task is None:
        return None
    tag: str = task.kind
    kind = kind_for(source_kind)
    others = tuple(t for k in KINDS if k is not kind for t in k.tasks)
    if others and isinstance(task, others):
        return f"postprocess: kind {tag} is not for source kind {source_kind}"
    if kind.tasks and not isinstance(task, kind.tasks):
        wanted = ", ".join(typing.get_args(t.model_fields["kind"].annotation)[0] for t in kind.tasks)
        return f"postprocess: source kind {source_kind} needs kind {wanted}, got {tag}"
    return None


def source_kinds() -> tuple[str, ...]:
    """Every `source.kind` the config accepts, in registration order."""
    return tuple(k for kind in KINDS for k in kind.source_kinds)


def source_union() -> Any:
    """PipelineConfig's `source` type: the union of every kind's source classes."""
    return Union[tuple(c for kind in KINDS for c in kind.source_classes)]  # noqa: UP007 - built at run time


def task_union() -> Any:
    """PipelineConfig's `postprocess` type: the bundle's postprocess kinds, plus the kinds' own tasks."""
    tasks = tuple(t for kind in KINDS for t in kind.tasks)
    if not tasks:
        return PostprocessConfig  # the very same type: the schema stays the bundle manifest's
    shared = typing.get_args(typing.get_args(PostprocessConfig)[0])
    return Annotated[Union[(*shared, *tasks)], Field(discriminator="kind")]
