"""Builds the periodic `<prefix>/<device>/stats` payload from the system reader and pipeline snapshots.

Pipeline snapshots are whatever the pipelines report (`inferred` or `results_total` counters, latency
percentiles, skipped frames...); fps and the per-result CPU figures are computed here from the counters'
change since the previous report. Joules are an *estimate* (busy CPU-seconds times the profile's
watts_per_busy_core), labelled as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from edge_agent.remote.stats.system import SystemReader

STATS_VERSION = 1
Snapshots = Callable[[], Mapping[str, Mapping[str, Any]]]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _count(snap: Mapping[str, Any]) -> int:
    return _int(snap.get("results_total", snap.get("inferred", 0)))


class StatsReporter:
    def __init__(
        self,
        device: str,
        reader: SystemReader,
        pipelines: Snapshots,
        *,
        watts_per_busy_core: float = 2.0,
        outbox_depth: Callable[[], int | None] | None = None,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.reader = reader
        self.pipelines = pipelines
        self.watts = watts_per_busy_core
        self._outbox_depth = outbox_depth
        self._wall = wall
        self._clock = clock
        self._last_cpu: float | None = reader.cpu_seconds()
        reader.cpu_percent()  # sets its baseline, so the first report already has a CPU figure
        self._last_t = clock()
        first = pipelines()
        self._last_counts = {n: _count(s) for n, s in first.items()}
        self._last_skipped = {n: _int(s.get("skipped")) for n, s in first.items()}

    def build(self) -> dict[str, Any]:
        s = self.reader.sample()
        now = self._clock()
        dt = max(now - self._last_t, 1e-9)
        snaps = {n: dict(snap) for n, snap in self.pipelines().items()}
        counts = {n: _count(snap) for n, snap in snaps.items()}
        skipped = {n: _int(snap.get("skipped")) for n, snap in snaps.items()}
        for n, snap in snaps.items():
            if "fps" not in snap:
                snap["fps"] = round(max(0, counts[n] - self._last_counts.get(n, 0)) / dt, 2)
            if "frames_skipped" not in snap:  # in this interval (newest-frame policy, gate said no)
                snap["frames_skipped"] = max(0, skipped[n] - self._last_skipped.get(n, 0))
        self._last_skipped = skipped
        d_results = sum(counts.values()) - sum(self._last_counts.get(n, 0) for n in counts)
        d_cpu = None if s.cpu_seconds is None or self._last_cpu is None else s.cpu_seconds - self._last_cpu
        self._last_cpu, self._last_counts, self._last_t = s.cpu_seconds, counts, now
        per_result = d_cpu / d_results if d_cpu is not None and d_results > 0 else None
        return {
            "v": STATS_VERSION,
            "device": self.device,
            "ts": round(self._wall(), 3),
            "uptime_s": s.uptime_s,
            "system_uptime_s": s.system_uptime_s,
            "cpu_percent": s.cpu_percent,
            "cpu_seconds": None if s.cpu_seconds is None else round(s.cpu_seconds, 3),
            "rss_bytes": s.rss_bytes,
            "temperature_c": s.temperature_c,
            "temperature_c_max": s.max_temperature_c,
            "throttled": s.throttled,
            "throttle_flags": s.throttle_flags,
            "outbox_depth": self._outbox_depth() if self._outbox_depth else None,
            "cpu_s_per_result": None if per_result is None else round(per_result, 6),
            "joules_per_result_est": None if per_result is None else round(per_result * self.watts, 6),
            "pipelines": snaps,
        }
