"""Voice activity: stateful streaming sessions (silero-vad) and the `vad` postprocess kind.

silero-vad is recurrent: each call takes the chunk (with 64 samples of context), the state the last
call returned and the sample rate, and returns the speech probability and the next state. The state
lives in `StreamingSession`, so the pipeline calls it like any other model. Speech start/end events
are a threshold with hysteresis and minimum durations on `speech_prob` (edge_agent.events).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from edge_agent.config_base import Strict
from edge_agent.errors import ModelError
from edge_agent.events.config import ThresholdConfig
from edge_agent.inference.stopper import RunStopper
from edge_agent.pipeline.types import Letterbox

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


class StreamingSession:
    """Wraps an ONNX Runtime session whose state outputs feed its own inputs on the next call.

    `run(feeds)` takes the data inputs only; state and constant inputs are added here, and the
    returned list holds the non-state outputs in model order. `reset()` starts a new stream (a file
    looped, a microphone reopened). Runs go through `stopper` (the pipeline's), so a stop cancels one
    in flight.
    """

    def __init__(
        self,
        session: Any,
        state: Mapping[str, str],
        constants: Mapping[str, Tensor],
        stopper: RunStopper | None = None,
    ) -> None:
        self.session = session
        self.stopper = stopper or RunStopper()
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        for name_in, name_out in state.items():
            if name_in not in inputs or name_out not in outputs:
                raise ModelError(
                    f"state {name_in}→{name_out}: expected an input and an output of that "
                    f"name, got inputs {sorted(inputs)}, outputs {outputs}"
                )
        self.state_map = dict(state)
        self.constants = dict(constants)
        self.out_names = [o for o in outputs if o not in self.state_map.values()]
        self._shapes = {n: [d if isinstance(d, int) else 1 for d in inputs[n].shape] for n in state}
        self.state: dict[str, Tensor] = {}
        self.reset()

    def reset(self) -> None:
        """Zero state, as at the start of a stream."""
        self.state = {n: np.zeros(shape, dtype=np.float32) for n, shape in self._shapes.items()}

    def run(self, feeds: dict[str, Tensor]) -> list[Tensor]:
        """One step: data feeds in, non-state outputs out; the state advances."""
        wanted = self.out_names + list(self.state_map.values())
        values = self.stopper.run(self.session, wanted, {**feeds, **self.constants, **self.state})
        n = len(self.out_names)
        self.state = {name_in: values[n + i] for i, name_in in enumerate(self.state_map)}
        return list(values[:n])


def vad_session(session: Any, cfg: VadPost, rate: int, stopper: RunStopper | None = None) -> StreamingSession:
    """A StreamingSession for a silero-style VAD at `rate` Hz."""
    constants = {cfg.rate_input: np.array(rate, dtype=np.int64)} if cfg.rate_input else {}
    return StreamingSession(session, cfg.state, constants, stopper)


class Vad:
    """Postprocessor: the speech probability of a chunk, and whether it is above the threshold."""

    def __init__(self, cfg: VadPost) -> None:
        self.cfg = cfg

    def __call__(self, outputs: list[Tensor], lb: Letterbox | None) -> dict[str, Any]:
        if not outputs or not isinstance(outputs[0], np.ndarray) or outputs[0].size < 1:
            raise ModelError(f"vad: expected a probability tensor, got {len(outputs)} outputs")
        p = float(outputs[0].reshape(-1)[0])
        return {"speech_prob": round(p, 4), "speech": p >= self.cfg.threshold}
