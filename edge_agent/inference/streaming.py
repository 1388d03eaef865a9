"""Stateful streaming sessions: a recurrent model whose state outputs feed its own inputs next call.

silero-vad is one: each call takes the chunk, the state the last call returned and the sample rate,
and returns the speech probability and the next state. `StreamingSession` keeps that state, so the
pipeline runs it like any other model (a `Session`, edge_agent.stages.protocols).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge_agent.errors import ModelError
from edge_agent.inference.stopper import RunStopper

Tensor = npt.NDArray[Any]


class StreamSpec(Protocol):
    """Which inputs carry the state and the sample rate (the `vad` postprocess config has both)."""

    @property
    def state(self) -> Mapping[str, str]: ...

    @property
    def rate_input(self) -> str | None: ...


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


def vad_session(
    session: Any, cfg: StreamSpec, rate: int, stopper: RunStopper | None = None
) -> StreamingSession:
    """A StreamingSession for a silero-style VAD at `rate` Hz."""
    constants = {cfg.rate_input: np.array(rate, dtype=np.int64)} if cfg.rate_input else {}
    return StreamingSession(session, cfg.state, constants, stopper)
