"""The `events` input: other pipelines' events on this device, summarised for a text model.

It subscribes, through the agent's own MQTT connection, to `<prefix>/<device>/<pipeline>/events` of
the named pipelines (topics spelled by edge_agent.topics), keeps the last `last` events, and emits one
text frame holding them as JSON lines (oldest first, each with its `pipeline`) every `every_s` seconds
and/or after every `count` new events: the input for "summarise the last N events". A summary is only
emitted when an event came since the previous one. Over `max_bytes`, the oldest events are left out
of the summary (counted `truncated`). The transport keys `device` and `seq` are left out: the model
needs what happened, not the outbox's bookkeeping.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from functools import partial

from edge_agent.errors import SourceError
from edge_agent.stages.types import JSON, Frame
from edge_agent.text.inputs.live import LiveInput
from edge_agent.text.inputs.mqtt import Cancel, Subscribe
from edge_agent.text.source_config import EventsConfig
from edge_agent.topics import pipeline_topic

TRANSPORT_KEYS = ("device", "seq")


class EventsSource(LiveInput):
    """Source: summaries of the named pipelines' events; `meta["fields"]` says how many and whose."""

    def __init__(
        self,
        cfg: EventsConfig,
        name: str = "",
        subscribe: Subscribe | None = None,
        *,
        prefix: str = "edge",
        device: str | None = None,
    ) -> None:
        """`prefix`, `device`: the agent's topic prefix (mqtt.prefix) and device id."""
        if subscribe is None:
            raise SourceError(
                "events input: it reads through the agent's MQTT connection, and none was given"
            )
        if not device:
            raise SourceError("events input: the device id is needed to name the events topics")
        if name and name in cfg.pipelines:
            raise SourceError(f"events input of pipeline {name!r}: it cannot read its own events (a loop)")
        super().__init__(name or "events", cfg.max_bytes, cfg.backlog)
        self.cfg = cfg
        self.topics = {p: pipeline_topic(prefix, device, p, "events") for p in cfg.pipelines}
        self.events = 0
        self.bad_events = 0
        self._window: deque[JSON] = deque(maxlen=cfg.last)
        self._new = 0
        self._lock = threading.Lock()
        self._subscribe = subscribe
        self._cancels: list[Cancel] = self._subscribe_all()
        self._next_due = time.monotonic() + (cfg.every_s or 0.0)

    def _subscribe_all(self) -> list[Cancel]:
        return [self._subscribe(topic, partial(self._on_event, p)) for p, topic in self.topics.items()]

    def _on_event(self, pipeline: str, payload: bytes) -> None:
        # On the connection's thread: cheap, never raises.
        if self.backlog.closed:
            return
        try:
            event = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            event = None
        if not isinstance(event, dict):
            with self._lock:
                self.bad_events += 1
            return
        kept = {"pipeline": pipeline, **{k: v for k, v in event.items() if k not in TRANSPORT_KEYS}}
        with self._lock:
            self.events += 1
            self._window.append(kept)
            self._new += 1
            due = self.cfg.count is not None and self._new >= self.cfg.count
        if due:
            frame = self._summary()
            if frame is not None:
                self.backlog.put(frame)

    def read(self) -> Frame | None:
        every = self.cfg.every_s
        while True:
            wait = None if every is None else max(0.0, self._next_due - time.monotonic())
            frame = self.backlog.get(wait)
            if frame is not None or self.backlog.closed:
                return frame
            if every is not None and time.monotonic() >= self._next_due:
                self._next_due = max(self._next_due + every, time.monotonic())
                frame = self._summary()
                if frame is not None:
                    return frame

    def _summary(self) -> Frame | None:
        """The kept events as one frame, or None when none came since the last summary."""
        with self._lock:
            if not self._new:
                return None
            self._new = 0
            lines = [_line(e) for e in self._window]
        cut = False
        size = sum(len(line.encode("utf-8")) + 1 for line in lines)
        while len(lines) > 1 and size > self.cfg.max_bytes:
            size -= len(lines.pop(0).encode("utf-8")) + 1
            cut = True
        fields: JSON = {"events": len(lines), "pipelines": list(self.cfg.pipelines)}
        origin = "events:" + ",".join(self.cfg.pipelines)
        return self.boundary.text("\n".join(lines), time.time(), origin, fields, cut=cut)

    def open(self) -> None:
        if not self._cancels:
            self._cancels = self._subscribe_all()
        self.backlog.open()
        self._next_due = time.monotonic() + (self.cfg.every_s or 0.0)

    def close(self) -> None:
        self.backlog.close()
        cancels, self._cancels = self._cancels, []
        for cancel in cancels:
            cancel()

    def counters(self) -> JSON:
        out = super().counters()
        with self._lock:
            out.update(events=self.events, bad_events=self.bad_events)
        return out


def _line(event: JSON) -> str:
    """One event as a compact JSON line (non-ASCII kept: fewer tokens than \\u escapes)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str)
