"""The three text tasks, each bound to its engine, prompt and bounds: a callable `text -> Reply`.

What a task needs is resolved once, when the pipeline is built: the config's value, else what the
bundle was tuned for (its PromptSpec), else a clear ModelError naming the key. A task whose bounds
cannot fit the model's `max_length` is refused then too, not on the first input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from edge_agent.errors import ModelError
from edge_agent.inference.config import ModelConfig
from edge_agent.text.config import PromptOverride, TextPost
from edge_agent.text.engine import Prompt, Reply, TextEngine
from edge_agent.text.schema import schema_problem


class Task(Protocol):
    """One input's text → the engine's reply."""

    task: str

    def __call__(self, text: str) -> Reply: ...


@dataclass(slots=True)
class Classify:
    engine: TextEngine
    prompt: Prompt
    labels: list[str]
    post: TextPost
    task: str = "classify"

    def __call__(self, text: str) -> Reply:
        p = self.post
        return self.engine.classify(
            text, self.labels, self.prompt, max_input_tokens=p.max_input_tokens, timeout_s=p.timeout_s
        )


@dataclass(slots=True)
class Extract:
    engine: TextEngine
    prompt: Prompt
    schema: dict[str, Any]
    post: TextPost
    task: str = "extract"

    def __call__(self, text: str) -> Reply:
        p = self.post
        return self.engine.extract(
            text,
            self.schema,
            self.prompt,
            max_input_tokens=p.max_input_tokens,
            max_new_tokens=p.max_new_tokens,
            timeout_s=p.timeout_s,
        )


@dataclass(slots=True)
class Generate:
    engine: TextEngine
    prompt: Prompt
    post: TextPost
    task: str = "generate"

    def __call__(self, text: str) -> Reply:
        p = self.post
        return self.engine.generate(
            text,
            self.prompt,
            max_input_tokens=p.max_input_tokens,
            max_new_tokens=p.max_new_tokens,
            timeout_s=p.timeout_s,
        )


def labels_of(post: TextPost, engine: TextEngine, where: str) -> list[str]:
    """classify's label set: the config's, else the bundle's PromptSpec labels."""
    spec = engine.prompt_spec
    labels = post.labels or (spec.labels if spec else [])
    if len(labels) < 2:
        raise ModelError(
            f"{where}.labels: classify needs two or more labels and bundle {engine.model_id} was tuned on "
            f"none: give postprocess.labels"
        )
    return list(labels)


def build_task(post: TextPost, engine: TextEngine, where: str, over: PromptOverride | None = None) -> Task:
    """The task `post` asks for on `engine`; `over` (a voting member's prompt) wins over post.prompt."""
    prompt = Prompt.of(engine.prompt_spec, over or post.prompt)
    task: Task
    if post.task == "classify":
        labels = labels_of(post, engine, where)
        engine.input_budget(prompt, engine.label_reserve(labels, prompt), post.max_input_tokens)
        task = Classify(engine, prompt, labels, post)
    elif post.task == "extract":
        spec = engine.prompt_spec
        schema = post.schema_ if post.schema_ is not None else (spec.schema_ if spec else None)
        if schema is None:
            raise ModelError(
                f"{where}.schema: extract needs a JSON Schema and bundle {engine.model_id} has none"
            )
        problem = schema_problem(schema)
        if problem is not None:
            raise ModelError(f"{where}.schema (bundle {engine.model_id}): {problem}")
        engine.input_budget(prompt, post.max_new_tokens, post.max_input_tokens)
        task = Extract(engine, prompt, schema, post)
    else:
        engine.input_budget(prompt, post.max_new_tokens, post.max_input_tokens)
        task = Generate(engine, prompt, post)
    return task


class LocalClassifier:
    """A classify task as escalation's local target (edge_agent.text.escalate.LocalClassifier):
    `classify(text) -> (label, prob)`, TimeoutError when the request timed out."""

    def __init__(self, task: Classify) -> None:
        self.task = task

    def classify(self, text: str) -> tuple[str, float]:
        r = self.task(text)
        if r.outcome == "timeout":
            raise TimeoutError(r.detail)
        if r.outcome != "ok" or r.label is None or r.prob is None:
            raise ModelError(f"{self.task.engine.model_id}: classify {r.outcome}: {r.detail}")
        return r.label, r.prob


def open_classifier(
    model: ModelConfig, labels: list[str], timeout_s: float, cancelled: Callable[[], bool] | None = None
) -> LocalClassifier:
    """A larger local bundle to escalate to, asked the way it was tuned, over the pipeline's labels."""
    engine = TextEngine.open(model)
    engine.cancelled = cancelled
    post = TextPost(labels=labels, timeout_s=timeout_s)
    task = build_task(post, engine, "escalate.to.bundle")
    assert isinstance(task, Classify)
    return LocalClassifier(task)
