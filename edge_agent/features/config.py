"""The feature windows' config block (`window:` of a sensor source): window size, hop, and the features
each window becomes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_agent.strict import Strict


class WindowConfig(Strict):
    """Sliding windows over readings, and what each window becomes."""

    size: int = Field(default=64, ge=2, description="Readings per window.")
    hop: int = Field(default=32, ge=1, description="Readings between window starts (hop < size overlaps).")
    features: list[Literal["mean", "std", "rms", "min", "max", "ptp", "fft"]] | None = Field(
        default=None,
        description="Features per channel, concatenated in this order; None: the raw window "
        "(size x channels) goes to the model.",
    )
    fft_bands: int = Field(
        default=4, ge=1, le=256, description="fft: magnitude spectrum summed into this many equal bands."
    )

    @model_validator(mode="after")
    def _hop(self) -> WindowConfig:
        if self.hop > self.size:
            raise ValueError(f"hop must be <= size (no gaps), got hop={self.hop} > size={self.size}")
        return self
