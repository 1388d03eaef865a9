"""Builds the periodic `<prefix>/<device>/stats` payload from the system reader and pipeline windows.

CPU-seconds and joules per result are computed over the interval since the previous report; joules
are an *estimate* (busy CPU-seconds times the profile's watts_per_busy_core), labelled as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from edge_agent.stats.pipeline import PipelineWindow
from edge_agent.stats.system import SystemReader

STATS_VERSION = 1


class StatsReporter:
    def __init__(
        self,
        device: str,
        reader: SystemReader,
        pipelines: Mapping[str, PipelineWindow],
        *,
        watts_per_busy_core: float = 2.0,
        outbox_depth: Callable[[], int | None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.reader = reader
        self.pipelines = pipelines
        self.watts = watts_per_busy_core
        self._outbox_depth = outbox_depth
        self._wall = wall
        self._last_cpu: float | None = reader.cpu_seconds()
        self._last_results = self._results()

    def _results(self) -> int:
        return sum(p.results_total for p in self.pipelines.values())

    def build(self) -> dict[str, Any]:
        s = self.reader.sample()
        results = self._results()
        d_results = results - self._last_results
        d_cpu = None if s.cpu_seconds is None or self._last_cpu is None else s.cpu_seconds - self._last_cpu
        self._last_cpu, self._last_results = s.cpu_seconds, results
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
            "pipelines": {name: w.snapshot() for name, w in self.pipelines.items()},
        }
