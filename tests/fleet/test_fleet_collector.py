"""Collectors on a real Mosquitto: shared subscriptions split the load, nothing stored twice or lost,
and the gap report names a simulated lost range exactly."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from edge_agent.demo.broker import LocalBroker
from edge_agent.fleet.client import BrokerOptions, connect, disconnect, make_client, open_client
from edge_agent.fleet.collector import Collector, record_from
from edge_agent.fleet.store import Gap, SQLiteStore, Store, open_store


def result(device: str, pipeline: str, seq: int) -> bytes:
    body = {
        "v": 1,
        "device": device,
        "pipeline": pipeline,
        "seq": seq,
        "ts": time.time(),
        "model": "m@1",
        "latency_ms": 3.2,
        "output": {"top": [{"label": "cat", "score": 0.9}]},
    }
    return json.dumps(body).encode()


def publish_all(client: mqtt.Client, items: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(t, p, qos=1) for t, p in items]
    for info in infos:
        info.wait_for_publish(10)


def wait_until(pred: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_record_from_rejects_what_is_not_a_pipeline_message() -> None:
    ok = record_from("edge", "edge/d1/cam/results", result("d1", "cam", 4), 1.0)
    assert ok is not None
    assert (ok.device, ok.pipeline, ok.seq, ok.kind) == ("d1", "cam", 4, "results")
    for topic, payload in [
        ("edge/d1/cmd/ping", b"{}"),
        ("edge/_replies/x/d1", result("d1", "cam", 1)),
        ("edge/d1/stats", b"{}"),
        ("other/d1/cam/results", result("d1", "cam", 1)),
        ("edge/d1/cam/results", b"not json"),
        ("edge/d1/cam/results", b"[1]"),
        ("edge/d1/cam/results", b'{"seq": "1"}'),
        ("edge/d1/cam/results", b'{"seq": 0}'),
        ("edge/d1/cam/results", result("d2", "cam", 1)),  # claims another device
    ]:
        assert record_from("edge", topic, payload, 1.0) is None, topic


# As docs/fleet.md says for a fleet broker: mosquitto's default (1,000) drops QoS 1 messages for a
# connected client that falls further behind, which a busy CI machine can cause.
BROKER = "max_queued_messages 100000\n"


def run_shared(
    mosquitto: LocalBroker, store_a: Store, store_b: Store, device: str
) -> tuple[Collector, Collector]:
    opts = BrokerOptions(port=mosquitto.port)
    cols = []
    for store in (store_a, store_b):
        col = Collector(connect(opts, role="collector"), store, share_group="g1", flush_s=0.05)
        col.start()
        cols.append(col)
    pub = connect(opts, role="device")
    lost = set(range(500, 550))  # a range the device "lost" (never published)
    items = [
        (f"edge/{device}/cam/results", result(device, "cam", s)) for s in range(1, 1001) if s not in lost
    ]
    items += [(f"edge/{device}/door/events", result(device, "door", s)) for s in range(1, 201)]
    publish_all(pub, items)
    items2 = [
        (f"edge/{device}/cam/results", result(device, "cam", s)) for s in range(1, 50)
    ]  # redelivered dups
    publish_all(pub, items2)
    disconnect(pub)
    assert wait_until(lambda: sum(c.received for c in cols) >= len(items) + len(items2))
    for col in cols:
        col.stop()
        disconnect(col.client)
    return cols[0], cols[1]


def check(store: Store, a: Collector, b: Collector, device: str) -> None:
    assert a.received > 100
    assert b.received > 100  # the broker really spread the load
    assert a.received + b.received == 950 + 200 + 49  # each message went to exactly one collector
    assert store.count(device) == 950 + 200  # duplicates ignored, none lost
    assert store.gaps(device) == [Gap(device, "cam", 500, 549)]
    assert store.gaps(device)[0].count == 50
    assert [r for r in store.ranges() if r[0] == device] == [
        (device, "cam", 1, 1000, 950),
        (device, "door", 1, 200, 200),
    ]


@pytest.mark.slow
def test_two_collectors_share_one_sqlite_file(mosquitto_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "fleet.sqlite"
    a, b = run_shared(mosquitto_factory(BROKER), SQLiteStore(path), SQLiteStore(path), "shared-sqlite")
    check(SQLiteStore(path), a, b, "shared-sqlite")


@pytest.mark.slow
def test_two_collectors_share_postgres(mosquitto_factory: Any, postgres_dsn: str) -> None:
    a, b = run_shared(
        mosquitto_factory(BROKER), open_store(postgres_dsn), open_store(postgres_dsn), "shared-pg"
    )
    check(open_store(postgres_dsn), a, b, "shared-pg")


def test_collector_restart_with_a_persistent_session_loses_nothing(
    mosquitto: LocalBroker, tmp_path: Path, device_id: str
) -> None:
    opts = BrokerOptions(port=mosquitto.port, client_id=f"collector-{device_id}")
    store = SQLiteStore(tmp_path / "p.sqlite")
    col = Collector(make_client(opts, clean_start=False), store)
    open_client(col.client, opts, clean_start=False)
    col.start()
    pub = connect(BrokerOptions(port=mosquitto.port), role="device")
    publish_all(pub, [(f"edge/{device_id}/cam/results", result(device_id, "cam", s)) for s in range(1, 51)])
    assert wait_until(lambda: col.stored == 50)
    col.stop()
    disconnect(col.client)  # the collector is down...
    publish_all(pub, [(f"edge/{device_id}/cam/results", result(device_id, "cam", s)) for s in range(51, 151)])
    col2 = Collector(make_client(opts, clean_start=False), store)  # ...and back with the same client id
    open_client(col2.client, opts, clean_start=False)
    col2.start()
    try:
        assert wait_until(lambda: store.count(device_id) == 150), store.count(device_id)
        assert store.gaps(device_id) == []
    finally:
        col2.stop()
        disconnect(col2.client)
        disconnect(pub)
