"""Prometheus /metrics for one agent, named per the Prometheus naming guide.

A sampler thread reads the pipelines' counters and their latency ring buffers once a second and turns
the change since the last sample into histogram observations and counter increments, so the hot path
carries no metrics code. Exact while fewer than 512 results arrive per pipeline per second (the ring
buffer's size); above that the histogram samples the newest 512.

Metrics: edge_agent_build_info, edge_agent_inference_seconds (histogram), edge_agent_results_total,
edge_agent_frames_skipped_total, edge_agent_inference_failures_total, edge_agent_outbox_messages,
edge_agent_mqtt_connected, edge_agent_mqtt_refused_total, edge_agent_temperature_celsius,
edge_agent_throttled, plus the standard process_* metrics.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from edge_agent.errors import EdgeAgentError
from edge_agent.remote.ports import PipelineCounters
from edge_agent.remote.stats.system import SystemReader

log = logging.getLogger(__name__)
# Seconds; spans a 0.5 ms NPU call to a 2 s CPU model on a Pi.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


Counters = Callable[[], Mapping[str, PipelineCounters]]
Status = Callable[[], Mapping[str, Any]]


class MetricsServer:
    """Owns a registry, a sampler thread and the HTTP endpoint; reads the agent only through `counters`
    (each pipeline's counters and latency ring buffer) and `status` (outbox depth, mqtt state)."""

    def __init__(
        self,
        counters: Counters,
        status: Status,
        host: str = "127.0.0.1",
        port: int = 9464,
        *,
        reader: SystemReader | None = None,
        interval_s: float = 1.0,
        version: str | None = None,
    ) -> None:
        try:
            import prometheus_client as pc
        except ImportError as exc:
            raise EdgeAgentError(
                "metrics need prometheus-client: pip install 'onnx-edge-agent[metrics]' "
                "(from a clone: '.[metrics]')"
            ) from exc
        from edge_agent import __version__

        self.host, self.port, self.interval_s = host, port, interval_s
        self.counters, self.status = counters, status
        self.reader = reader or SystemReader()
        self.registry = pc.CollectorRegistry()
        pc.ProcessCollector(registry=self.registry)
        r = self.registry
        info = pc.Info("edge_agent_build", "Version of the running agent.", registry=r)
        info.info({"version": version or __version__})
        self.inference = pc.Histogram(
            "edge_agent_inference_seconds",
            "Model latency per result.",
            ["pipeline"],
            buckets=BUCKETS,
            registry=r,
        )
        self.results = pc.Counter("edge_agent_results", "Results produced.", ["pipeline"], registry=r)
        self.skipped = pc.Counter(
            "edge_agent_frames_skipped",
            "Frames not inferred (newest-frame policy, gate).",
            ["pipeline"],
            registry=r,
        )
        self.failures = pc.Counter(
            "edge_agent_inference_failures", "Frames whose inference failed.", ["pipeline"], registry=r
        )
        self.outbox = pc.Gauge("edge_agent_outbox_messages", "Messages waiting in the outbox.", registry=r)
        self.connected = pc.Gauge("edge_agent_mqtt_connected", "1 while connected to the broker.", registry=r)
        self.refused = pc.Counter(
            "edge_agent_mqtt_refused", "Publishes the broker refused (e.g. ACL).", registry=r
        )
        self.temperature = pc.Gauge(
            "edge_agent_temperature_celsius", "Thermal zone temperature.", ["zone"], registry=r
        )
        self.throttled = pc.Gauge("edge_agent_throttled", "1 while the SoC reports throttling.", registry=r)
        self._last: dict[str, PipelineCounters] = {}
        self._last_refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metrics", daemon=True)
        self._server: Any = None
        self._pc: Any = pc

    def sample(self) -> None:
        """Fold the change since the previous sample into the metrics."""
        for name, now in self.counters().items():
            before = self._last.get(name, PipelineCounters(0, 0, 0, ()))
            if now.inferred < before.inferred:  # the pipeline was replaced (update, restart): counts restart
                before = PipelineCounters(0, 0, 0, ())
            new = max(0, now.inferred - before.inferred)
            for ms in list(now.latencies_ms)[-new:] if new else []:
                self.inference.labels(name).observe(ms / 1000.0)
            self.results.labels(name).inc(new)
            self.skipped.labels(name).inc(max(0, now.skipped - before.skipped))
            self.failures.labels(name).inc(max(0, now.failures - before.failures))
            self._last[name] = PipelineCounters(now.inferred, now.skipped, now.failures, ())
        status = self.status()
        outbox = status.get("outbox") or {}
        depth = outbox.get("depth") if isinstance(outbox, dict) else None
        if isinstance(depth, (int, float)):
            self.outbox.set(depth)
        mqtt = status.get("mqtt") or {}
        self.connected.set(1 if mqtt.get("connected") else 0)
        refused = int(mqtt.get("refused") or 0)
        self.refused.inc(max(0, refused - self._last_refused))
        self._last_refused = refused
        for zone, celsius in self.reader.temperatures().items():
            self.temperature.labels(zone).set(celsius)
        throttled, _flags = self.reader.throttling()
        if throttled is not None:
            self.throttled.set(1 if throttled else 0)

    def render(self) -> bytes:
        return bytes(self._pc.generate_latest(self.registry))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample()
            except Exception:  # metrics must never take the agent down
                log.exception("metrics sample failed")

    def start(self) -> None:
        started = self._pc.start_http_server(self.port, addr=self.host, registry=self.registry)
        self._server = started[0] if isinstance(started, tuple) else None
        self.sample()
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
