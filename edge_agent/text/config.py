"""Config of a text pipeline's model side: the `postprocess: {kind: text}` block and prompt overrides.

A text pipeline runs an SLM bundle (task "slm") on each input. Its task, label set, schema and prompt
default to what the bundle was tuned for (the manifest's PromptSpec); this block may override them
and sets the bounds every request runs under (docs/slm.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from edge_agent.bundle.settings import INPUT, PromptOverride
from edge_agent.strict import Strict
from edge_agent.text.escalate_config import EscalateConfig

__all__ = ["INPUT", "PromptOverride", "TextPost"]  # PromptOverride: the bundle owns prompt settings



class TextPost(Strict):
    """What a text pipeline does with each input, and the bounds it runs under."""

    kind: Literal["text"] = "text"
    task: Literal["classify", "extract", "generate"] = Field(
        default="classify",
        description="classify: one label of a fixed set, scored by log-probabilities (label + "
        "probability, never free text); extract: JSON constrained to `schema` by guided decoding, "
        "then validated; generate: bounded free text.",
    )
    labels: list[str] | None = Field(
        default=None, description="classify: the label set; None: the bundle's PromptSpec labels."
    )
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="extract: JSON Schema of the answer; None: the bundle's PromptSpec schema.",
    )
    prompt: PromptOverride | None = Field(default=None, description="Overrides of the bundle's prompt.")
    escalate: EscalateConfig | None = Field(
        default=None,
        description="classify: ask a larger model when unsure (off by default; only `send_fields` leave).",
    )
    max_input_tokens: int = Field(
        default=256, ge=1, le=65536, description="Longer inputs are cut to this many tokens (counted)."
    )
    max_new_tokens: int = Field(
        default=64, ge=1, le=8192, description="extract/generate: most tokens generated per input."
    )
    timeout_s: float = Field(
        default=10.0, gt=0, le=3600, description="Per input: a longer request ends with outcome `timeout`."
    )

    model_config = ConfigDict(populate_by_name=True)  # merged with Strict's

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if len(v) < 2:
            raise ValueError(f"expected at least two labels, got {v}")
        if len(set(v)) != len(v) or any(not s for s in v):
            raise ValueError(f"expected distinct, non-empty labels, got {v}")
        return v

    @model_validator(mode="after")
    def _task_fields(self) -> TextPost:
        if self.schema_ is not None and self.task != "extract":
            raise ValueError(f"schema: only the extract task uses a schema, task is {self.task}")
        if self.labels is not None and self.task != "classify":
            raise ValueError(f"labels: only the classify task uses labels, task is {self.task}")
        if self.schema_ is not None:
            from edge_agent.text.schema import schema_problem

            problem = schema_problem(self.schema_)
            if problem is not None:
                raise ValueError(f"schema: {problem}")
        return self
