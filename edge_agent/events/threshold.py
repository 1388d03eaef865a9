"""Start/end events from a number with hysteresis and minimum durations, and change-only publishing.

Both are small state machines fed one value per output; they never emit twice for the same state,
so a score wobbling around a threshold gives one start and one end, not a flurry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_agent.bundle.settings import ThresholdConfig
from edge_agent.events.config import ChangeConfig
from edge_agent.stages.types import JSON

_MISSING = object()


def lookup(output: JSON, key: str) -> Any:
    """Dotted path into nested dicts/lists (`top.0.label`); a missing step gives None."""
    node: Any = output
    for part in key.split("."):
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is _MISSING:
            return None
    return node


@dataclass(slots=True)
class Episode:
    """One start..end span, kept so `end` can report its duration and peak."""

    id: int
    start_ts: float
    peak: float


class Threshold:
    """`start` when the value holds >= on for min_on_s, `end` when it holds < off for min_off_s.

    Event timestamps are when the crossing happened, not when it was confirmed, so a min_on_s
    debounce does not shift reported times.
    """

    def __init__(self, cfg: ThresholdConfig) -> None:
        self.cfg = cfg
        self.off = cfg.on if cfg.off is None else cfg.off
        self.active: Episode | None = None
        self._pending_since: float | None = None  # first ts of the crossing being confirmed
        self._pending_peak = float("-inf")
        self._count = 0

    def update_value(self, value: float, ts: float) -> list[JSON]:
        """Feed one value; return the events it confirms (0 or 1 of them)."""
        cfg = self.cfg
        if self.active is None:
            if value >= cfg.on:
                if self._pending_since is None:
                    self._pending_since, self._pending_peak = ts, value
                self._pending_peak = max(self._pending_peak, value)
                if ts - self._pending_since >= cfg.min_on_s:
                    self._count += 1
                    self.active = Episode(self._count, self._pending_since, self._pending_peak)
                    self._pending_since = None
                    return [
                        {
                            "event": "start",
                            "name": cfg.name,
                            "id": self._count,
                            "ts": self.active.start_ts,
                            "value": value,
                        }
                    ]
            else:
                self._pending_since = None
            return []
        self.active.peak = max(self.active.peak, value)
        if value < self.off:
            if self._pending_since is None:
                self._pending_since = ts
            if ts - self._pending_since >= cfg.min_off_s:
                return [self._end(self._pending_since)]
        else:
            self._pending_since = None
        return []

    def flush(self, ts: float) -> list[JSON]:
        """End an open episode (source finished); `ts` is the last time seen."""
        if self.active is None:
            return []
        return [self._end(self._pending_since if self._pending_since is not None else ts)]

    def _end(self, ts: float) -> JSON:
        assert self.active is not None
        ep, self.active, self._pending_since = self.active, None, None
        return {
            "event": "end",
            "name": self.cfg.name,
            "id": ep.id,
            "ts": ts,
            "start_ts": ep.start_ts,
            "duration_s": round(ts - ep.start_ts, 4),
            "peak": ep.peak,
        }

    def update(self, output: JSON, ts: float) -> list[JSON]:
        """EventLogic: read the value at cfg.key; outputs without it are skipped."""
        value = lookup(output, self.cfg.key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return []
        return self.update_value(float(value), ts)


class Change:
    """One `changed` event when the value at cfg.key changes and holds for min_stable_s."""

    def __init__(self, cfg: ChangeConfig) -> None:
        self.cfg = cfg
        self.current: Any = _MISSING
        self._candidate: Any = _MISSING
        self._since = 0.0

    def update(self, output: JSON, ts: float) -> list[JSON]:
        """EventLogic: compare the watched value with the last published one."""
        value = lookup(output, self.cfg.key)
        if value is None or value == self.current:
            self._candidate = _MISSING
            return []
        if value != self._candidate:
            self._candidate, self._since = value, ts
        if ts - self._since < self.cfg.min_stable_s:
            return []
        previous = None if self.current is _MISSING else self.current
        self.current, self._candidate = value, _MISSING
        return [
            {"event": "changed", "key": self.cfg.key, "value": value, "previous": previous, "ts": self._since}
        ]
