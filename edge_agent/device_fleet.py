"""The agent's fleet side, wired to one running Agent: commands (AgentBridge implements AgentControl),
model updates, Home Assistant discovery, rich stats and the optional /metrics endpoint.

Beside agent.py and outside the feature packages it wires (commands, update, ha, metrics, stats), so
none of them imports another's wiring: `update` builds on `commands.control`, and only this module
knows both.

`DeviceFleet(agent, config_path).attach()` is all the agent needs: it subscribes through the agent's
MqttPublisher (so subscriptions come back after reconnects) and publishes through it.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.commands.config_patch import apply_config_patch, describe_issues
from edge_agent.commands.handler import CommandHandler
from edge_agent.commands.mqtt import CommandServer
from edge_agent.commands.settings import FleetDeviceConfig
from edge_agent.commands.signing import CommandVerifier
from edge_agent.config.models import AgentConfig, PipelineConfig
from edge_agent.errors import CommandError, ConfigError
from edge_agent.stats.report import StatsReporter
from edge_agent.stats.system import SystemReader
from edge_agent.topics import update_topic

if TYPE_CHECKING:
    from edge_agent.agent import Agent

log = logging.getLogger(__name__)


class AgentBridge:
    """AgentControl on top of edge_agent.agent.Agent."""

    def __init__(self, agent: Agent, config_path: Path | None = None) -> None:
        self.agent = agent
        self.config_path = config_path
        self._lock = threading.RLock()  # one pipeline change at a time (commands, updates)

    def status(self) -> dict[str, Any]:
        return self.agent.status()

    def pipelines(self) -> list[str]:
        return list(self.agent.cfg.pipelines)

    def _need_file(self) -> Path:
        if self.config_path is None:
            raise CommandError("refused", "the agent was started without a config file")
        return self.config_path

    def reload(self) -> None:
        from edge_agent.config import load_config

        try:
            new = load_config(self._need_file())
        except ConfigError as exc:  # the reply names the keys, not the file or its values
            raise CommandError(
                "failed", f"the config file does not validate: {describe_issues(exc.issues)}"
            ) from None
        self._apply(new)

    def apply_config_patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        return apply_config_patch(self._need_file(), patch, self._apply)

    def _apply(self, new: AgentConfig) -> dict[str, Any]:
        """Restart what changed; device and mqtt stay as they are (a `set` may not change them)."""
        from edge_agent.update.service import with_installed_bundle

        with self._lock:
            old = self.agent.cfg
            # A bundle installed by a remote update keeps winning over the file's model path.
            pipes = {n: with_installed_bundle(old.device.state_dir, n, p) for n, p in new.pipelines.items()}
            changed = [n for n, p in pipes.items() if old.pipelines.get(n) != p]
            removed = [n for n in old.pipelines if n not in pipes]
            for name in removed:
                self.stop_pipeline(name)
                self.agent.pipelines.pop(name, None)
            keep = ("device", "mqtt", "pipelines")
            self.agent.cfg = old.model_copy(
                update={k: getattr(new, k) for k in type(new).model_fields if k not in keep}
            )
            self.agent.cfg.pipelines = pipes
            for name in changed:
                if pipes[name].enabled:
                    self._restart(name, pipes[name])
                else:
                    self.stop_pipeline(name)
            return {"restarted": changed, "removed": removed}

    def _restart(self, name: str, pcfg: PipelineConfig) -> None:
        with self._lock:
            old = self.agent.pipelines.get(name)
            if old is not None and old.state in ("running", "loading"):
                old.stop(timeout=1.5)
            pipe = self.agent.new_pipeline(name, pcfg)
            self.agent.pipelines[name] = pipe
            pipe.start()  # raises EdgeAgentError when the model or source cannot be opened

    def start_pipeline(self, name: str) -> None:
        with self._lock:
            pipe = self.agent.pipelines.get(name)
            if pipe is not None and pipe.state == "running":
                return
            self._restart(name, self.agent.cfg.pipelines[name])

    def stop_pipeline(self, name: str) -> None:
        with self._lock:
            pipe = self.agent.pipelines.get(name)
            if pipe is not None and pipe.state in ("running", "loading"):
                pipe.stop(timeout=1.5)

    def snapshot(self, name: str) -> bytes | None:
        if not self.agent.cfg.pipelines[name].publish.include_frame:
            return None
        frame = getattr(self.agent.pipelines.get(name), "last_frame", None)
        if frame is None:
            raise CommandError("refused", f"pipeline {name!r} has no frame to show yet")
        import cv2

        ok, jpeg = cv2.imencode(".jpg", frame.data if hasattr(frame, "data") else frame)
        if not ok:
            raise CommandError("failed", "JPEG encoding failed")
        return bytes(jpeg)

    def update_model(self, pipeline: str, bundle_dir: Path) -> None:
        with self._lock:
            pcfg = self.agent.cfg.pipelines[pipeline]
            new = pcfg.model_copy(
                update={"model": pcfg.model.model_copy(update={"path": bundle_dir, "id": None})}
            )
            self.agent.cfg.pipelines[pipeline] = new
            self._restart(pipeline, new)


class DeviceFleet:
    """Creates and attaches the fleet features of one agent."""

    def __init__(
        self, agent: Agent, config_path: Path | None = None, settings: FleetDeviceConfig | None = None
    ) -> None:
        from edge_agent import __version__
        from edge_agent.bundle.verify import load_public_key
        from edge_agent.update import UpdatePolicy, UpdateService
        from edge_agent.update.fetch import is_upload_data

        self.agent = agent
        self.settings = settings or getattr(agent.cfg, "fleet", None) or FleetDeviceConfig()
        self.prefix = agent.cfg.mqtt.prefix
        self.bridge = AgentBridge(agent, config_path)
        s = self.settings
        verifier = None
        if s.commands.trusted_keys or s.commands.require_signed:
            # uploaded files are data, never keys
            files = [k for k in s.commands.trusted_keys if not is_upload_data(k, agent.cfg.device.state_dir)]
            if len(files) < len(s.commands.trusted_keys):
                log.error("fleet.commands.trusted_keys: key files in the upload area are ignored")
            keys = [load_public_key(k) for k in files]
            verifier = CommandVerifier(
                keys, required=s.commands.require_signed, max_skew_s=s.commands.max_skew_s
            )
        self.updates: UpdateService | None = None
        if s.updates.enabled:
            policy = UpdatePolicy(
                health_window_s=s.updates.health_window_s,
                max_failures=s.updates.max_failures,
                latency_budget_ms=s.updates.latency_budget_ms,
                require_golden=s.updates.require_golden,
            )
            self.updates = UpdateService(
                self.bridge,
                agent.cfg.device.state_dir,
                agent.device,
                model_config=lambda p: agent.cfg.pipelines[p].model,
                report=self._report_update,
                profile=agent.profile,
                policy=policy,
            )
        self.handler = CommandHandler(
            self.bridge, agent.device, self.prefix, verifier=verifier, updates=self.updates
        )
        self.server = CommandServer(agent.publisher.client, self.handler)
        self.version = __version__
        self.metrics: Any = None
        thermal = agent.profile.thermal if agent.profile is not None else None
        reader = SystemReader(
            temperature_paths=thermal.temperature_paths if thermal else (),
            throttle_paths=thermal.throttle_paths if thermal else (),
        )
        self.reporter = StatsReporter(
            agent.device,
            reader,
            lambda: {n: p.snapshot() for n, p in list(agent.pipelines.items())},
            watts_per_busy_core=agent.profile.watts_per_busy_core if agent.profile is not None else 2.0,
            outbox_depth=lambda: int(agent.outbox.depth),
        )

    def _task(self, pipeline: str) -> str | None:
        """The bundle manifest's task (classification, detection, anomaly, vad...) when the model has one."""
        model = getattr(self.agent.pipelines.get(pipeline), "model", None)
        bundle = getattr(model, "bundle", None)
        return bundle.manifest.task if bundle is not None else None

    def stats(self) -> dict[str, Any]:
        """The periodic stats payload: system health, per-pipeline fps/latency/skips, per-result CPU, and
        the command channel's counters (`commands`: handled, refused, dropped, errors, restarts...)."""
        body = self.reporter.build()
        if self.settings.commands.enabled:
            body["commands"] = self.server.snapshot()
        return body

    def _publish(self, topic: str, body: dict[str, Any] | bytes, *, retain: bool = False) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.agent.publisher.publish(topic, payload, qos=1, retain=retain)

    def _report_update(self, msg: dict[str, Any]) -> None:
        self._publish(update_topic(self.prefix, self.agent.device), msg)

    def attach(self) -> None:
        """Call before agent.publisher.start(): subscriptions are made on every connect."""
        if self.settings.commands.enabled:
            self.server.start()
            self.agent.publisher.subscribe(self.handler.subscription, self.server.on_message, retained=False)
        ha = self.settings.home_assistant
        if ha.enabled:
            from edge_agent.ha.discovery import DiscoveryAnnouncer, info_from_config

            announcer = DiscoveryAnnouncer(
                lambda t, p, r: self._publish(t, p, retain=r),
                self.agent.device,
                lambda: [info_from_config(n, p, self._task(n)) for n, p in self.agent.cfg.pipelines.items()],
                prefix=self.prefix,
                version=self.version,
                discovery_prefix=ha.discovery_prefix,
            )
            self.agent.publisher.subscribe(
                announcer.status_topic, lambda m: announcer.on_ha_status(bytes(m.payload))
            )
            self.agent.publisher.on_connected(announcer.announce)
        if self.settings.metrics.port is not None:
            from edge_agent.metrics.exporter import MetricsServer

            self.metrics = MetricsServer(self.agent, self.settings.metrics.host, self.settings.metrics.port)
            self.metrics.start()

    def stop(self) -> None:
        self.server.stop()
        if self.metrics is not None:
            self.metrics.stop()
