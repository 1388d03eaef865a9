"""The bounded, drop-oldest backlog a live text input keeps, and the part of a live input built on it.

A live input is fed by something it does not pace (the MQTT connection's thread, a follower or
journalctl reader thread) and read by the capture thread. Its Source says `live = False` to the
capture: the capture's own live policy keeps one frame and drops the rest, which would lose all but
the last line of a burst; here the backlog holds up to `backlog` inputs and drops the oldest, counted,
and the capture waits on the model like it does for a file.

A failure seen by a feeding thread (journalctl exited, the log cannot be read) is put on the backlog;
`read()` raises it as a SourceError once the inputs before it are taken, so the capture retries with
backoff. `close()` may be called from any thread: a `read()` waiting then returns None (the end).
"""

from __future__ import annotations

import threading
from collections import deque

from edge_agent.errors import SourceError
from edge_agent.stages.types import JSON, Frame
from edge_agent.text.frames import Boundary


class Backlog:
    """Frames waiting for the capture thread; the oldest goes when it is full."""

    def __init__(self, size: int, boundary: Boundary) -> None:
        self.size = size
        self._boundary = boundary
        self._items: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._error: str | None = None

    def put(self, frame: Frame) -> None:
        with self._cond:
            if len(self._items) >= self.size:
                self._items.popleft()
                self._boundary.dropped_oldest()
            self._items.append(frame)
            self._cond.notify()

    def fail(self, reason: str) -> None:
        """A feeding thread's failure, raised by `get` after the frames already waiting."""
        with self._cond:
            self._error = reason
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The oldest frame; None when closed, or when `timeout` seconds pass with nothing."""
        with self._cond:
            while not self._items and not self._closed and self._error is None:
                if not self._cond.wait(timeout) and timeout is not None:
                    return None
            if self._items:
                return self._items.popleft()
            if self._error is not None:
                reason, self._error = self._error, None
                raise SourceError(reason)
            return None

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def open(self) -> None:
        """Ready to be read again; frames kept across a failure are still delivered."""
        with self._cond:
            self._closed = False
            self._error = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class LiveInput:
    """Name, boundary and backlog of a live text input, and its Source `read`/counters."""

    live = False  # to the capture: never its newest-only policy; the backlog drops oldest instead

    def __init__(self, name: str, max_bytes: int, backlog: int) -> None:
        self.name = name
        self.boundary = Boundary(name, max_bytes)
        self.backlog = Backlog(backlog, self.boundary)

    def read(self) -> Frame | None:
        """The next input; blocks until one arrives, None once closed, SourceError on a failure."""
        return self.backlog.get()

    def counters(self) -> JSON:
        """What this input received, dropped and refused (the pipeline's stats, under `input`)."""
        out = self.boundary.snapshot()
        out["waiting"] = len(self.backlog)
        return out
