"""Per-pipeline rolling window: fps, latency p50/p95, frames skipped, results counted.

The worker thread calls `record`/`skipped`; the stats thread calls `snapshot`. One lock, tiny critical
sections: the hot path appends a pair to a deque.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        raise ValueError("percentile of an empty list")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


class PipelineWindow:
    """Results of the last `window_s` seconds, plus totals since start."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s: expected > 0, got {window_s}")
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, float]] = deque()  # (clock, latency seconds)
        self._skipped_window: deque[tuple[float, int]] = deque()
        self.results_total = 0
        self.skipped_total = 0
        self.errors_total = 0
        self.ep: str | None = None

    def record(self, latency_s: float) -> None:
        now = self._clock()
        with self._lock:
            self._samples.append((now, latency_s))
            self.results_total += 1

    def skipped(self, n: int = 1) -> None:
        """Frames dropped before inference (newest-frame policy, gate said no)."""
        now = self._clock()
        with self._lock:
            self._skipped_window.append((now, n))
            self.skipped_total += n

    def error(self) -> None:
        with self._lock:
            self.errors_total += 1

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        horizon = now - self.window_s
        with self._lock:
            while self._samples and self._samples[0][0] < horizon:
                self._samples.popleft()
            while self._skipped_window and self._skipped_window[0][0] < horizon:
                self._skipped_window.popleft()
            lat = sorted(s[1] for s in self._samples)
            skipped = sum(n for _, n in self._skipped_window)
            totals = (self.results_total, self.skipped_total, self.errors_total)
        out: dict[str, Any] = {
            "fps": round(len(lat) / self.window_s, 2),
            "latency_ms_p50": round(percentile(lat, 50) * 1000, 2) if lat else None,
            "latency_ms_p95": round(percentile(lat, 95) * 1000, 2) if lat else None,
            "frames_skipped": skipped,
            "results_total": totals[0],
            "skipped_total": totals[1],
            "errors_total": totals[2],
        }
        if self.ep is not None:
            out["ep"] = self.ep
        return out
