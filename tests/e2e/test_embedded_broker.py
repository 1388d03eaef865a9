"""The demo's fallback when no Mosquitto is installed: the embedded amqtt broker, MQTT 3.1.1."""

from __future__ import annotations

import time
from typing import Any

from edge_agent.agent import Agent
from edge_agent.demo.broker import start_amqtt


def test_agent_publishes_through_embedded_amqtt(
    collector_factory: Any, make_config: Any, demo_video: Any, device_id: str
) -> None:
    broker = start_amqtt()
    try:
        col = collector_factory(broker.port, [f"edge/{device_id}/orient/results"], protocol="3.1.1")
        agent = Agent(make_config(broker.port, {"protocol": "3.1.1"}))
        agent.start()
        assert agent.wait_finished(60)
        n = len(demo_video[1])
        assert col.wait_for(lambda ms: len(ms) >= n, timeout=30)
        deadline = time.monotonic() + 10
        while agent.outbox.depth and time.monotonic() < deadline:
            time.sleep(0.05)
        agent.stop()
        assert [r["seq"] for r in col.json()] == list(range(1, n + 1))
        assert agent.outbox.stats.delivered == n
        assert agent.outbox.depth == 0  # the `offline` status PUBACK after close is not a message
    finally:
        broker.stop()
