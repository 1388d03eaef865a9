"""`edge-agent fleet watch | send | collect | gaps` end to end against a real Mosquitto."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from edge_agent.cli.main import main
from edge_agent.demo.broker import LocalBroker
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.fleet.send import Requester
from edge_agent.fleet.watch import DeviceRow, apply_stats, render_table
from edge_agent.remote.commands.handler import CommandHandler
from edge_agent.remote.commands.mqtt import CommandServer

STATS = {
    "v": 1,
    "cpu_percent": 41.0,
    "temperature_c_max": 63.5,
    "throttled": False,
    "outbox_depth": 3,
    "pipelines": {"cam": {"fps": 9.5, "latency_ms_p50": 20.0, "latency_ms_p95": 31.0}, "mic": {"fps": 31.0}},
}


def test_apply_stats_and_table() -> None:
    row = DeviceRow("pi-1", online=True)
    apply_stats(row, STATS, now=100.0)
    assert (row.fps, row.latency_ms_p50, row.latency_ms_p95, row.outbox_depth) == (40.5, 20.0, 31.0, 3)
    apply_stats(row2 := DeviceRow("old"), {"outbox": {"depth": 5}, "pipelines": "junk"}, now=1.0)
    assert (row2.outbox_depth, row2.fps, row2.pipelines) == (5, None, 0)
    table = render_table([row, row2], now=102.0).splitlines()
    assert table[0].split() == [
        "DEVICE",
        "ONLINE",
        "FPS",
        "P50ms",
        "P95ms",
        "TEMP",
        "THR",
        "CPU%",
        "OUTBOX",
        "SEEN",
    ]
    assert table[1].split() == ["pi-1", "yes", "40.5", "20.0", "31.0", "63.5", "no", "41", "3", "2s"]


def test_watch_once_json(mosquitto: LocalBroker, device_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    dev = connect(BrokerOptions(port=mosquitto.port), role="device")
    try:
        status = {"state": "online", "device": device_id, "version": "0.1.0", "pipelines": {}}
        dev.publish(f"edge/{device_id}/status", json.dumps(status), qos=1, retain=True).wait_for_publish(5)
        stop = threading.Event()

        def stats_loop() -> None:
            while not stop.wait(0.2):
                dev.publish(f"edge/{device_id}/stats", json.dumps(STATS), qos=0)

        t = threading.Thread(target=stats_loop)
        t.start()
        try:
            rc = main(
                ["fleet", "watch", "--port", str(mosquitto.port), "--once", "--json", "--interval", "1"]
            )
        finally:
            stop.set()
            t.join()
        assert rc == 0
        rows = {r["device"]: r for r in json.loads(capsys.readouterr().out.strip().splitlines()[-1])}
        assert rows[device_id]["online"] is True
        assert rows[device_id]["fps"] == 40.5
        assert rows[device_id]["temperature_c"] == 63.5
        dev.publish(f"edge/{device_id}/status", b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        disconnect(dev)


class Control:
    def status(self) -> dict[str, object]:
        return {"state": "online"}

    def pipelines(self) -> list[str]:
        return ["cam"]


def test_send_prints_reply_and_exit_code(
    mosquitto: LocalBroker, device_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = connect(BrokerOptions(port=mosquitto.port), role="device")
    server = CommandServer(dev, CommandHandler(Control(), device_id))  # type: ignore[arg-type]
    server.start()
    server.attach()
    Requester(dev).wait_until_answering(device_id)
    try:
        port = str(mosquitto.port)
        assert main(["fleet", "send", "--port", port, device_id, "status"]) == 0
        assert json.loads(capsys.readouterr().out)["result"] == {"state": "online"}
        assert main(["fleet", "send", "--port", port, device_id, "stop", '{"pipeline": "nope"}']) == 1
        assert json.loads(capsys.readouterr().out)["error"] == "not_found"
        assert main(["fleet", "send", "--port", port, device_id, "ping", "[1]"]) == 2
        assert main(["fleet", "send", "--port", port, "--timeout", "0.5", f"{device_id}-absent", "ping"]) == 1
        assert "no reply" in capsys.readouterr().err
    finally:
        server.stop()
        disconnect(dev)


def test_collect_then_gaps(
    mosquitto: LocalBroker, device_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.sqlite"
    dev = connect(BrokerOptions(port=mosquitto.port), role="device")

    def publish_later() -> None:
        time.sleep(0.8)
        for seq in [1, 2, 3, 6, 7]:
            body = {
                "v": 1,
                "device": device_id,
                "pipeline": "cam",
                "seq": seq,
                "ts": time.time(),
                "output": {},
            }
            dev.publish(f"edge/{device_id}/cam/results", json.dumps(body), qos=1).wait_for_publish(5)

    t = threading.Thread(target=publish_later)
    t.start()
    try:
        assert (
            main(["fleet", "collect", "--port", str(mosquitto.port), "--db", str(db), "--duration", "2.5"])
            == 0
        )
    finally:
        t.join()
        disconnect(dev)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["stored"] >= 5
    assert main(["fleet", "gaps", "--db", str(db), "--device", device_id, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["gaps"] == [
        {"device": device_id, "pipeline": "cam", "first_missing": 4, "last_missing": 5, "count": 2}
    ]
    assert report["streams"] == [{"device": device_id, "pipeline": "cam", "first": 1, "last": 7, "rows": 5}]


def test_collect_with_zones_stores_and_fuses(mosquitto: LocalBroker, device_id: str, tmp_path: Path) -> None:
    from edge_agent.topics import fused_topic

    zones = tmp_path / "zones.yaml"
    members = [f"{device_id}-{i}" for i in range(3)]
    zones.write_text(
        "zones:\n  hall:\n    members:\n"
        + "".join(f"      - {{device: {m}, pipeline: cam}}\n" for m in members)
    )
    opts = BrokerOptions(port=mosquitto.port)
    watcher = connect(opts, role="watch")
    fused: list[dict[str, object]] = []
    watcher.message_callback_add(
        fused_topic("edge", "hall"), lambda _c, _u, m: fused.append(json.loads(m.payload))
    )
    watcher.subscribe(fused_topic("edge", "hall"), qos=1)
    dev = connect(opts, role="device")

    def votes() -> None:
        time.sleep(1.0)
        for m, label in zip(members, ["cat", "dog", "cat"], strict=True):
            body = {
                "v": 1,
                "device": m,
                "pipeline": "cam",
                "seq": 1,
                "ts": time.time(),
                "output": {"top": [{"label": label, "score": 0.9}]},
            }
            dev.publish(f"edge/{m}/cam/results", json.dumps(body), qos=1).wait_for_publish(5)

    t = threading.Thread(target=votes)
    t.start()
    try:
        rc = main(
            [
                "fleet",
                "collect",
                "--port",
                str(mosquitto.port),
                "--db",
                str(tmp_path / "z.sqlite"),
                "--zones",
                str(zones),
                "--duration",
                "3",
            ]
        )
    finally:
        t.join()
        disconnect(dev)
    deadline = time.monotonic() + 5
    while not fused and time.monotonic() < deadline:
        time.sleep(0.05)
    disconnect(watcher)
    assert rc == 0
    assert [f["output"] for f in fused] == [{"top": [{"label": "cat", "score": 0.9}]}]
    from edge_agent.fleet.store import SQLiteStore

    assert sum(SQLiteStore(tmp_path / "z.sqlite").count(m) for m in members) == 3  # the votes are stored too
