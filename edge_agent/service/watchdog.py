"""The main thread's loop under systemd: prove progress, ping the watchdog, keep STATUS= current.

WATCHDOG=1 is sent only when every running pipeline's worker and the outbox thread have shown a
heartbeat within `stall_s` (they beat on every loop turn, at least every half second when idle); the
command worker too (edge_agent.remote.commands.mqtt.CommandServer.check, which also restarts it if it
ended). A worker stuck in a model call or a deadlock stops the pings, so systemd (WatchdogSec=) restarts
the service; a free-running timer would keep a wedged agent alive forever. The loop sees the agent only
as `Supervised` (status, what is stalled, the outbox depth).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from edge_agent.service.notify import Notifier, watchdog_interval_s

log = logging.getLogger(__name__)

DEFAULT_STALL_S = 30.0


def status_line(status: dict[str, Any], stuck: list[str]) -> str:
    """One human line for `systemctl status` from Agent.status()."""
    pipes = status["pipelines"]
    running = [n for n, p in pipes.items() if p["state"] == "running"]
    failed = [n for n, p in pipes.items() if p["state"] == "failed"]
    parts = [f"{len(running)}/{len(pipes)} pipelines running"]
    if failed:
        parts.append("failed: " + ", ".join(failed))
    mqtt = status["mqtt"]
    parts.append(
        "mqtt connected" if mqtt["connected"] else f"mqtt down: {mqtt['last_error'] or 'connecting'}"
    )
    ob = status["outbox"]
    parts.append(f"outbox {ob['depth']} queued")
    if ob["dropped"]:
        parts.append(f"{ob['dropped']} dropped (bounds)")
    if ob["degraded"]:
        parts.append(f"DEGRADED: {ob['degraded']}")
    if stuck:
        parts.append("STUCK: " + ", ".join(stuck))
    return "; ".join(parts)


class Supervised(Protocol):
    """What the service loop watches (edge_agent.agent.Agent is one)."""

    def status(self) -> dict[str, Any]:
        """The status content: pipelines, mqtt, outbox (see status_line)."""
        ...

    def stalled(self, stall_s: float) -> list[str]:
        """What has shown no progress for `stall_s`, one short line each (reviving what can be)."""
        ...

    def outbox_depth(self) -> int:
        """Messages waiting in the outbox."""
        ...


class ServiceLoop:
    """Call `ready()` once the pipelines run, then `tick()` every `period` seconds from the main loop."""

    def __init__(
        self,
        agent: Supervised,
        notifier: Notifier | None = None,
        watchdog_s: float | None = None,
        stall_s: float | None = None,
    ) -> None:
        self.agent = agent
        self.notifier = notifier or Notifier()
        self.watchdog_s = watchdog_s if watchdog_s is not None else watchdog_interval_s()
        # A heartbeat older than the watchdog interval means systemd should restart us.
        self.stall_s = stall_s or self.watchdog_s or DEFAULT_STALL_S
        self.period = min(1.0, self.watchdog_s / 2) if self.watchdog_s else 1.0
        self.pings = 0
        self.last_status = ""
        self.stuck_since: float | None = None

    def stuck(self) -> list[str]:
        """What has shown no progress for `stall_s`: running pipelines' workers, the outbox, the command
        worker (revived if it had ended)."""
        return self.agent.stalled(self.stall_s)

    def ready(self) -> None:
        self.last_status = status_line(self.agent.status(), [])
        self.notifier.ready(self.last_status)

    def tick(self) -> None:
        stuck = self.stuck()
        if not stuck:
            if self.watchdog_s:
                self.notifier.watchdog()
                self.pings += 1
        elif self.stuck_since is None:
            log.error("no progress from %s: watchdog pings stopped", ", ".join(stuck))
        self.stuck_since = (self.stuck_since or time.monotonic()) if stuck else None
        line = status_line(self.agent.status(), stuck)
        if line != self.last_status:
            self.notifier.status(line)
            self.last_status = line

    def stopping(self) -> None:
        self.notifier.stopping(f"stopping; {self.agent.outbox_depth()} queued")
