"""Config models for ensembles and cascades of classifiers (`ensemble:` / `cascade:` in a pipeline).

The pipeline's own `model:` is always the first member (an ensemble) or the small model (a cascade),
and its preprocessing feeds every member: all members take the same input tensor.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_agent.bundle.settings import PromptOverride
from edge_agent.inference.config import ModelConfig
from edge_agent.strict import Strict


class MemberConfig(Strict):
    """One more classifier beside the pipeline's model."""

    model: ModelConfig = Field(description="The member's model, as in a pipeline's `model:`.")
    weight: float = Field(default=1.0, gt=0, description="Vote weight (weighted and mean_prob voting).")
    output: int | None = Field(
        default=None,
        description="Output index holding class probabilities or logits; None: the first 2-D float output.",
    )
    prompt: PromptOverride | None = Field(
        default=None,
        description="Text pipelines: ask this member (an SLM bundle, maybe the pipeline's own) this way.",
    )


class EnsembleConfig(Strict):
    """The pipeline's model and more classifiers on the same input; one answer by voting."""

    members: list[MemberConfig] = Field(min_length=1, description="Classifiers besides `model:`.")
    weight: float = Field(default=1.0, gt=0, description="Vote weight of the pipeline's own model.")
    output: int | None = Field(default=None, description="Probability output index of the pipeline's model.")
    voting: Literal["majority", "weighted", "mean_prob"] = Field(
        default="mean_prob",
        description="majority: one vote per member (ties: higher mean probability); weighted: votes "
        "count their member's weight; mean_prob: weighted mean of probabilities, then argmax.",
    )


class CascadeConfig(Strict):
    """The pipeline's model is the small one; `large` runs only when its confidence is in `band`."""

    large: MemberConfig = Field(description="The costly model, run only on uncertain inputs.")
    output: int | None = Field(default=None, description="Probability output index of the small model.")
    band: tuple[float, float] = Field(
        default=(0.0, 0.9),
        description="[low, high): the large model runs when the small model's top probability is in it.",
    )

    @model_validator(mode="after")
    def _band(self) -> CascadeConfig:
        lo, hi = self.band
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"band: expected 0 <= low < high <= 1, got {list(self.band)}")
        return self
