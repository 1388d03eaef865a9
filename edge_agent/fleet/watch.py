"""`fleet watch`: a live view of every device from its retained status and periodic stats.

Rows come from `<prefix>/+/status` (online/offline, retained, LWT) and `<prefix>/+/stats`. The view is a
plain dict per device, rendered as a fixed-width table or as JSON (`--json`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.topics import device_filter


@dataclass(slots=True)
class DeviceRow:
    device: str
    online: bool | None = None
    version: str | None = None
    fps: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    temperature_c: float | None = None
    throttled: bool | None = None
    cpu_percent: float | None = None
    outbox_depth: int | None = None
    pipelines: int | None = None
    last_seen: float | None = None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def apply_stats(row: DeviceRow, body: dict[str, Any], now: float) -> None:
    """Fold one stats message into a row; tolerant of missing fields (older agents, no sysfs)."""
    raw = body.get("pipelines")
    pipes: dict[str, Any] = raw if isinstance(raw, dict) else {}
    fps = [_num(p.get("fps")) for p in pipes.values() if isinstance(p, dict)]
    p50 = [_num(p.get("latency_ms_p50")) for p in pipes.values() if isinstance(p, dict)]
    p95 = [_num(p.get("latency_ms_p95")) for p in pipes.values() if isinstance(p, dict)]
    row.fps = round(sum(f for f in fps if f is not None), 2) if any(f is not None for f in fps) else None
    row.latency_ms_p50 = max((v for v in p50 if v is not None), default=None)
    row.latency_ms_p95 = max((v for v in p95 if v is not None), default=None)
    row.temperature_c = _num(body.get("temperature_c_max"))
    row.throttled = body.get("throttled") if isinstance(body.get("throttled"), bool) else None
    row.cpu_percent = _num(body.get("cpu_percent"))
    depth = body.get("outbox_depth")
    if depth is None and isinstance(body.get("outbox"), dict):
        depth = body["outbox"].get("depth")
    row.outbox_depth = int(depth) if isinstance(depth, (int, float)) and not isinstance(depth, bool) else None
    row.pipelines = len(pipes)
    row.last_seen = now


class FleetView:
    """Thread-safe device table fed by paho callbacks."""

    def __init__(
        self, client: mqtt.Client, prefix: str = "edge", clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock
        self._rows: dict[str, DeviceRow] = {}
        self._lock = threading.Lock()
        self.updates = threading.Condition(self._lock)

    def start(self) -> None:
        for leaf in ("status", "stats"):
            filt = device_filter(self.prefix, leaf)
            self.client.message_callback_add(filt, self._on_message)
            self.client.subscribe(filt, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        device, leaf = parts[-2], parts[-1]
        if device.startswith("_"):
            return
        try:
            body = json.loads(msg.payload) if msg.payload else {}
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(body, dict):
            return
        with self.updates:
            row = self._rows.setdefault(device, DeviceRow(device))
            if leaf == "status":
                if not msg.payload:  # retained status cleared: device decommissioned
                    self._rows.pop(device, None)
                else:
                    row.online = body.get("state") == "online"
                    row.version = body.get("version") if isinstance(body.get("version"), str) else row.version
            else:
                apply_stats(row, body, self._clock())
            self.updates.notify_all()

    def rows(self) -> list[DeviceRow]:
        with self._lock:
            return [DeviceRow(**asdict(r)) for r in sorted(self._rows.values(), key=lambda r: r.device)]

    def wait_for(self, pred: Callable[[list[DeviceRow]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if pred(self.rows()):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self.updates:
                self.updates.wait(min(left, 0.5))


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return format(v, spec)


def render_table(rows: list[DeviceRow], now: float | None = None) -> str:
    now = time.time() if now is None else now
    cols = [
        ("DEVICE", "<24"),
        ("ONLINE", "<7"),
        ("FPS", ">7"),
        ("P50ms", ">8"),
        ("P95ms", ">8"),
        ("TEMP", ">6"),
        ("THR", ">4"),
        ("CPU%", ">6"),
        ("OUTBOX", ">7"),
        ("SEEN", ">6"),
    ]
    head = " ".join(format(name, spec) for name, spec in cols)
    lines = [head]
    for r in rows:
        seen = f"{now - r.last_seen:.0f}s" if r.last_seen else "-"
        cells = [
            r.device[:24],
            _fmt(r.online),
            _fmt(r.fps, ".1f"),
            _fmt(r.latency_ms_p50, ".1f"),
            _fmt(r.latency_ms_p95, ".1f"),
            _fmt(r.temperature_c, ".1f"),
            _fmt(r.throttled),
            _fmt(r.cpu_percent, ".0f"),
            _fmt(r.outbox_depth),
            seen,
        ]
        lines.append(" ".join(format(c, spec) for c, (_n, spec) in zip(cells, cols, strict=True)))
    return "\n".join(lines)


def rows_json(rows: list[DeviceRow]) -> str:
    return json.dumps([asdict(r) for r in rows], separators=(",", ":"))
