"""The event logic of one pipeline: the configured parts fed in turn, counts, and the rate limit.

`build_events(cfg)` returns an EventLogic (edge_agent.stages.protocols) the runner calls once per
output; `flush(ts)` closes what is still open when the source ends.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Protocol

from edge_agent.events.config import EventsConfig, RateLimitConfig
from edge_agent.events.threshold import Change, Threshold
from edge_agent.events.tracker import Tracker, parse_detections
from edge_agent.events.zones import zones_of
from edge_agent.stages.types import JSON

log = logging.getLogger(__name__)

# Closing events pass or drop with their opening event, so a subscriber never sees half a pair.
_CLOSING = {"end": "start", "left": "appeared", "exited": "entered"}


class _Part(Protocol):
    def update(self, output: JSON, ts: float) -> list[JSON]: ...


class RateLimiter:
    """Token bucket over opening events; counts what it dropped."""

    def __init__(self, cfg: RateLimitConfig) -> None:
        self.cfg = cfg
        self.tokens = float(cfg.max_events)
        self.last_ts: float | None = None
        self.dropped = 0
        self._suppressed: set[tuple[str, object, object]] = set()

    def allow(self, event: JSON) -> bool:
        """True when the event may be published."""
        kind = str(event.get("event"))
        if kind in _CLOSING:
            key = (_CLOSING[kind], event.get("id"), event.get("zone", event.get("name")))
            if key in self._suppressed:
                self._suppressed.discard(key)
                self.dropped += 1
                return False
            return True
        ts = float(event.get("ts", 0.0))
        if self.last_ts is not None:
            refill = max(0.0, ts - self.last_ts) * self.cfg.max_events / self.cfg.per_s
            self.tokens = min(float(self.cfg.max_events), self.tokens + refill)
        self.last_ts = ts if self.last_ts is None else max(ts, self.last_ts)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self._suppressed.add((kind, event.get("id"), event.get("zone", event.get("name"))))
        self.dropped += 1
        return False


class EventEngine:
    """EventLogic: every configured part in a fixed order, then counts, then the rate limit."""

    def __init__(self, cfg: EventsConfig) -> None:
        self.cfg = cfg
        self.threshold = Threshold(cfg.threshold) if cfg.threshold else None
        self.tracker = Tracker(cfg.track, cfg.zones) if cfg.track else None
        self.parts: list[_Part] = [
            p
            for p in (self.threshold, Change(cfg.change) if cfg.change else None, self.tracker)
            if p is not None
        ]
        self.limiter = RateLimiter(cfg.rate_limit) if cfg.rate_limit else None
        self._counts: JSON | None = None
        self.emitted = 0

    def update(self, output: JSON, ts: float) -> list[JSON]:
        """Feed one output; return the events to publish, oldest first."""
        events: list[JSON] = []
        for part in self.parts:
            events += part.update(output, ts)
        if self.cfg.counts:
            events += self._count_event(output, ts)
        return self._limit(events)

    def flush(self, ts: float) -> list[JSON]:
        """Close open episodes and tracks (the source has ended)."""
        events: list[JSON] = []
        if self.threshold is not None:
            events += self.threshold.flush(ts)
        if self.tracker is not None:
            events += self.tracker.flush(ts)
        return self._limit(events)

    def stats(self) -> JSON:
        """Counters for the stats message."""
        return {"events": self.emitted, "events_dropped": self.limiter.dropped if self.limiter else 0}

    def _limit(self, events: list[JSON]) -> list[JSON]:
        if self.limiter is not None:
            events = [e for e in events if self.limiter.allow(e)]
        self.emitted += len(events)
        return events

    def _count_event(self, output: JSON, ts: float) -> list[JSON]:
        # Tracked objects (confirmed) when tracking, so a one-frame false positive does not count.
        if self.tracker is not None:
            items = [(t.label, t.box) for t in self.tracker.confirmed()]
        else:
            items = [(label, box) for label, _, box in parse_detections(output, 0.0, None)]
        counts: JSON = {"total": dict(sorted(Counter(label for label, _ in items).items()))}
        if self.cfg.zones:
            per_zone: dict[str, Counter[str]] = {z.name: Counter() for z in self.cfg.zones}
            for label, box in items:
                for name in zones_of(box, label, self.cfg.zones):
                    per_zone[name][label] += 1
            counts["zones"] = {k: dict(sorted(v.items())) for k, v in per_zone.items()}
        if counts == self._counts:
            return []
        self._counts = counts
        return [{"event": "count", "ts": ts, "counts": counts}]


def build_events(cfg: EventsConfig | None, post: object = None) -> EventEngine | None:
    """The pipeline's event logic: its `events:` block, else what the postprocess kind implies (vad:
    speech start/end, anomaly: anomaly start/end, via their `events()`), else None."""
    if cfg is None:
        implied = getattr(post, "events", None)
        if not callable(implied):
            return None
        cfg = EventsConfig(threshold=implied())
    engine = EventEngine(cfg)
    log.debug("event logic: %s", [type(p).__name__ for p in engine.parts])
    return engine
