"""Cancel in-flight ONNX Runtime runs so a stop never waits for, or abandons, a slow `session.run`.

Every run goes through `RunStopper.run`, which passes its own `RunOptions`; `stop()` sets `terminate`
on each in-flight one (ONNX Runtime checks it between nodes and raises) and refuses new runs until
`reset()`. One stopper serves all sessions of a pipeline (its model, ensemble/cascade members, a
streaming VAD), so stopping the pipeline cancels whichever of them is running.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import onnxruntime as ort

from edge_agent.errors import ModelError


class RunCancelledError(ModelError):
    """A run was cancelled (or refused) because its pipeline is stopping; not a model failure."""


class RunStopper:
    """Tracks the `RunOptions` of in-flight runs; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[ort.RunOptions] = []
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def in_flight(self) -> int:
        """Runs under way now."""
        with self._lock:
            return len(self._active)

    def run(self, session: Any, names: Sequence[str] | None, feeds: Mapping[str, Any]) -> list[Any]:
        """`session.run(names, feeds)`, cancellable by `stop()`; raises RunCancelledError when cancelled."""
        opts = ort.RunOptions()
        with self._lock:
            if self._stopped:
                raise RunCancelledError("stopping: run not started")
            self._active.append(opts)
        try:
            return list(session.run(names, dict(feeds), opts))
        except Exception as exc:  # ORT raises its generic Fail when the terminate flag ends the run
            if opts.terminate:
                raise RunCancelledError("stopping: run cancelled") from exc
            raise
        finally:
            with self._lock:
                self._active.remove(opts)

    def stop(self) -> int:
        """Cancel every in-flight run and refuse new ones; returns how many were cancelled."""
        with self._lock:
            self._stopped = True
            for opts in self._active:
                opts.terminate = True
            return len(self._active)

    def reset(self) -> None:
        """Accept runs again (a pipeline started after a stop)."""
        with self._lock:
            self._stopped = False
