"""IoU tracker, zones, counts and the rate limit on scripted detection sequences."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge_agent.events.config import EventsConfig, RateLimitConfig, TrackerConfig, ZoneConfig
from edge_agent.events.logic import RateLimiter, build_events
from edge_agent.events.tracker import Tracker, iou
from edge_agent.events.zones import point_in_polygon


def _det(label: str, x: float, y: float, w: float = 0.1, h: float = 0.2) -> dict[str, object]:
    return {"label": label, "score": 0.9, "box": [x, y, x + w, y + h]}


def test_iou() -> None:
    assert iou((0, 0, 1, 1), (0, 0, 1, 1)) == pytest.approx(1.0)
    assert iou((0, 0, 1, 1), (0.5, 0, 1.5, 1)) == pytest.approx(1 / 3)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_object_in_view_is_one_appeared_left_pair_despite_dropouts() -> None:
    tracker = Tracker(TrackerConfig(iou=0.3, min_hits=2, max_missed=3))
    events = []
    for i in range(40):
        x = 0.1 + i * 0.01  # walks slowly right
        dets = [] if i in (10, 11, 25) else [_det("person", x, 0.4)]  # detector misses three frames
        if i >= 30:
            dets = []
        events += tracker.update({"detections": dets}, i * 0.1)
    assert [e["event"] for e in events] == ["appeared", "left"]
    assert events[0]["ts"] == 0.0
    assert events[1]["ts"] == pytest.approx(2.9)
    assert events[0]["id"] == events[1]["id"]


def test_one_frame_false_positive_is_not_announced() -> None:
    tracker = Tracker(TrackerConfig(min_hits=2, max_missed=1))
    events = tracker.update({"detections": [_det("cat", 0.5, 0.5)]}, 0.0)
    for i in range(1, 5):
        events += tracker.update({"detections": []}, i * 0.1)
    assert events == []


def test_two_objects_and_labels_kept_apart() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_missed=1, labels=["person", "car"]))
    frame = {"detections": [_det("person", 0.1, 0.1), _det("car", 0.1, 0.1), _det("dog", 0.5, 0.5)]}
    events = tracker.update(frame, 0.0) + tracker.update(frame, 0.1)
    assert sorted(e["label"] for e in events) == ["car", "person"]
    assert len({e["id"] for e in events}) == 2


def test_point_in_polygon() -> None:
    square = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6)]
    assert point_in_polygon(0.4, 0.4, square)
    assert not point_in_polygon(0.7, 0.4, square)
    triangle = [(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)]
    assert point_in_polygon(0.5, 0.9, triangle)
    assert not point_in_polygon(0.1, 0.1, triangle)


def test_zone_entry_exit_and_counts() -> None:
    cfg = EventsConfig(
        track=TrackerConfig(min_hits=1, max_missed=2),
        zones=[ZoneConfig(name="door", polygon=[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)])],
        counts=True,
    )
    engine = build_events(cfg)
    assert engine is not None
    events = []
    for i in range(20):  # a person walks from the left into the door zone
        events += engine.update({"detections": [_det("person", 0.1 + i * 0.03, 0.3)]}, float(i))
    for i in range(20, 24):
        events += engine.update({"detections": []}, float(i))
    kinds = [e["event"] for e in events]
    assert kinds == ["appeared", "count", "entered", "count", "exited", "left", "count"]
    entered = events[2]
    assert entered["zone"] == "door"
    assert entered["ts"] == 12.0  # bottom-centre x = 0.1 + 12*0.03 + 0.05 = 0.51
    assert events[1]["counts"] == {"total": {"person": 1}, "zones": {"door": {}}}
    assert events[3]["counts"] == {"total": {"person": 1}, "zones": {"door": {"person": 1}}}
    assert events[-1]["counts"] == {"total": {}, "zones": {"door": {}}}


def test_rate_limit_drops_whole_pairs() -> None:
    limiter = RateLimiter(RateLimitConfig(max_events=2, per_s=10))
    passed = []
    for i in range(5):
        for ev in (
            {"event": "start", "id": i, "name": "x", "ts": float(i)},
            {"event": "end", "id": i, "name": "x", "ts": i + 0.5},
        ):
            if limiter.allow(ev):
                passed.append((ev["event"], ev["id"]))
    # Two tokens at once, then one token every 5 s: episodes 0 and 1 pass, 2..4 drop with their ends.
    assert passed == [("start", 0), ("end", 0), ("start", 1), ("end", 1)]
    assert limiter.dropped == 6


def test_zones_without_tracking_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="zones need"):
        EventsConfig(zones=[ZoneConfig(name="a", polygon=[(0, 0), (1, 0), (1, 1)])])
    with pytest.raises(ValidationError, match="normalised"):
        ZoneConfig(name="a", polygon=[(0, 0), (2, 0), (1, 1)])
