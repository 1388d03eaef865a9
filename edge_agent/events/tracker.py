"""A simple IoU tracker: an object that stays in view is one `appeared` and one `left` event.

Detections come in `output["detections"]` as {"label", "score", "box": [x1, y1, x2, y2]} with
coordinates normalised to the frame. Matching is greedy by IoU within a label, which is enough at
edge frame rates with a handful of objects; ageing counts inferred frames, not seconds, so frames
skipped by the motion gate do not make a still object "leave".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_agent.events.config import TrackerConfig, ZoneConfig
from edge_agent.events.zones import Box, zones_of
from edge_agent.stages.types import JSON


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two xyxy boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(slots=True)
class Track:
    """One object followed across frames."""

    id: int
    label: str
    box: Box
    score: float
    first_ts: float
    last_ts: float
    hits: int = 1
    missed: int = 0
    confirmed: bool = False
    zones: frozenset[str] = field(default_factory=frozenset)


def parse_detections(
    output: JSON, min_score: float, labels: Sequence[str] | None
) -> list[tuple[str, float, Box]]:
    """(label, score, box) from an output, skipping malformed entries rather than failing the frame."""
    found: list[tuple[str, float, Box]] = []
    raw: Any = output.get("detections")
    if not isinstance(raw, list):
        return found
    for d in raw:
        try:
            label, score = str(d["label"]), float(d.get("score", 1.0))
            x1, y1, x2, y2 = (float(v) for v in d["box"])
        except (KeyError, TypeError, ValueError):
            continue
        if score >= min_score and (labels is None or label in labels):
            found.append((label, score, (x1, y1, x2, y2)))
    return found


class Tracker:
    """EventLogic over detections: appeared / left, and entered / exited for zones."""

    def __init__(self, cfg: TrackerConfig, zones: Sequence[ZoneConfig] = ()) -> None:
        self.cfg = cfg
        self.zones = list(zones)
        self.tracks: list[Track] = []
        self._next_id = 1

    def confirmed(self) -> list[Track]:
        """Tracks that have been announced and not yet left."""
        return [t for t in self.tracks if t.confirmed]

    def update(self, output: JSON, ts: float) -> list[JSON]:
        """Match this frame's detections to tracks; return the events they cause."""
        dets = parse_detections(output, self.cfg.min_score, self.cfg.labels)
        pairs = sorted(
            (
                (iou(t.box, d[2]), ti, di)
                for ti, t in enumerate(self.tracks)
                for di, d in enumerate(dets)
                if t.label == d[0]
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        events: list[JSON] = []
        for score, ti, di in pairs:
            if score < self.cfg.iou:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            t = self.tracks[ti]
            t.box, t.score, t.last_ts, t.missed = dets[di][2], dets[di][1], ts, 0
            t.hits += 1
            events += self._after_match(t, ts)
        kept: list[Track] = []
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.missed += 1
                if t.missed > self.cfg.max_missed:
                    if t.confirmed:
                        events += self._leave(t, ts)
                    continue
            kept.append(t)
        self.tracks = kept
        for di, (label, score, box) in enumerate(dets):
            if di not in used_d:
                t = Track(self._next_id, label, box, score, ts, ts)
                self._next_id += 1
                self.tracks.append(t)
                events += self._after_match(t, ts)
        return events

    def flush(self, ts: float) -> list[JSON]:
        """Close every confirmed track (the source ended)."""
        events: list[JSON] = []
        for t in self.confirmed():
            events += self._leave(t, ts)
        self.tracks = []
        return events

    def _leave(self, t: Track, ts: float) -> list[JSON]:
        # `left` carries the last time the object was seen, not when the tracker gave up on it.
        events = [self._zone_event("exited", t, z, ts) for z in sorted(t.zones)]
        duration = round(t.last_ts - t.first_ts, 4)
        return [*events, self._event("left", t, t.last_ts) | {"duration_s": duration}]

    def _after_match(self, t: Track, ts: float) -> list[JSON]:
        events: list[JSON] = []
        if not t.confirmed and t.hits >= self.cfg.min_hits:
            t.confirmed = True
            t.zones = zones_of(t.box, t.label, self.zones)
            events.append(self._event("appeared", t, t.first_ts) | {"zones": sorted(t.zones)})
            return events
        if t.confirmed and self.zones:
            now = zones_of(t.box, t.label, self.zones)
            events += [self._zone_event("exited", t, z, ts) for z in sorted(t.zones - now)]
            events += [self._zone_event("entered", t, z, ts) for z in sorted(now - t.zones)]
            t.zones = now
        return events

    @staticmethod
    def _event(kind: str, t: Track, ts: float) -> JSON:
        return {
            "event": kind,
            "id": t.id,
            "label": t.label,
            "ts": ts,
            "score": round(t.score, 4),
            "box": [round(v, 4) for v in t.box],
        }

    @staticmethod
    def _zone_event(kind: str, t: Track, zone: str, ts: float) -> JSON:
        return {"event": kind, "zone": zone, "id": t.id, "label": t.label, "ts": ts}
