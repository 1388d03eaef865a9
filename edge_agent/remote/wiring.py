"""The device's fleet features wired together: commands (AgentBridge implements AgentControl), model
updates, Home Assistant discovery, rich stats and the optional /metrics endpoint.

Outside the feature packages it wires (commands, update, ha, metrics, stats), so none of them imports
another's wiring: `update` builds on `commands.control`, and only this module knows both. It never sees
the Agent: the agent hands over the narrow views of edge_agent.remote.ports (PipelineHost,
PipelineFigures, Link) and the paho client command replies go out on, then calls `attach()`; the
subscriptions go through the Link (so they come back after reconnects).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from edge_agent.config.models import AgentConfig
from edge_agent.errors import CommandError, ConfigError
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.remote.commands.config_patch import apply_config_patch, describe_issues
from edge_agent.remote.commands.handler import CommandHandler
from edge_agent.remote.commands.mqtt import CommandServer
from edge_agent.remote.commands.signing import CommandVerifier
from edge_agent.remote.config import FleetDeviceConfig
from edge_agent.remote.ports import Link, PipelineFigures, PipelineHost
from edge_agent.remote.stats.report import StatsReporter
from edge_agent.remote.stats.system import SystemReader
from edge_agent.topics import update_topic

if TYPE_CHECKING:
    from edge_agent.remote.metrics import MetricsServer
    from edge_agent.remote.update import UpdateService

log = logging.getLogger(__name__)


class AgentBridge:
    """AgentControl (what every command needs) on top of a PipelineHost."""

    def __init__(self, host: PipelineHost, config_path: Path | None = None) -> None:
        self.host = host
        self.config_path = config_path
        self._lock = threading.RLock()  # one pipeline change at a time (commands, updates)

    def status(self) -> dict[str, Any]:
        return self.host.status()

    def pipelines(self) -> list[str]:
        return list(self.host.config.pipelines)

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
        from edge_agent.remote.update.service import with_installed_bundle

        with self._lock:
            old = self.host.config
            # A bundle installed by a remote update keeps winning over the file's model path.
            pipes = {n: with_installed_bundle(old.device.state_dir, n, p) for n, p in new.pipelines.items()}
            changed = [n for n, p in pipes.items() if old.pipelines.get(n) != p]
            removed = [n for n in old.pipelines if n not in pipes]
            for name in removed:
                self.host.remove_pipeline(name)
            keep = ("device", "mqtt", "pipelines")
            update = {k: getattr(new, k) for k in type(new).model_fields if k not in keep}
            self.host.replace_config(old.model_copy(update={**update, "pipelines": pipes}))
            for name in changed:
                if pipes[name].enabled:
                    self.host.run_pipeline(name, pipes[name])
                else:
                    self.host.stop_pipeline(name)
            return {"restarted": changed, "removed": removed}

    def start_pipeline(self, name: str) -> None:
        with self._lock:
            if self.host.pipeline_state(name) == "running":
                return
            self.host.run_pipeline(name, self.host.config.pipelines[name])

    def stop_pipeline(self, name: str) -> None:
        with self._lock:
            self.host.stop_pipeline(name)

    def snapshot(self, name: str) -> bytes | None:
        if not self.host.config.pipelines[name].publish.include_frame:
            return None
        frame = self.host.last_frame(name)
        if frame is None:
            raise CommandError("refused", f"pipeline {name!r} has no frame to show yet")
        import cv2

        ok, jpeg = cv2.imencode(".jpg", frame.data if hasattr(frame, "data") else frame)
        if not ok:
            raise CommandError("failed", "JPEG encoding failed")
        return bytes(jpeg)

    def update_model(self, pipeline: str, bundle_dir: Path) -> None:
        with self._lock:
            pcfg = self.host.config.pipelines[pipeline]
            new = pcfg.model_copy(
                update={"model": pcfg.model.model_copy(update={"path": bundle_dir, "id": None})}
            )
            self.host.run_pipeline(pipeline, new)


class DeviceFleet:
    """Creates and attaches the fleet features of one agent, from the views the agent hands over."""

    def __init__(
        self,
        host: PipelineHost,
        figures: PipelineFigures,
        link: Link,
        replies: mqtt.Client,
        *,
        profile: HardwareProfile | None = None,
        config_path: Path | None = None,
        settings: FleetDeviceConfig | None = None,
    ) -> None:
        """`replies` is the paho client of `link`'s connection: command replies carry MQTT 5 properties
        (correlation data, content type) that `Link.publish` does not take."""
        from edge_agent import __version__
        from edge_agent.bundle.verify import load_public_key
        from edge_agent.remote.update import UpdatePolicy, UpdateService
        from edge_agent.remote.update.fetch import is_upload_data

        cfg = host.config
        self.host, self.figures, self.link = host, figures, link
        self.settings = settings or cfg.fleet
        self.device = cfg.device.id
        self.prefix = cfg.mqtt.prefix
        self.bridge = AgentBridge(host, config_path)
        s = self.settings
        state_dir = cfg.device.state_dir
        verifier = None
        if s.commands.trusted_keys or s.commands.require_signed:
            # uploaded files are data, never keys
            files = [k for k in s.commands.trusted_keys if not is_upload_data(k, state_dir)]
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
                state_dir,
                self.device,
                model_config=lambda p: host.config.pipelines[p].model,
                report=self._report_update,
                profile=profile,
                policy=policy,
            )
        self.handler = CommandHandler(
            self.bridge, self.device, self.prefix, verifier=verifier, updates=self.updates
        )
        self.server = CommandServer(replies, self.handler)
        self.version = __version__
        self.metrics: MetricsServer | None = None
        thermal = profile.thermal if profile is not None else None
        self.reader = SystemReader(
            temperature_paths=thermal.temperature_paths if thermal else (),
            throttle_paths=thermal.throttle_paths if thermal else (),
        )
        self.reporter = StatsReporter(
            self.device,
            self.reader,
            figures.snapshots,
            watts_per_busy_core=profile.watts_per_busy_core if profile is not None else 2.0,
            outbox_depth=figures.outbox_depth,
        )

    def stats(self) -> dict[str, Any]:
        """The periodic stats payload: system health, per-pipeline fps/latency/skips, per-result CPU, and
        the command channel's counters (`commands`: handled, refused, dropped, errors, restarts...)."""
        body = self.reporter.build()
        if self.settings.commands.enabled:
            body["commands"] = self.server.snapshot()
        return body

    def _publish(self, topic: str, body: dict[str, Any] | bytes, *, retain: bool = False) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.link.publish(topic, payload, qos=1, retain=retain)

    def _report_update(self, msg: dict[str, Any]) -> None:
        self._publish(update_topic(self.prefix, self.device), msg)

    def attach(self) -> None:
        """Call before the link connects: subscriptions are made on every connect."""
        if self.settings.commands.enabled:
            self.server.start()
            self.link.subscribe(self.handler.subscription, self.server.on_message, retained=False)
        ha = self.settings.home_assistant
        if ha.enabled:
            from edge_agent.remote.ha import DiscoveryAnnouncer, info_from_config

            figures, host = self.figures, self.host
            announcer = DiscoveryAnnouncer(
                lambda t, p, r: self._publish(t, p, retain=r),
                self.device,
                lambda: [
                    info_from_config(n, p, figures.model_task(n)) for n, p in host.config.pipelines.items()
                ],
                prefix=self.prefix,
                version=self.version,
                discovery_prefix=ha.discovery_prefix,
            )
            self.link.subscribe(announcer.status_topic, lambda m: announcer.on_ha_status(bytes(m.payload)))
            self.link.on_connected(announcer.announce)
        if self.settings.metrics.port is not None:
            from edge_agent.remote.metrics import MetricsServer

            self.metrics = MetricsServer(
                self.figures.counters,
                self.host.status,
                self.settings.metrics.host,
                self.settings.metrics.port,
            )
            self.metrics.start()

    def check(self, stall_s: float) -> str | None:
        """For the watchdog: the command worker, revived if it had ended; a line when it is stuck."""
        return self.server.check(stall_s)

    def stop(self) -> None:
        self.server.stop()
        if self.metrics is not None:
            self.metrics.stop()
