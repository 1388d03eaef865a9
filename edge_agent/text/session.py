"""A text pipeline's Session and Postprocess: the frame's UTF-8 bytes → the task → the compact result.

The runner hands the session the frame's bytes (the text kind's preprocess passes them through) and
its meta (`run_frame`: the input's id and other fields); the session decodes the text, runs the task,
lets the escalation hook see the answer, and returns the Reply as the one output (an object array: a
text task's answer is a label, an object or a string, not a tensor). The postprocess turns that Reply
into the result JSON. The session counts into one `TextCounters`, published in stats under `text`.

A result never carries the input text unless the pipeline opts in (`publish.include_input`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edge_agent.stages.protocols import Feeds, Tensor
from edge_agent.stages.types import JSON, Letterbox
from edge_agent.text.engine import Reply
from edge_agent.text.tasks import Task

INPUT_NAME = "text"
# (the local reply, the input's text, its other fields) -> the reply to publish. Escalation
# (edge_agent/text/escalate.py) plugs in here; it alone decides which fields may leave the device.
Escalate = Callable[[Reply, str, dict[str, Any]], Reply]


class EscalationOutcome(Protocol):
    """What an escalation policy answers (edge_agent.text.escalate.Outcome)."""

    label: str
    prob: float | None
    escalation: dict[str, Any] | None


def escalating(apply: Callable[[str, float, str, Mapping[str, Any]], EscalationOutcome]) -> Escalate:
    """An escalation policy's `apply(label, prob, text, fields)` as the session's hook: a classify
    answer gets the label, probability and `escalation` record the policy decides on."""

    def hook(reply: Reply, text: str, fields: dict[str, Any]) -> Reply:
        if reply.task != "classify" or reply.label is None or reply.prob is None:
            return reply
        out = apply(reply.label, reply.prob, text, fields)
        reply.label, reply.prob, reply.escalation = out.label, out.prob, out.escalation
        return reply

    return hook


OUTCOMES = ("ok", "timeout", "invalid", "bad_input", "error")


@dataclass(slots=True)
class TextCounters:
    """Requests by outcome, truncations and tokens, for the stats message (thread-safe)."""

    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    truncated: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, r: Reply) -> None:
        with self._lock:
            self.requests += 1
            self.outcomes[r.outcome] = self.outcomes.get(r.outcome, 0) + 1
            self.truncated += int(r.truncated)
            self.tokens_in += r.tokens_in
            self.tokens_out += r.tokens_out

    def __call__(self) -> JSON:
        with self._lock:
            return {
                "requests": self.requests,
                "outcomes": dict(self.outcomes),
                "truncated": self.truncated,
                "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out,
            }


def _bad_input(task: str, detail: str) -> Reply:
    return Reply(task, outcome="bad_input", detail=detail)


def _text_of(data: Tensor, task: str) -> str | Reply:
    """The input's text, or a `bad_input` Reply saying why there is none."""
    raw = bytes(np.asarray(data, dtype=np.uint8).reshape(-1))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _bad_input(task, f"not UTF-8 at byte {exc.start}")
    if "\x00" in text:
        return _bad_input(task, "contains a NUL character")
    if not text.strip():
        return _bad_input(task, "empty input")
    return text


def _as_output(reply: Reply, text: str | None, meta: dict[str, Any]) -> list[Tensor]:
    out = np.empty(1, dtype=object)
    out[0] = (reply, text, meta)
    return [out]


class TextSession:
    """Runs the pipeline's task on each input (`feeds["text"]`: the UTF-8 bytes)."""

    def __init__(self, task: Task, counters: TextCounters, escalate: Escalate | None = None) -> None:
        self.task = task
        self.counters = counters
        self.escalate = escalate

    def run(self, feeds: Feeds) -> list[Tensor]:
        return self.run_frame(feeds, {})

    def run_frame(self, feeds: Feeds, meta: dict[str, Any]) -> list[Tensor]:
        got = _text_of(feeds[INPUT_NAME], self.task.task)
        if isinstance(got, Reply):
            self.counters.count(got)
            return _as_output(got, None, meta)
        reply = self.task(got)
        if self.escalate is not None and reply.outcome == "ok":
            reply = self.escalate(reply, got, dict(meta.get("fields") or {}))
        self.counters.count(reply)
        return _as_output(reply, got, meta)


@dataclass(slots=True)
class TextResult:
    """The compact result of one input: the answer (label + probability | object | text), the costs,
    and the outcome; `watts` (accounting on) adds the energy estimate of the CPU it used."""

    include_input: bool = False
    watts: float | None = None

    def __call__(self, outputs: list[Tensor], lb: Letterbox | None) -> JSON:
        reply, text, meta = outputs[0][0]
        assert isinstance(reply, Reply)
        body: dict[str, Any] = {"task": reply.task, "outcome": reply.outcome}
        if meta.get("input"):  # which input it answers (topic, file:line, unit): an id, not its text
            body["input_id"] = meta["input"]
        if reply.outcome == "ok":
            if reply.task == "classify":
                # prob is None only for an escalated label whose model reported no probability
                body["label"] = reply.label
                body["prob"] = None if reply.prob is None else round(reply.prob, 4)
            elif reply.task == "extract":
                body["object"] = reply.obj
            else:
                body["text"] = reply.text
        elif reply.detail:
            body["detail"] = reply.detail
        if reply.escalation is not None:
            body["escalation"] = reply.escalation
        body.update(
            tokens_in=reply.tokens_in,
            tokens_out=reply.tokens_out,
            ms=round(reply.ms, 1),
            tokens_per_s=round(reply.tokens_per_s, 1),
            truncated=reply.truncated,
        )
        if self.watts is not None:
            body["cpu_s"] = round(reply.cpu_s, 4)
            body["energy_j_estimate"] = round(reply.cpu_s * self.watts, 4)
        if self.include_input and text is not None:
            body["input"] = text
        return body
