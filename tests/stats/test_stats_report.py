"""The stats payload: fps, percentiles, skipped frames and per-result CPU/energy over an interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.stats.pipeline import PipelineWindow, percentile
from edge_agent.stats.report import StatsReporter, windows
from edge_agent.stats.system import SystemReader


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_window_drops_old_samples() -> None:
    now = [100.0]
    w = PipelineWindow(window_s=10, clock=lambda: now[0])
    for i in range(20):
        w.record(0.010 + i * 0.001)
    w.skipped(3)
    now[0] = 105.0
    snap = w.snapshot()
    assert snap["fps"] == 2.0
    assert snap["latency_ms_p50"] == pytest.approx(19.0)
    assert snap["latency_ms_p95"] == pytest.approx(28.0)
    assert snap["frames_skipped"] == 3
    now[0] = 111.0
    snap = w.snapshot()
    assert (snap["fps"], snap["latency_ms_p50"], snap["frames_skipped"]) == (0.0, None, 0)
    assert snap["results_total"] == 20


def test_reporter_cpu_and_joules_per_result(tmp_path: Path) -> None:
    stat = tmp_path / "proc/7/stat"
    stat.parent.mkdir(parents=True)
    tick = SystemReader()._tick

    def set_ticks(n: int) -> None:
        stat.write_text(f"7 (agent) S 1 1 1 0 -1 0 0 0 0 0 {n} 0 0 0 20 0 1 0 1 0 0")

    set_ticks(0)
    w = PipelineWindow(window_s=30)
    rep = StatsReporter(
        "dev1",
        SystemReader(root=tmp_path, pid=7),
        windows({"cam": w}),
        watts_per_busy_core=5.0,
        outbox_depth=lambda: 12,
    )
    for _ in range(10):
        w.record(0.02)
    set_ticks(int(tick))  # one CPU-second over 10 results
    out = rep.build()
    assert out["cpu_s_per_result"] == pytest.approx(0.1)
    assert out["joules_per_result_est"] == pytest.approx(0.5)
    assert out["outbox_depth"] == 12
    assert out["pipelines"]["cam"]["results_total"] == 10
    assert out["device"] == "dev1"
    again = rep.build()  # no new results: nothing to divide by
    assert again["cpu_s_per_result"] is None


def test_fps_from_counters_of_agent_snapshots() -> None:
    t = [0.0]
    snaps = {"cam": {"inferred": 0, "latency_ms_p50": 4.0}}
    rep = StatsReporter("d", SystemReader(), lambda: snaps, clock=lambda: t[0])
    snaps["cam"] = {"inferred": 50, "skipped": 7, "latency_ms_p50": 4.0}
    t[0] = 10.0
    out = rep.build()
    assert out["pipelines"]["cam"] == {
        "inferred": 50,
        "skipped": 7,
        "latency_ms_p50": 4.0,
        "fps": 5.0,
        "frames_skipped": 7,
    }
    assert out["cpu_s_per_result"] is not None
