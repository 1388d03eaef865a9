"""Broker stopped for 10 s and restarted mid-stream: a separate subscriber still gets every result."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from tests.faults.conftest import restartable_broker

N = 2000


@pytest.mark.slow
def test_broker_down_10s_mid_stream_loses_nothing_and_keeps_order(
    tmp_path: Path, fast_config: Any, persistent_subscriber: Any, device_id: str
) -> None:
    broker = restartable_broker(tmp_path / "broker")
    sub = persistent_subscriber(broker.port, f"edge/{device_id}/+/results")
    # 200 results/s: the 2,000-frame stream lasts ~10 s and the broker is down for most of it.
    agent = Agent(fast_config(broker.port, source={"fps": 200}))
    agent.start()
    try:
        assert sub.wait_unique(200, 20), "the stream did not start"
        broker.stop()
        down_at = time.monotonic()
        time.sleep(10)
        during = agent.status()
        broker = restartable_broker(tmp_path / "broker", port=broker.port)
        assert agent.wait_finished(60)
        assert sub.wait_unique(N, 60), f"only {sub.unique()} of {N} arrived: {agent.status()}"
    finally:
        agent.stop(drain_s=1)
        broker.stop()
    assert time.monotonic() - down_at > 10
    assert not during["mqtt"]["connected"]
    assert during["outbox"]["depth"] > 0  # results kept while the broker was away
    (rep,) = sub.tracker.report()
    assert rep.unique == N
    assert rep.missing == []
    assert rep.in_order  # every first arrival came after all smaller numbers
    assert agent.outbox.stats.last_seq["fast"] == N
    print(f"duplicates after the broker restart: {rep.duplicates}")


@pytest.mark.slow
def test_persistent_session_keeps_a_command_sent_while_the_agent_was_away(
    tmp_path: Path, device_id: str
) -> None:
    import paho.mqtt.publish as single

    from edge_agent.publish.config import MqttConfig
    from edge_agent.publish.mqtt import MqttPublisher

    broker = restartable_broker(tmp_path / "broker")
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=2, reconnect_max_s=2)
    pub = MqttPublisher(cfg, device_id, birth=dict)
    got: list[bytes] = []
    pub.subscribe(f"edge/{device_id}/cmd/#", lambda m: got.append(m.payload))
    pub.start()
    try:
        assert pub.wait_connected(10)
        time.sleep(0.3)  # the SUBACK
        broker.stop()
        broker = restartable_broker(tmp_path / "broker", port=broker.port)
        # Sent before the agent is back (its reconnect waits 2 s): only the stored session can hold it.
        single.single(f"edge/{device_id}/cmd/ping", b"while-away", qos=1, port=broker.port)
        assert not pub.connected
        deadline = time.monotonic() + 15
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pub.stop()
        broker.stop()
    assert got == [b"while-away"]
