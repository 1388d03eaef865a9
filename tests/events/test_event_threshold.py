"""Hysteresis and change-only on scripted sequences: no flapping, times are the crossings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge_agent.bundle.settings import ThresholdConfig
from edge_agent.events.config import ChangeConfig
from edge_agent.events.threshold import Change, Threshold, lookup


def _run(logic: Threshold | Change, values: list[object], dt: float = 0.1) -> list[dict[str, object]]:
    events = []
    for i, v in enumerate(values):
        events += logic.update({"score": v, "top": [{"label": v}]}, round(i * dt, 6))
    return events


def test_noisy_signal_around_threshold_gives_one_pair() -> None:
    # 0.45..0.55 wobble around on=0.5 would flap without hysteresis.
    wobble = [0.1, 0.2, 0.55, 0.45, 0.56, 0.44, 0.6, 0.52, 0.47, 0.58, 0.3, 0.45, 0.2, 0.1]
    plain = _run(Threshold(ThresholdConfig(on=0.5)), wobble)
    assert len(plain) > 4  # the flapping the hysteresis must remove
    events = _run(Threshold(ThresholdConfig(name="a", on=0.5, off=0.35)), wobble)
    assert [e["event"] for e in events] == ["start", "end"]
    assert events[0]["ts"] == pytest.approx(0.2)
    assert events[1]["ts"] == pytest.approx(1.0)
    assert events[1]["duration_s"] == pytest.approx(0.8)
    assert events[1]["peak"] == pytest.approx(0.6)


def test_min_durations_ignore_blips_and_keep_crossing_times() -> None:
    cfg = ThresholdConfig(on=0.5, off=0.5, min_on_s=0.25, min_off_s=0.25)
    seq = [0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0]  # a blip at 0.1, a dip at 0.8
    events = _run(Threshold(cfg), seq)
    assert [(e["event"], e["ts"]) for e in events] == [("start", 0.4), ("end", pytest.approx(1.1))]


def test_flush_closes_open_episode() -> None:
    t = Threshold(ThresholdConfig(on=1))
    assert _run(t, [0, 2, 3])[0]["event"] == "start"
    end = t.flush(5.0)
    assert end[0]["event"] == "end"
    assert end[0]["ts"] == 5.0
    assert t.flush(6.0) == []


def test_outputs_without_a_number_are_skipped() -> None:
    t = Threshold(ThresholdConfig(on=1))
    assert t.update({"other": 5}, 0.0) == []
    assert t.update({"score": "high"}, 0.0) == []
    assert t.update({"score": True}, 0.0) == []


def test_off_above_on_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="off must be <= on"):
        ThresholdConfig(on=0.3, off=0.5)


def test_change_only_with_debounce() -> None:
    # "dog" at 0.3 is a one-frame blip; the real change starts at 0.6.
    labels = ["cat", "cat", "cat", "dog", "cat", "cat", "dog", "dog", "dog", "dog"]
    events = _run(Change(ChangeConfig(key="top.0.label", min_stable_s=0.15)), labels)
    assert [(e["value"], e["previous"]) for e in events] == [("cat", None), ("dog", "cat")]
    assert events[1]["ts"] == pytest.approx(0.6)


def test_lookup_paths() -> None:
    out = {"a": {"b": [1, {"c": 2}]}}
    assert lookup(out, "a.b.1.c") == 2
    assert lookup(out, "a.b.-2") == 1
    assert lookup(out, "a.x") is None
    assert lookup(out, "a.b.7") is None
