"""The stats payload: fps, skipped frames and per-result CPU/energy over an interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.remote.stats.report import StatsReporter
from edge_agent.remote.stats.system import SystemReader


def test_reporter_cpu_and_joules_per_result(tmp_path: Path) -> None:
    stat = tmp_path / "proc/7/stat"
    stat.parent.mkdir(parents=True)
    tick = SystemReader()._tick

    def set_ticks(n: int) -> None:
        stat.write_text(f"7 (agent) S 1 1 1 0 -1 0 0 0 0 0 {n} 0 0 0 20 0 1 0 1 0 0")

    set_ticks(0)
    snaps = {"cam": {"inferred": 0}}
    rep = StatsReporter(
        "dev1",
        SystemReader(root=tmp_path, pid=7),
        lambda: snaps,
        watts_per_busy_core=5.0,
        outbox_depth=lambda: 12,
    )
    snaps["cam"] = {"inferred": 10}
    set_ticks(int(tick))  # one CPU-second over 10 results
    out = rep.build()
    assert out["cpu_s_per_result"] == pytest.approx(0.1)
    assert out["joules_per_result_est"] == pytest.approx(0.5)
    assert out["outbox_depth"] == 12
    assert out["pipelines"]["cam"]["inferred"] == 10
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
