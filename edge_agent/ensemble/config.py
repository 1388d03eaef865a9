"""Config models for ensembles and cascades of classifiers (`ensemble:` / `cascade:` in a pipeline)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_agent.config.models import ModelConfig, Strict


class MemberConfig(Strict):
    """One classifier in an ensemble or cascade. All members take the same input tensor."""

    model: ModelConfig = Field(description="The member's model, as in a pipeline's `model:`.")
    weight: float = Field(default=1.0, gt=0, description="Vote weight (weighted and mean_prob voting).")
    output: int | None = Field(
        default=None,
        description="Output index holding class probabilities or logits; None: the first 2-D float output.",
    )


class EnsembleConfig(Strict):
    """N classifiers on the same input; one answer by voting."""

    members: list[MemberConfig] = Field(min_length=2, description="The classifiers, two or more.")
    voting: Literal["majority", "weighted", "mean_prob"] = Field(
        default="mean_prob",
        description="majority: one vote per member (ties: higher mean probability); weighted: votes "
        "count their member's weight; mean_prob: weighted mean of probabilities, then argmax.",
    )


class CascadeConfig(Strict):
    """A small classifier first; the large one only when the small one's confidence is in `band`."""

    small: MemberConfig = Field(description="The cheap model that sees every input.")
    large: MemberConfig = Field(description="The costly model, run only on uncertain inputs.")
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
