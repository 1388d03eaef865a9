"""Voice activity: the `vad` postprocess kind (silero-vad).

silero-vad is recurrent: each call takes the chunk (with 64 samples of context), the state the last
call returned and the sample rate, and returns the speech probability and the next state. The state
lives in `edge_agent.inference.streaming.StreamingSession` (`state` and `rate_input` below say how),
so the pipeline calls it like any other model. Speech start/end events are a threshold with
hysteresis and minimum durations on `speech_prob` (edge_agent.events).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from edge_agent.config_base import Strict
from edge_agent.errors import ModelError
from edge_agent.events.config import ThresholdConfig
from edge_agent.stages.types import Letterbox

log = logging.getLogger(__name__)
Tensor = npt.NDArray[Any]


class VadPost(Strict):
    """Postprocess for a voice-activity model: speech probability per chunk, speech start/end events."""

    kind: Literal["vad"] = "vad"
    threshold: float = Field(default=0.5, gt=0, lt=1, description="Speech starts at this probability.")
    neg_threshold: float | None = Field(
        default=None, ge=0, lt=1, description="Speech ends below this; None: threshold - 0.15."
    )
    min_speech_s: float = Field(
        default=0.25, ge=0, description="Speech must last this long to start an event (drops clicks)."
    )
    min_silence_s: float = Field(
        default=0.25, ge=0, description="Silence must last this long to end it (keeps words together)."
    )
    state: dict[str, str] = Field(
        default_factory=lambda: {"state": "stateN"},
        description="Recurrent state: model input name → the output that feeds it on the next call.",
    )
    rate_input: str | None = Field(
        default="sr", description="Model input taking the sample rate (int64 scalar); None: none."
    )

    @model_validator(mode="after")
    def _order(self) -> VadPost:
        if self.neg_threshold is not None and self.neg_threshold > self.threshold:
            raise ValueError("neg_threshold must be <= threshold")
        return self

    def events(self) -> ThresholdConfig:
        """The speech start/end event logic this config implies."""
        off = self.threshold - 0.15 if self.neg_threshold is None else self.neg_threshold
        return ThresholdConfig(
            name="speech",
            key="speech_prob",
            on=self.threshold,
            off=max(off, 0.0),
            min_on_s=self.min_speech_s,
            min_off_s=self.min_silence_s,
        )


class Vad:
    """Postprocess: the speech probability of a chunk, and whether it is above the threshold."""

    def __init__(self, cfg: VadPost) -> None:
        self.cfg = cfg

    def __call__(self, outputs: list[Tensor], lb: Letterbox | None) -> dict[str, Any]:
        if not outputs or not isinstance(outputs[0], np.ndarray) or outputs[0].size < 1:
            raise ModelError(f"vad: expected a probability tensor, got {len(outputs)} outputs")
        p = float(outputs[0].reshape(-1)[0])
        return {"speech_prob": round(p, 4), "speech": p >= self.cfg.threshold}
