"""What a source is, and the capture thread that reads it with retries and a bounded queue.

Live sources (camera, stream, microphone) keep only the newest frame: a slow model must not build a
backlog of stale frames. File sources never drop: the capture thread blocks until the worker is ready.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from edge_agent.errors import SourceError
from edge_agent.stages.protocols import Source
from edge_agent.stages.types import Frame

log = logging.getLogger(__name__)


END = object()  # end marker put on the queue when a finite source is exhausted or the capture stops


@dataclass(slots=True)
class SourceStatus:
    state: str = "starting"  # starting | running | retrying | ended | stopped
    frames: int = 0
    dropped: int = 0
    failures: int = 0
    last_error: str | None = None
    retry_in_s: float = 0.0
    since: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "frames": self.frames,
            "dropped": self.dropped,
            "failures": self.failures,
            "last_error": self.last_error,
        }


class Capture:
    """Reads a Source on its own thread into a bounded queue; retries failures with exponential backoff."""

    def __init__(
        self,
        source: Source,
        out: queue.Queue[object],
        fps: float | None = None,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self.source = source
        self.out = out
        self.period = 1.0 / fps if fps else 0.0
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.status = SourceStatus()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{source.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _deliver(self, frame: Frame) -> None:
        if self.source.live:
            # Keep only the newest: drop whatever the worker has not taken yet.
            while True:
                try:
                    self.out.put_nowait(frame)
                    return
                except queue.Full:
                    try:
                        self.out.get_nowait()
                        self.status.dropped += 1
                    except queue.Empty:
                        pass
        while not self._stop.is_set():
            try:
                self.out.put(frame, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        delay = self.retry_min_s
        opened = False
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    if not opened:
                        self.source.open()
                        opened = True
                        self.status.state = "running"
                        delay = self.retry_min_s
                    frame = self.source.read()
                except SourceError as exc:
                    opened = self._failed(exc, delay)
                    delay = min(delay * 2, self.retry_max_s)
                    continue
                if frame is None:
                    self.status.state = "ended"
                    return
                if self.period:
                    now = time.monotonic()
                    if self.source.live and now < next_due:
                        continue  # live: skip frames above the cap rather than lag behind
                    if now < next_due:
                        self._stop.wait(next_due - now)
                    next_due = max(next_due + self.period, time.monotonic())
                self.status.frames += 1
                self._deliver(frame)
        finally:
            if self._stop.is_set():
                self.status.state = "stopped"
            self.source.close()
            self._put_end()

    def _failed(self, exc: SourceError, delay: float) -> bool:
        self.status.failures += 1
        self.status.last_error = str(exc)
        self.status.state = "retrying"
        self.status.retry_in_s = delay
        log.warning("source %s failed (%s); retrying in %.1fs", self.source.name, exc, delay)
        try:
            self.source.close()
        except Exception:  # a half-open device may fail to close; the retry reopens it
            log.debug("close after failure raised", exc_info=True)
        self._stop.wait(delay)
        return False

    def _put_end(self) -> None:
        while True:
            try:
                self.out.put(END, timeout=0.2)
                return
            except queue.Full:
                if self.source.live or self._stop.is_set():
                    with contextlib.suppress(queue.Empty):
                        self.out.get_nowait()
