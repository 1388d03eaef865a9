"""`edge-agent demo`: a real model on a real video, results printed as a separate MQTT subscriber gets them.

Starts Mosquitto if it is installed (else an embedded amqtt broker, MQTT 3.1.1), writes a video of
real photographs and scanned pages shown at four rotations, runs the OriNet document-orientation
classifier on it through the full agent (outbox, QoS 1), and prints each result on arrival.
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from edge_agent.errors import EdgeAgentError


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run a real model on a real video and watch results arrive over MQTT")
    p.add_argument("--broker", default=None, help="use this broker (host:port) instead of starting one")
    p.add_argument("--protocol", choices=["5", "3.1.1"], default=None, help="MQTT version for --broker")
    p.add_argument("--fps", type=float, default=10.0, help="pace of the video (0: as fast as possible)")
    p.add_argument("--frames-per-view", type=int, default=3, help="frames per image and rotation")
    p.add_argument("--loop", action="store_true", help="play the video again and again until Ctrl-C")
    p.add_argument("--json", action="store_true", help="print received payloads as JSON lines")
    p.set_defaults(func=handle)


def _config(workdir: Path, video: Path, model: Path, host: str, port: int, protocol: str, args: Any) -> Any:
    from edge_agent.config.models import AgentConfig

    return AgentConfig.model_validate(
        {
            "device": {"id": "demo-device", "state_dir": str(workdir / "state")},
            "mqtt": {"host": host, "port": port, "protocol": protocol},
            "stats_interval_s": 5,
            "pipelines": {
                "orientation": {
                    "source": {"kind": "video", "path": str(video), "fps": args.fps or None, "loop": args.loop},
                    "model": {"path": str(model), "id": "orinet-orientation"},
                    "preprocess": {
                        "resize": "letterbox",
                        "pad_value": 255,
                        "color": "rgb",
                        "mean": [0.485, 0.456, 0.406],
                        "std": [0.229, 0.224, 0.225],
                    },
                    "postprocess": {
                        "kind": "classification",
                        "labels": ["upright", "rotated_90_cw", "rotated_180", "rotated_270_cw"],
                        "top_k": 1,
                    },
                }
            },
        }
    )


def handle(args: argparse.Namespace) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from edge_agent.agent import Agent
    from edge_agent.demo.broker import LocalBroker, start_local_broker
    from edge_agent.demo.video import SIZE, make_demo_video, orientation_model_path

    try:
        model = orientation_model_path()
    except FileNotFoundError as exc:
        raise EdgeAgentError(str(exc)) from exc
    workdir = Path(tempfile.mkdtemp(prefix="edge-agent-demo-"))
    video = workdir / "demo.avi"
    truth = make_demo_video(video, frames_per_view=args.frames_per_view, fps=args.fps or 10.0)
    broker: LocalBroker | None = None
    if args.broker:
        host, _, port_s = args.broker.rpartition(":")
        host, port, protocol = host or "127.0.0.1", int(port_s), args.protocol or "5"
    else:
        broker = start_local_broker()
        host, port, protocol = "127.0.0.1", broker.port, broker.protocol
        print(f"broker: {broker.kind} on 127.0.0.1:{port} (MQTT {protocol})")
    print(f"video:  {video} ({len(truth)} frames of real images at 4 rotations)")
    print(f"model:  {model.name} (OriNet document orientation, ONNX Runtime)\n")

    received: list[dict[str, Any]] = []
    sizes: list[int] = []
    got_all = threading.Event()
    stop = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        body = json.loads(msg.payload)
        received.append(body)
        sizes.append(len(msg.payload))
        if args.json:
            print(msg.payload.decode(), flush=True)
        else:
            top = body["output"]["top"][0]
            want = truth[body["frame"] % len(truth)]
            mark = "ok " if top["label"] == want else "MISS"
            print(
                f"seq {body['seq']:>4}  {top['label']:<15} {top['score']:.3f}  truth {want:<15} {mark}"
                f"  {body['latency_ms']:6.1f} ms  {len(msg.payload)} B",
                flush=True,
            )
        if not args.loop and len(received) >= len(truth):
            got_all.set()

    sub = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="edge-agent-demo-subscriber",
        protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
    )
    sub.on_message = on_message
    sub.on_connect = lambda c, *_a: c.subscribe("edge/demo-device/+/results", qos=1)
    sub.connect(host, port)
    sub.loop_start()

    cfg = _config(workdir, video, model, host, port, protocol, args)
    agent = Agent(cfg)
    previous = signal.signal(signal.SIGINT, lambda *_a: stop.set())
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    t0 = time.monotonic()
    try:
        agent.start()
        while not stop.is_set() and not got_all.wait(0.2):
            pipe = agent.pipelines["orientation"]
            if pipe.state == "failed":
                raise EdgeAgentError(f"demo pipeline failed: {pipe.error}")
            if pipe.finished.is_set() and agent.outbox.depth == 0 and time.monotonic() - t0 > 60:
                break
    finally:
        agent.stop(drain_s=2.0)
        sub.loop_stop()
        sub.disconnect()
        if broker is not None:
            broker.stop()
        signal.signal(signal.SIGINT, previous)

    results = [r for r in received if "output" in r]
    n_ok = sum(
        1 for r in results if r["output"]["top"][0]["label"] == truth[r["frame"] % len(truth)]
    )
    raw = SIZE[0] * SIZE[1] * 3
    mean_size = sum(sizes) / len(sizes) if sizes else 0
    print(
        f"\n{len(results)} results received over MQTT in {time.monotonic() - t0:.1f}s; "
        f"{n_ok}/{len(results)} orientations right; "
        f"{mean_size:.0f} bytes per result vs {raw} bytes per raw frame ({raw / max(mean_size, 1):.0f}x less)"
    )
    return 0 if results and (args.loop or len(results) >= len(truth)) else 1
