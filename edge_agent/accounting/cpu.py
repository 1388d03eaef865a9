"""CPU-seconds per result by stage (time.thread_time), and an energy estimate.

The prep thread runs gate → preprocess, the inference workers the model, and the worker that
delivers a frame (in order) postprocess → events, so thread_time around each stage charges it exactly
the CPU that stage used on the thread that ran it, not time spent waiting for frames. Several workers
add their threads' time into the same stage (under a lock). With intra_op_threads = 1 (every worker of
a parallel layout) ONNX Runtime computes on the calling thread and is counted in full; with more
intra-op threads its pool's CPU is not seen by thread_time, and the report says so. Beside the stages
the report gives the whole process's CPU per result (time.process_time: every thread, ORT's pools
included, but also capture, the outbox, MQTT and any other pipeline), an upper bound.

Energy is an *estimate*: CPU-seconds x watts_per_busy_core (from the hardware profile), i.e. the
power one busy core adds over idle. It ignores accelerators, memory and radio, and is labelled so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from edge_agent.stages.types import JSON

STAGES = ("gate", "preprocess", "inference", "postprocess", "events")


class CpuAccounts:
    """Accumulates CPU-seconds per stage of one pipeline's worker thread."""

    def __init__(self, watts_per_busy_core: float, ort_threads: int = 1) -> None:
        if watts_per_busy_core <= 0:
            raise ValueError(f"watts_per_busy_core: expected > 0, got {watts_per_busy_core}")
        self.watts = watts_per_busy_core
        self.ort_threads = ort_threads
        self.cpu_s: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.frames = 0
        self.results = 0
        self._lock = threading.Lock()  # the prep thread and several workers add to the same counters
        self._process_t0 = time.process_time()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Charge the CPU time used inside the block to `name`."""
        t0 = time.thread_time()
        try:
            yield
        finally:
            used = time.thread_time() - t0
            with self._lock:
                self.cpu_s[name] = self.cpu_s.get(name, 0.0) + used

    def frame(self, inferred: bool) -> None:
        """Count one frame seen, and a result if the model ran on it."""
        with self._lock:
            self.frames += 1
            self.results += int(inferred)

    def total_cpu_s(self) -> float:
        """CPU-seconds used by all stages so far."""
        return sum(self.cpu_s.values())

    def report(self) -> JSON:
        """CPU-seconds per result by stage, the total, and the labelled energy estimate. Per result,
        so frames the gate skipped are paid for by the results that were produced."""
        n = max(self.results, 1)
        total = self.total_cpu_s()
        out: JSON = {
            "frames": self.frames,
            "results": self.results,
            "cpu_s_per_result": {k: round(v / n, 7) for k, v in self.cpu_s.items()},
            "cpu_s_per_result_total": round(total / n, 7),
            "energy_j_per_result_estimate": round(total / n * self.watts, 7),
            "energy_is_estimate": True,
            "watts_per_busy_core": self.watts,
            # Every thread of the process since this pipeline loaded: ORT pools included, but so are
            # capture, the outbox, MQTT and other pipelines (an upper bound on this pipeline's CPU).
            "process_cpu_s_per_result": round((time.process_time() - self._process_t0) / n, 7),
        }
        if self.ort_threads != 1:
            out["note"] = "inference CPU excludes ONNX Runtime pool threads (intra_op_threads != 1)"
        return out
