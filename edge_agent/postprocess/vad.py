"""Voice activity: the `vad` postprocess kind (silero-vad).

silero-vad is recurrent: each call takes the chunk (with 64 samples of context), the state the last
call returned and the sample rate, and returns the speech probability and the next state. The state
lives in `edge_agent.inference.streaming.StreamingSession` (`state` and `rate_input` below say how),
so the pipeline calls it like any other model. Speech start/end events are a threshold with
hysteresis and minimum durations on `speech_prob` (edge_agent.events).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle.settings import VadPost
from edge_agent.errors import ModelError
from edge_agent.stages.types import Letterbox

log = logging.getLogger(__name__)
Tensor = npt.NDArray[Any]


class Vad:
    """Postprocess: the speech probability of a chunk, and whether it is above the threshold."""

    def __init__(self, cfg: VadPost) -> None:
        self.cfg = cfg

    def __call__(self, outputs: list[Tensor], lb: Letterbox | None) -> dict[str, Any]:
        if not outputs or not isinstance(outputs[0], np.ndarray) or outputs[0].size < 1:
            raise ModelError(f"vad: expected a probability tensor, got {len(outputs)} outputs")
        p = float(outputs[0].reshape(-1)[0])
        return {"speech_prob": round(p, 4), "speech": p >= self.cfg.threshold}
