"""The stages of a pipeline, as small typed protocols: the only things the runner knows about them.

    source → gate → preprocess → session → postprocess → events → sink

A pipeline kind (edge_agent.pipeline.kinds) builds these from its config and hands them over as one
`Stages`; the runner joins them with threads and queues (docs/architecture.md). Ensembles and
cascades are a `Session` whose run votes among its members. What only some stages can do (close open
episodes at the end, report counters, compare with the model input) is an explicit field of
`Stages`, set by the kind that built them, never probed on the stage at run time.

This package is a leaf: it imports the standard library, numpy and itself, nothing else of the
project (a test checks it), so every domain package may depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy.typing as npt

from edge_agent.stages.types import JSON, Frame, Letterbox, Outbound

Tensor = npt.NDArray[Any]
Feeds = dict[str, Tensor]


class Source(Protocol):
    """A frame/sample producer. `read()` returns None at the end of a file; raises SourceError on failure."""

    name: str
    live: bool

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class Gate(Protocol):
    """Decides, cheaply, whether a frame is worth running the model on (motion gating)."""

    def __call__(self, frame: Frame) -> bool: ...


class Preprocess(Protocol):
    """A frame's data → the model's input tensor, and how an image was fitted into it (None otherwise)."""

    def __call__(self, data: Tensor, /) -> tuple[Tensor, Letterbox | None]: ...


class Session(Protocol):
    """Runs the model: feeds by input name → the outputs in model order (a plain ONNX Runtime session,
    a stateful stream, or an ensemble / cascade voting among its members)."""

    def run(self, feeds: Feeds) -> list[Tensor]: ...


class FrameSession(Protocol):
    """A session that reads the frame's meta besides its tensor (a text input's id and other fields)."""

    def run_frame(self, feeds: Feeds, meta: dict[str, Any]) -> list[Tensor]: ...


class Postprocess(Protocol):
    """Per-frame decoder: the session's outputs (in output order) and the frame's Letterbox (None for
    non-image inputs) → the task's compact JSON result."""

    def __call__(self, outputs: list[Tensor], lb: Letterbox | None) -> JSON: ...


class InputPostprocess(Protocol):
    """A decoder that also compares the outputs with the model input (anomaly by reconstruction)."""

    def __call__(self, outputs: list[Tensor], lb: Letterbox | None, model_input: Tensor | None) -> JSON: ...


class EventLogic(Protocol):
    """Turns a stream of per-frame outputs into state-change events (appeared/left, start/end)."""

    def update(self, output: JSON, ts: float) -> list[JSON]: ...


class Sink(Protocol):
    """Where a pipeline's messages go: the outbox's `put`."""

    def __call__(self, message: Outbound, /) -> None: ...


class ModelInfo(Protocol):
    """What status reports about the model behind a session."""

    @property
    def model_id(self) -> str: ...

    @property
    def providers(self) -> list[str]: ...


Flush = Callable[[float], list[JSON]]  # ts → the events that close what is still open
Counters = Callable[[], JSON]  # → counters for the stats message


@dataclass(slots=True)
class Gating:
    """A gate and its counters (the stats message's `gate`), as a pipeline kind builds them."""

    gate: Gate
    counters: Counters | None = None


@dataclass(slots=True)
class Stages:
    """The model side of one pipeline, built once its model is open.

    `compare` is set (to the postprocess itself) when the decoder needs the model input; the runner
    then calls it instead of `postprocess`. `frame_session` is set (to the session itself) when the
    model side reads the frame's meta too; the runner then calls its `run_frame` instead of `run`.
    `flush` closes open episodes when the source ends.
    `counters` are added to the pipeline's stats message under their key, in this order."""

    model: ModelInfo
    input_name: str
    preprocess: Preprocess
    session: Session
    postprocess: Postprocess
    compare: InputPostprocess | None = None
    frame_session: FrameSession | None = None
    # What the kind's own sources can do besides the Source protocol, declared by the kind that built
    # both: `source_counters` reads the source's counters (the stats message's `input`), `interrupt`
    # wakes a source blocked in read() from another thread (a live text input on stop).
    source_counters: Callable[[Any], JSON] | None = None
    interrupt: Callable[[Any], None] | None = None
    events: EventLogic | None = None
    flush: Flush | None = None
    counters: dict[str, Counters] = field(default_factory=dict)
    # True when frames may run through `session` concurrently (no state carried from one run to the
    # next, no shared member counters): the runner may then use several inference workers.
    parallel: bool = False
