"""Collector throughput: results stored per second by `fleet collect`, one collector vs two in one MQTT 5
shared-subscription group, SQLite (and PostgreSQL with --dsn), on a local Mosquitto.

A publisher sends N QoS 1 results from 10 simulated devices as fast as the broker takes them; the clock
runs from the first publish to the moment every result is committed (ack-after-commit, as in
production). Prints a table and saves benchmarks/out/fleet_collect.png. On a 2-core machine the
publisher, the broker and the collectors share the cores: read the ratios, not the absolute numbers.

    .venv/bin/python benchmarks/fleet_collect.py [--n 20000] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from edge_agent.demo.broker import start_mosquitto
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.fleet.collector import Collector
from edge_agent.fleet.store import Store, open_store

OUT = Path(__file__).parent / "out"


def run(port: int, stores: list[Store], n: int, run_id: str) -> tuple[float, list[int]]:
    opts = BrokerOptions(port=port)
    group = f"bench{run_id}" if len(stores) > 1 else None
    cols = [Collector(connect(opts, role="collector"), s, share_group=group) for s in stores]
    for c in cols:
        c.start()
    pub = connect(opts, role="device")
    bodies = []
    for i in range(n):
        dev, seq = f"bench{run_id}-{i % 10}", i // 10 + 1
        body = {
            "v": 1,
            "device": dev,
            "pipeline": "cam",
            "seq": seq,
            "ts": time.time(),
            "model": "m@1",
            "latency_ms": 3.1,
            "output": {"top": [{"label": "person", "score": 0.91}]},
        }
        bodies.append((f"edge/{dev}/cam/results", json.dumps(body, separators=(",", ":"))))
    t0 = time.perf_counter()
    infos = [pub.publish(t, b, qos=1) for t, b in bodies]
    for info in infos:
        info.wait_for_publish(60)
    while sum(c.stored for c in cols) < n:
        if time.perf_counter() - t0 > 300:
            raise SystemExit(f"{run_id}: collectors stored {[c.stored for c in cols]} of {n} within 300 s")
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    for c in cols:
        c.stop()
        disconnect(c.client)
    disconnect(pub)
    return elapsed, [c.stored for c in cols]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dsn", help="also measure PostgreSQL at this DSN")
    ap.add_argument("--inflight", type=int, default=20, help="mosquitto max_inflight_messages (default 20)")
    args = ap.parse_args()
    # Mosquitto drops QoS 1 messages for a client that falls more than max_queued_messages (default 1000)
    # behind, even while it is connected: a fleet broker must raise it (docs/fleet.md).
    broker = start_mosquitto(extra=f"max_queued_messages 1000000\nmax_inflight_messages {args.inflight}\n")
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            configs: list[tuple[str, list[str]]] = [
                ("sqlite, 1 collector", [f"{tmp}/a.sqlite"]),
                ("sqlite, 2 shared", [f"{tmp}/b.sqlite", f"{tmp}/b.sqlite"]),
            ]
            if args.dsn:
                configs += [
                    ("postgres, 1 collector", [args.dsn]),
                    ("postgres, 2 shared", [args.dsn, args.dsn]),
                ]
            for i, (label, targets) in enumerate(configs):
                stores = [open_store(t) for t in targets]
                elapsed, split = run(broker.port, stores, args.n, f"{i}-{int(time.time())}")
                for s in stores:
                    s.close()
                rows.append((label, args.n / elapsed, split))
    finally:
        broker.stop()
    base = rows[0][1]
    print(f"{'config':<24} {'results/s':>10} {'vs first':>9}  split")
    for label, rate, split in rows:
        print(f"{label:<24} {rate:>10.0f} {rate / base:>8.2f}x  {split}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh([r[0] for r in rows], [r[1] for r in rows])
    ax.set_xlabel("results stored per second")
    ax.set_title(f"fleet collect, {args.n} QoS 1 results")
    fig.tight_layout()
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "fleet_collect.png", dpi=120)


if __name__ == "__main__":
    main()
