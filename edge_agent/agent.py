"""The agent: pipelines + outbox + one MQTT connection, started and stopped together.

A pipeline that cannot start (bad model, missing accelerator) is reported in status and the others
keep running. Stopping lets in-flight frames finish for a moment, cancels a model run still going
(ONNX Runtime RunOptions.terminate) and joins every pipeline thread, commits the outbox, drains it
for a short deadline, publishes `offline`, and leaves what was not delivered for the next start.
The first stats report goes out FIRST_STATS_S after start (as soon as the broker is reachable), then
one every `stats_interval_s`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from edge_agent import __version__
from edge_agent.config.models import AgentConfig, PipelineConfig
from edge_agent.errors import EdgeAgentError
from edge_agent.hardware.profile import HardwareProfile, load_profile
from edge_agent.outbox import Outbox
from edge_agent.pipeline.layout import shares
from edge_agent.pipeline.runner import STOP_GRACE_S, Pipeline
from edge_agent.publish.mqtt import MqttPublisher
from edge_agent.remote.ports import PipelineCounters
from edge_agent.remote.update.service import with_installed_bundle
from edge_agent.remote.wiring import DeviceFleet
from edge_agent.sources.mqtt_input import SensorTopics
from edge_agent.topics import stats_topic

log = logging.getLogger(__name__)

FIRST_STATS_S = 2.0  # first stats report: soon enough for `fleet watch`, late enough to have figures
STATS_RETRY_S = 0.5  # while the broker is unreachable, a due report waits for the link this often
JOIN_S = 2.0  # after cancelling in-flight runs, how long the pipeline threads get to end


class Agent:
    """Everything one `edge-agent run` process does."""

    def __init__(self, cfg: AgentConfig, config_path: Path | None = None) -> None:
        self.cfg = cfg
        self.config_path = config_path  # lets the `reload` and `set` commands re-read / patch the file
        self.device = cfg.device.id
        self.started = time.time()
        self.profile: HardwareProfile | None = (
            load_profile(cfg.device.hardware_profile) if cfg.device.hardware_profile else None
        )
        state = cfg.device.state_dir
        self.outbox = Outbox(
            cfg.outbox,
            cfg.outbox.path or Path(state) / "outbox.sqlite",
            self.device,
            cfg.mqtt.prefix,
            window=cfg.mqtt.max_inflight,
        )
        self.publisher = MqttPublisher(cfg.mqtt, self.device, birth=self.birth)
        # `mqtt` sensor inputs subscribe through this one connection (its TLS, credentials, reconnects).
        self.sensor_topics = SensorTopics(self.publisher.subscribe)
        self.pipelines: dict[str, Pipeline] = {}
        self._stop = threading.Event()
        self._stats_thread = threading.Thread(target=self._stats_loop, name="stats", daemon=True)
        self.fleet: DeviceFleet | None = None  # commands, model updates, HA discovery, /metrics

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the outbox and MQTT first (so nothing is lost), then every enabled pipeline."""
        self.publisher.set_ack_handler(self.outbox.ack)
        self.publisher.on_connected(self.outbox.wake)
        self.outbox.start(
            lambda topic, payload: self.publisher.publish(topic, payload, qos=1), self._can_send
        )
        for name, configured in list(self.cfg.pipelines.items()):
            pcfg = self._installed_bundle(name, configured)
            pipe = self.new_pipeline(name, pcfg)
            self.pipelines[name] = pipe
            if not pcfg.enabled:
                continue
            try:
                pipe.start()
            except EdgeAgentError as exc:
                log.error("pipeline %s not started: %s", name, exc)
        # The fleet features get narrow views of this agent (edge_agent.remote.ports), never the agent:
        # itself as PipelineHost and PipelineFigures, its connection as Link, paho's client for replies.
        self.fleet = DeviceFleet(
            self,
            self,
            self.publisher,
            self.publisher.client,
            profile=self.profile,
            config_path=self.config_path,
        )
        self.fleet.attach()
        self.publisher.start()
        self._stats_thread.start()

    def new_pipeline(self, name: str, pcfg: PipelineConfig) -> Pipeline:
        """A pipeline wired to this agent: results into the outbox, `mqtt` inputs on its connection."""
        own = (self.cfg.mqtt.prefix, self.cfg.device.id)
        # The inference cores split fairly across the enabled pipelines (edge_agent.pipeline.layout).
        cores = shares({**self.cfg.pipelines, name: pcfg}, self.profile).get(name)
        return Pipeline(
            name,
            pcfg,
            self.outbox.put,
            profile=self.profile,
            subscribe=self.sensor_topics,
            own=own,
            cores=cores,
        )

    # -- PipelineHost (edge_agent.remote.ports): what commands and model updates change -------------
    @property
    def config(self) -> AgentConfig:
        return self.cfg

    def replace_config(self, cfg: AgentConfig) -> None:
        self.cfg = cfg

    def pipeline_state(self, name: str) -> str | None:
        pipe = self.pipelines.get(name)
        return pipe.state if pipe is not None else None

    def run_pipeline(self, name: str, pcfg: PipelineConfig) -> None:
        self.cfg.pipelines[name] = pcfg
        self.stop_pipeline(name)
        pipe = self.new_pipeline(name, pcfg)
        self.pipelines[name] = pipe
        pipe.start()  # raises EdgeAgentError when the model or source cannot be opened

    def stop_pipeline(self, name: str) -> None:
        pipe = self.pipelines.get(name)
        if pipe is not None and pipe.state in ("running", "loading"):
            pipe.stop(timeout=1.5)

    def remove_pipeline(self, name: str) -> None:
        self.stop_pipeline(name)
        self.pipelines.pop(name, None)

    def last_frame(self, name: str) -> Any:
        pipe = self.pipelines.get(name)
        return pipe.last_frame if pipe is not None else None

    # -- PipelineFigures (edge_agent.remote.ports): what stats, /metrics and HA read ------------------
    def snapshots(self) -> dict[str, dict[str, Any]]:
        return {n: p.snapshot() for n, p in list(self.pipelines.items())}

    def counters(self) -> dict[str, PipelineCounters]:
        return {
            n: PipelineCounters(p.inferred, p.skipped, p.failures, list(p.latencies))
            for n, p in list(self.pipelines.items())
        }

    def model_task(self, name: str) -> str | None:
        model = getattr(self.pipelines.get(name), "model", None)
        bundle = getattr(model, "bundle", None)  # only bundles carry a manifest (a bare .onnx does not)
        return bundle.manifest.task if bundle is not None else None

    def outbox_depth(self) -> int:
        return int(self.outbox.depth)

    def _installed_bundle(self, name: str, pcfg: PipelineConfig) -> PipelineConfig:
        """A bundle installed by a remote update (<state_dir>/bundles/<name>/current) wins over the config."""
        installed = with_installed_bundle(self.cfg.device.state_dir, name, pcfg)
        if installed is not pcfg:
            log.info("pipeline %s: running the installed bundle %s", name, installed.model.path.resolve())
            self.cfg.pipelines[name] = installed
        return installed

    def _can_send(self) -> bool:
        return self.publisher.connected

    @property
    def running_pipelines(self) -> list[str]:
        return [n for n, p in self.pipelines.items() if p.state == "running"]

    @property
    def started_pipelines(self) -> list[str]:
        """Pipelines that loaded and ran, including file sources that have already ended."""
        return [n for n, p in self.pipelines.items() if p.state in ("running", "finished")]

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Wait until every started pipeline has ended (file sources end; live ones do not)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for pipe in self.pipelines.values():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not pipe.finished.wait(left):
                return False
        return True

    def stop(self, drain_s: float = 2.0) -> bool:
        """Graceful stop within about drain_s + 2 s; True when every thread it started has ended.

        All pipelines are asked to stop at once; runs still in flight after STOP_GRACE_S are
        cancelled and the threads joined, so no thread is left inside ONNX Runtime at exit (that
        aborted the process). Only then is the outbox closed: everything accepted is committed.
        """
        t0 = time.monotonic()
        self._stop.set()
        if self.fleet is not None:
            self.fleet.stop()
        pipes = list(self.pipelines.values())
        for pipe in pipes:
            pipe.request_stop()
        for pipe in pipes:
            pipe.wait_idle(t0 + STOP_GRACE_S - time.monotonic())
        for pipe in pipes:
            pipe.cancel_runs()
        deadline = time.monotonic() + JOIN_S
        ended = [pipe.join(deadline) for pipe in pipes]  # every one joined: no short-circuit
        joined = all(ended)
        if self._stats_thread.is_alive():
            self._stats_thread.join(max(0.0, deadline - time.monotonic()))
            joined = joined and not self._stats_thread.is_alive()
        self.outbox.close(drain_s=drain_s if self.publisher.connected else 0.0)
        self.publisher.stop(timeout=1.0)
        st = self.outbox.stats
        log.info(
            "stopped; %d message(s) kept in the outbox for the next start "
            "(accepted %d, committed %d, dropped %d; stop took %.2f s)",
            self.outbox.depth,
            st.accepted,
            st.committed,
            st.dropped,
            time.monotonic() - t0,
        )
        return joined

    def stalled(self, stall_s: float) -> list[str]:
        """For the systemd watchdog (edge_agent.service.watchdog): what has shown no progress for
        `stall_s`: running pipelines' workers, the outbox thread, the command worker."""
        now = time.monotonic()
        out = [
            f"{name} (worker silent {now - pipe.beat:.0f} s)"
            for name, pipe in self.pipelines.items()
            if pipe.state == "running" and now - pipe.beat > stall_s
        ]
        if now - self.outbox.beat > stall_s:
            out.append(f"outbox (silent {now - self.outbox.beat:.0f} s)")
        commands = self.fleet.check(stall_s) if self.fleet is not None else None
        if commands is not None:
            out.append(commands)
        return out

    # -- status and stats -------------------------------------------------------------------------
    def birth(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "pipelines": {
                n: {"state": p.state, "model": p.model.model_id if p.model else None, "error": p.error}
                for n, p in self.pipelines.items()
            },
        }

    def status(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "version": __version__,
            "uptime_s": round(time.time() - self.started, 1),
            # degraded: results are not being stored durably (disk full/failing); see outbox.degraded
            "state": "degraded" if self.outbox.stats.degraded else "ok",
            "mqtt": {
                "connected": self.publisher.connected,
                "last_error": self.publisher.stats.last_error,
                "connects": self.publisher.stats.connects,
                "refused": self.publisher.stats.refused,
            },
            "outbox": self.outbox.snapshot(),
            "pipelines": {n: p.snapshot() for n, p in self.pipelines.items()},
        }

    def _stats_loop(self) -> None:
        """First report FIRST_STATS_S after start, then every interval; a report due while the
        broker is unreachable goes out as soon as it is back (so `fleet watch` never waits a full
        interval for figures)."""
        topic = stats_topic(self.cfg.mqtt.prefix, self.device)
        wait = min(FIRST_STATS_S, self.cfg.stats_interval_s)
        while not self._stop.wait(wait):
            if not self.publisher.connected:
                wait = STATS_RETRY_S
                continue
            wait = self.cfg.stats_interval_s
            try:
                body = {"ts": round(time.time(), 3), **self.status()}
                if self.fleet is not None:
                    body.update(self.fleet.stats())
                self.publisher.publish(topic, json.dumps(body, separators=(",", ":")).encode(), qos=0)
            except Exception:  # a bad figure must not end the stats thread; the next report retries
                log.exception("stats report failed")
