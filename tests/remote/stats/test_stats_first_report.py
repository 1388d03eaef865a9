"""The first stats report goes out seconds after start (not after a full interval), then on the
interval; a report due while the broker is unreachable goes out as soon as it is back. A real Agent,
a real ONNX model and video, a real Mosquitto; the rows are folded by `fleet watch`'s own code."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.agent import FIRST_STATS_S, Agent
from edge_agent.demo.broker import LocalBroker, free_port
from edge_agent.fleet.watch import DeviceRow, apply_stats, render_table

LONG_INTERVAL_S = 600.0  # a first report that waited for the interval would never arrive in the test
FIRST_PROMISE_S = 5.0  # the promise: first report within 5 s of start (the agent's own uptime_s)


def _stats(messages: list[mqtt.MQTTMessage]) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.topic.endswith("/stats")]


def _has_stats(n: int) -> Callable[[list[mqtt.MQTTMessage]], bool]:
    return lambda msgs: len(_stats(msgs)) >= n


def test_first_report_within_seconds_with_figures_for_fleet_watch(
    mosquitto: LocalBroker, fast_config: Any, collector_factory: Any, device_id: str
) -> None:
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/stats"])
    cfg = fast_config(mosquitto.port, source={"fps": 50, "loop": True})
    agent = Agent(cfg.model_copy(update={"stats_interval_s": LONG_INTERVAL_S}))
    agent.start()
    try:
        assert col.wait_for(_has_stats(1), timeout=60), "no stats report although the interval is 10 min"
    finally:
        agent.stop(drain_s=0)
    first = _stats(col.messages)[0]
    assert FIRST_STATS_S <= first["uptime_s"] <= FIRST_PROMISE_S
    row = DeviceRow(device_id, online=True)
    apply_stats(row, first, now=first["ts"])
    # What `fleet watch` shows: figures, not dashes.
    assert row.fps is not None
    assert row.cpu_percent is not None
    assert row.outbox_depth is not None
    cells = render_table([row], now=first["ts"]).splitlines()[1].split()
    assert cells[2] != "-"  # FPS
    assert cells[7] != "-"  # CPU%


def test_after_the_first_report_one_per_interval(
    mosquitto: LocalBroker, fast_config: Any, collector_factory: Any, device_id: str
) -> None:
    interval = 3.0
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/stats"])
    agent = Agent(fast_config(mosquitto.port).model_copy(update={"stats_interval_s": interval}))
    agent.start()
    try:
        assert col.wait_for(_has_stats(3), timeout=60)
    finally:
        agent.stop(drain_s=0)
    ts = [s["ts"] for s in _stats(col.messages)[:3]]
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    assert all(g >= interval - 0.01 for g in gaps), gaps  # never more often than the interval
    assert _stats(col.messages)[0]["uptime_s"] < interval  # the first did not wait for it


def test_first_report_goes_out_as_soon_as_the_broker_is_reachable(
    mosquitto_factory: Any, fast_config: Any, collector_factory: Any, device_id: str
) -> None:
    port = free_port()
    agent = Agent(fast_config(port).model_copy(update={"stats_interval_s": LONG_INTERVAL_S}))
    agent.start()  # no broker yet: the report due at FIRST_STATS_S waits for the link
    try:
        assert not agent.publisher.wait_connected(FIRST_STATS_S + 1.0)
        broker = mosquitto_factory(port=port)
        col = collector_factory(broker.port, [f"edge/{device_id}/stats"])
        assert col.wait_for(_has_stats(1), timeout=60), "the due report was not sent after connecting"
    finally:
        agent.stop(drain_s=0)
    assert _stats(col.messages)[0]["uptime_s"] > FIRST_STATS_S + 1.0  # sent after the broker came up
