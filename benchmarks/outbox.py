"""The durable outbox against direct paho QoS 1 publishing, to a local Mosquitto, in one run.

(a) direct: paho publishes N QoS 1 messages (window 64) and waits for every PUBACK; (b) outbox:
the same N results through Outbox + MqttPublisher (SQLite commit before send, delete after PUBACK);
(c) replay: N results committed while offline, then the publisher is let go (after an outage);
(d) bytes written per result by the outbox thread (Linux per-thread write_bytes: WAL, checkpoints),
at full speed and at a camera-like 30 results/s. Prints a table; saves benchmarks/out/outbox.png.

    .venv/bin/python benchmarks/outbox.py [-n 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.demo.broker import LocalBroker, start_mosquitto
from edge_agent.outbox import Outbox
from edge_agent.outbox.config import OutboxConfig
from edge_agent.publish.config import MqttConfig
from edge_agent.publish.mqtt import MqttPublisher
from edge_agent.stages.types import Outbound

OUT = Path(__file__).parent / "out"
WINDOW = 64


def body(i: int) -> dict[str, Any]:
    """A typical compact result (a two-class top-k from a ~30 ms model)."""
    return {
        "ts": round(1763780000.0 + i / 30, 3),
        "model": "orientation_orinet_fp32",
        "latency_ms": round(28 + (i * 7919 % 1000) / 100, 2),
        "frame": i,
        "output": {
            "top": [
                {"label": "upright", "score": round(0.9 - (i % 97) / 1000, 4)},
                {"label": "rotated_90_cw", "score": round(0.05 + (i % 89) / 1000, 4)},
            ]
        },
    }


def direct(broker: LocalBroker, n: int) -> float:
    """Messages per second, paho alone, QoS 1, at most WINDOW awaiting PUBACK (paho at its best:
    handing it everything at once makes it scan a long queue on every PUBACK)."""
    room = threading.Semaphore(WINDOW)
    done = threading.Event()
    acked = [0]

    def on_publish(*_a: Any) -> None:
        acked[0] += 1
        room.release()
        if acked[0] == n:
            done.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-direct", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(WINDOW)
    c.on_publish = on_publish
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    t0 = time.perf_counter()
    for i in range(n):  # serialising is part of publishing a result, as it is in the outbox
        payload = json.dumps({"v": 1, "device": "bench", "pipeline": "cam", "seq": i + 1, **body(i)})
        room.acquire()
        c.publish("edge/bench/cam/results", payload.encode(), qos=1)
    done.wait(120)
    dt = time.perf_counter() - t0
    c.loop_stop()
    c.disconnect()
    return n / dt


def outbox_pair(broker: LocalBroker, state: Path, name: str) -> tuple[Outbox, MqttPublisher]:
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, max_inflight=WINDOW, client_id=f"bench-{name}")
    pub = MqttPublisher(cfg, "bench", birth=dict)
    ob = Outbox(OutboxConfig(), state / f"{name}.sqlite", "bench", "edge", window=WINDOW)
    pub.set_ack_handler(ob.ack)
    pub.on_connected(ob.wake)
    return ob, pub


def wait(pred: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish")
        time.sleep(0.002)


def through_outbox(broker: LocalBroker, state: Path, n: int) -> tuple[float, float]:
    """Messages per second from put() to the last PUBACK, and bytes written per result."""
    ob, pub = outbox_pair(broker, state, "live")
    ob.start(lambda t, p: pub.publish(t, p, qos=1), lambda: pub.connected)
    pub.start()
    pub.wait_connected(10)
    t0 = time.perf_counter()
    for i in range(n):
        ob.put(Outbound("cam", "results", body(i)))
    wait(lambda: ob.stats.delivered >= n)
    dt = time.perf_counter() - t0
    per = ob.stats.bytes_written / max(ob.stats.committed, 1)
    ob.close()
    pub.stop()
    return n / dt, per


def replay(broker: LocalBroker, state: Path, n: int) -> float:
    """Messages per second draining a backlog committed while the link was down."""
    ob, pub = outbox_pair(broker, state, "replay")
    link = threading.Event()
    ob.start(lambda t, p: pub.publish(t, p, qos=1), lambda: link.is_set() and pub.connected)
    for i in range(n):
        ob.put(Outbound("cam", "results", body(i)))
    wait(lambda: ob.stats.committed >= n)
    pub.start()
    pub.wait_connected(10)
    t0 = time.perf_counter()
    link.set()
    ob.wake()
    wait(lambda: ob.stats.delivered >= n)
    dt = time.perf_counter() - t0
    ob.close()
    pub.stop()
    return n / dt


def paced_bytes(broker: LocalBroker, state: Path, rate: float, seconds: float) -> float:
    """Bytes written per result at a steady camera-like rate (default commit settings)."""
    ob, pub = outbox_pair(broker, state, "paced")
    ob.start(lambda t, p: pub.publish(t, p, qos=1), lambda: pub.connected)
    pub.start()
    pub.wait_connected(10)
    n = int(rate * seconds)
    t0 = time.perf_counter()
    for i in range(n):
        ob.put(Outbound("cam", "results", body(i)))
        time.sleep(max(0.0, t0 + (i + 1) / rate - time.perf_counter()))
    wait(lambda: ob.stats.delivered >= n)
    ob.close()  # the last deletions are committed here
    pub.stop()
    return ob.stats.bytes_written / max(ob.stats.committed, 1)


def plot(rows: list[tuple[str, float]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color=["#888", "#2a7", "#27a"])
    ax.set_xlabel("messages/s to a local Mosquitto (QoS 1, window 64)")
    fig.tight_layout()
    OUT.mkdir(exist_ok=True)
    path = OUT / "outbox.png"
    fig.savefig(path, dpi=120)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20000, help="messages per measurement")
    ap.add_argument("--paced-s", type=float, default=10.0, help="seconds of the 30/s measurement")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is shown")
    args = ap.parse_args()
    broker = start_mosquitto()
    state = Path(tempfile.mkdtemp(prefix="edge-outbox-bench-", dir="/var/tmp"))
    rounds: list[tuple[float, float, float, float]] = []
    try:
        for r in range(args.rounds):  # interleaved, so machine noise hits both sides alike
            d = direct(broker, args.n)
            o, per = through_outbox(broker, state / str(r), args.n)
            rounds.append((d, o, replay(broker, state / str(r), args.n), per))
        per_paced = paced_bytes(broker, state, 30.0, args.paced_s)
    finally:
        broker.stop()
    med = sorted(rounds, key=lambda x: x[1] / x[0])[len(rounds) // 2]  # the median round by ratio
    rate_direct, rate_outbox, _, per_fast = med
    rate_replay = statistics.median(x[2] for x in rounds)
    size = len(json.dumps(body(1))) + 45
    print(
        f"outbox benchmark: {args.n} results of ~{size} bytes, QoS 1, window {WINDOW}, {args.rounds} rounds"
    )
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| direct paho QoS 1 publish | {rate_direct:,.0f} msg/s | |")
    print(f"| through the outbox (commit, publish, PUBACK, delete) | {rate_outbox:,.0f} msg/s | |")
    print(f"| ratio outbox ÷ direct (median round) | {rate_outbox / rate_direct:.2f} | ≥ 0.8 |")
    print(f"| replay after an outage (median) | {rate_replay:,.0f} msg/s | ≥ 5,000 |")
    print(f"| bytes written per result, full speed | {per_fast:.0f} B | ≤ 200 |")
    print(f"| bytes written per result, 30 results/s | {per_paced:.0f} B | ≤ 200 |")
    print("rounds (direct, outbox, replay msg/s):", [tuple(round(v) for v in x[:3]) for x in rounds])
    print(
        "saved",
        plot([("direct paho", rate_direct), ("through outbox", rate_outbox), ("replay", rate_replay)]),
    )


if __name__ == "__main__":
    main()
