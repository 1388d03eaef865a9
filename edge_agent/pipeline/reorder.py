"""The reorder buffer between a pipeline's inference workers and its postprocess: results leave in
the order their frames were numbered, whichever worker finished first.

Each frame handed to the workers gets the next sequence number; a worker reports every number it
took, with its result or with None (the run failed or was cancelled), so a gap never blocks the
frames behind it. Delivery runs under the buffer's lock on the reporting worker's thread: one frame
at a time, in order, so postprocess, events (hysteresis, the tracker) and the outbox see what a
single worker would have given them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Reorder(Generic[T]):
    """Releases items by sequence number, starting at 0, each exactly once."""

    def __init__(self, release: Callable[[T], None]) -> None:
        self._release = release
        self._next = 0
        self._held: dict[int, T | None] = {}
        self._lock = threading.Lock()

    def done(self, seq: int, item: T | None) -> None:
        """Report frame `seq` (None: nothing to deliver) and deliver every frame now in order.
        `release` must not raise: a frame it fails on is its own business (counted, logged)."""
        with self._lock:
            if seq < self._next or seq in self._held:
                raise ValueError(f"frame sequence {seq} reported twice")
            self._held[seq] = item
            while self._next in self._held:
                ready = self._held.pop(self._next)
                self._next += 1
                if ready is not None:
                    self._release(ready)

    @property
    def waiting(self) -> int:
        """Frames finished but held back behind an earlier one still running."""
        with self._lock:
            return len(self._held)
