"""Three devices on one zone, one of them wrong: the fused result is the majority's (real Mosquitto)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.demo.broker import LocalBroker
from edge_agent.errors import FleetError
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.fleet.fusion import Fuser, Member, ZoneConfig, ZoneVoter, fuse, load_zones
from edge_agent.fleet.store import Record
from edge_agent.topics import fused_topic

M = [Member(device=f"cam{i}", pipeline="door") for i in range(3)]


def cls(label: str, score: float = 0.9) -> dict[str, Any]:
    return {"top": [{"label": label, "score": score}]}


def rec(m: Member, output: dict[str, Any], seq: int = 1, ts: float = 100.0) -> Record:
    return Record(m.device, m.pipeline, seq, "results", ts, ts, {"seq": seq, "ts": ts, "output": output})


def test_fuse_classification_and_detection() -> None:
    out = fuse({M[0]: cls("open", 0.8), M[1]: cls("closed", 0.99), M[2]: cls("open", 0.6)})
    assert out is not None
    assert out["output"] == {"top": [{"label": "open", "score": 0.7}]}
    assert out["agree"] == 2
    assert out["dissent"] == [{"device": "cam1", "pipeline": "door", "label": "closed"}]
    det = fuse(
        {
            M[0]: {"counts": {"person": 2}},
            M[1]: {"counts": {"person": 2, "car": 1}},
            M[2]: {"counts": {"person": 7}},
        }
    )
    assert det is not None
    assert det["output"] == {"counts": {"person": 2}}
    assert {d["device"] for d in det["dissent"]} == {"cam1", "cam2"}


def test_window_closes_on_all_votes_or_timeout_with_quorum() -> None:
    now = [0.0]
    v = ZoneVoter("z", ZoneConfig(members=M, window_s=1.0), clock=lambda: now[0])
    assert v.feed(rec(M[0], cls("a"))) is None
    assert v.feed(rec(M[1], cls("a"))) is None
    done = v.feed(rec(M[2], cls("b")))
    assert done is not None
    assert done["voters"] == 3
    assert v.feed(rec(M[0], cls("a"))) is None
    now[0] = 2.0
    assert v.tick() is None  # one vote, quorum 2: nothing published
    v.feed(rec(M[0], cls("a")))
    v.feed(rec(M[1], cls("a")))
    now[0] = 4.0
    late = v.tick()
    assert late is not None
    assert (late["voters"], late["output"]["top"][0]["label"]) == (2, "a")
    assert v.feed(rec(Member(device="other", pipeline="door"), cls("x"))) is None


def test_zones_file(tmp_path: Path) -> None:
    p = tmp_path / "zones.yaml"
    p.write_text(
        "zones:\n  door:\n    members:\n      - {device: a, pipeline: p}\n      - {device: b, pipeline: p}\n"
    )
    zones = load_zones(p)
    assert zones["door"].quorum == 2
    p.write_text("zones:\n  door:\n    members: [{device: a, pipeline: p}]\n")
    with pytest.raises(FleetError, match="not a valid zones file"):
        load_zones(p)


def test_three_devices_one_wrong_over_mqtt(mosquitto: LocalBroker, device_id: str) -> None:
    members = [Member(device=f"{device_id}-{i}", pipeline="door") for i in range(3)]
    opts = BrokerOptions(port=mosquitto.port)
    fleet = connect(opts, role="fusion")
    fuser = Fuser({"front": ZoneConfig(members=members, window_s=2.0)}, fleet)
    watcher = connect(opts, role="watch")
    fused: list[dict[str, Any]] = []
    got = threading.Event()

    def on_fused(_c: object, _u: object, m: Any) -> None:
        fused.append(json.loads(m.payload))
        got.set()

    watcher.message_callback_add(fused_topic("edge", "front"), on_fused)
    sub = threading.Event()
    watcher.on_subscribe = lambda *_a: sub.set()
    watcher.subscribe(fused_topic("edge", "front"), qos=1)
    assert sub.wait(5)
    fuser.start()
    time.sleep(0.3)
    devices = [connect(opts, role="device") for _ in members]
    try:
        labels = ["person", "person", "cat"]  # the third camera is wrong
        for i, (m, d) in enumerate(zip(members, devices, strict=True)):
            body = {
                "v": 1,
                "device": m.device,
                "pipeline": "door",
                "seq": 1,
                "ts": time.time(),
                "model": "m@1",
                "latency_ms": 3.0,
                "output": cls(labels[i], 0.8 + i / 100),
            }
            d.publish(f"edge/{m.device}/door/results", json.dumps(body), qos=1).wait_for_publish(5)
        assert got.wait(10), "no fused result"
        out = fused[0]
        assert out["zone"] == "front"
        assert out["output"]["top"][0]["label"] == "person"
        assert out["agree"] == 2
        assert out["dissent"] == [{"device": members[2].device, "pipeline": "door", "label": "cat"}]
    finally:
        fuser.stop()
        for c in (*devices, watcher, fleet):
            disconnect(c)
