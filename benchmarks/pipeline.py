"""Agent vs bare ONNX Runtime on the same model and frames, in one run.

(a) a bare `session.run` loop on tensors preprocessed beforehand, (b) the agent as a subprocess,
from video decode to PUBACK, measured by a separate MQTT subscriber. Prints fps and their ratio,
p50/p95 latency, peak RSS, cold start to first result, and bytes published per frame ÷ raw frame
bytes; saves a plot to benchmarks/out/pipeline.png.

    .venv/bin/python benchmarks/pipeline.py [--frames-per-view 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import PreprocessConfig
from edge_agent.demo.broker import LocalBroker, start_local_broker
from edge_agent.demo.video import SIZE, make_demo_video, orientation_model_path

OUT = Path(__file__).parent / "out"
PRE = {"resize": "letterbox", "pad_value": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def bare(model: Path, video: Path) -> dict[str, float]:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    pre = Preprocessor(PreprocessConfig.model_validate(PRE), list(inp.shape), inp.type)
    cap = cv2.VideoCapture(str(video))
    tensors = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        tensors.append(pre(img)[0])
    sess.run(None, {inp.name: tensors[0]})  # warm-up, as the agent's first frame also pays it
    lat = []
    t0 = time.perf_counter()
    for x in tensors:
        t = time.perf_counter()
        sess.run(None, {inp.name: x})
        lat.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - t0
    return {
        "frames": len(tensors),
        "fps": len(tensors) / wall,
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
    }


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def agent(model: Path, video: Path, n: int, broker: LocalBroker, work: Path) -> dict[str, float]:
    port, protocol = broker.port, broker.protocol
    cfg = {
        "device": {"id": "bench", "state_dir": str(work / "state")},
        "mqtt": {"host": "127.0.0.1", "port": port, "protocol": protocol},
        "log_level": "warning",
        "pipelines": {
            "orient": {
                "source": {"kind": "video", "path": str(video)},
                "model": {"path": str(model), "intra_op_threads": 1},
                "preprocess": PRE,
                "postprocess": {"kind": "classification", "top_k": 1},
            }
        },
    }
    work.mkdir(parents=True, exist_ok=True)
    cfg_file = work / "agent.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    arrivals: list[float] = []
    sizes: list[int] = []
    lat: list[float] = []
    done = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        arrivals.append(time.perf_counter())
        sizes.append(len(msg.payload))
        lat.append(json.loads(msg.payload)["latency_ms"])
        if len(arrivals) >= n:
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311)
    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect("127.0.0.1", port)
    sub.subscribe("edge/bench/orient/results", qos=1)
    sub.loop_start()
    subscribed.wait(10)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli.main", "run", "-c", str(cfg_file), "--until-done"]
    )
    rss = 0.0
    while not done.wait(0.05) and proc.poll() is None:
        rss = max(rss, peak_rss_mb(proc.pid))
    rss = max(rss, peak_rss_mb(proc.pid))
    proc.wait(30)
    sub.loop_stop()
    steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    return {
        "frames": len(arrivals),
        "fps": steady,
        "p50": statistics.median(lat),
        "p95": float(np.percentile(lat, 95)),
        "rss_mb": rss,
        "cold_start_s": arrivals[0] - t0,
        "bytes_per_result": statistics.mean(sizes),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames-per-view", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="bare/agent pairs, interleaved against drift")
    args = ap.parse_args()
    model = orientation_model_path()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    video = work / "bench.avi"
    make_demo_video(video, frames_per_view=args.frames_per_view)
    broker = start_local_broker()
    pairs = []
    try:
        for i in range(args.rounds):
            b = bare(model, video)
            a = agent(model, video, int(b["frames"]), broker, work / f"r{i}")
            pairs.append((a["fps"] / b["fps"], b, a))
            print(
                f"round {i + 1}: bare {b['fps']:.1f} fps, agent {a['fps']:.1f} fps, ratio {pairs[-1][0]:.3f}"
            )
    finally:
        broker.stop()
    pairs.sort(key=lambda p: p[0])
    _ratio, b, a = pairs[len(pairs) // 2]  # the median round, all its figures from that one run
    raw = SIZE[0] * SIZE[1] * 3
    rows = [
        ("frames", f"{b['frames']:.0f}", f"{a['frames']:.0f}", ""),
        (
            "throughput fps",
            f"{b['fps']:.1f}",
            f"{a['fps']:.1f}",
            f"ratio {a['fps'] / b['fps']:.3f} (target >= 0.95)",
        ),
        ("latency p50 ms", f"{b['p50']:.1f}", f"{a['p50']:.1f}", "agent: preprocess + run + postprocess"),
        ("latency p95 ms", f"{b['p95']:.1f}", f"{a['p95']:.1f}", ""),
        ("peak RSS MB", "", f"{a['rss_mb']:.0f}", "target <= 150 (model 4.8 MB)"),
        (
            "cold start to first result s",
            "",
            f"{a['cold_start_s']:.2f}",
            "process start -> first PUBACKed result seen; <= 2",
        ),
        (
            "bytes per frame / raw frame",
            "",
            f"{a['bytes_per_result']:.0f} / {raw}",
            f"1/{raw / a['bytes_per_result']:.0f} (target <= 1/1000)",
        ),
    ]
    size_mb = model.stat().st_size / 1e6
    print(f"\nOriNet orientation classifier, {size_mb:.1f} MB, CPU EP, intra_op_num_threads=1\n")
    print(f"| {'measure':<30} | {'bare ORT':>9} | {'agent':>16} | note")
    print(f"|{'-' * 32}|{'-' * 11}|{'-' * 18}|------")
    for name, x, y, note in rows:
        print(f"| {name:<30} | {x:>9} | {y:>16} | {note}")
    OUT.mkdir(exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.bar(["bare ORT", "agent (decode→PUBACK)"], [b["fps"], a["fps"]], color=["#888", "#2a7"])
    ax1.set_ylabel("frames per second")
    ax1.set_title(f"throughput (ratio {a['fps'] / b['fps']:.2f})")
    ax2.bar(["p50", "p95"], [b["p50"], b["p95"]], width=-0.4, align="edge", label="bare ORT", color="#888")
    ax2.bar(["p50", "p95"], [a["p50"], a["p95"]], width=0.4, align="edge", label="agent", color="#2a7")
    ax2.set_ylabel("ms per frame")
    ax2.legend()
    ax2.set_title("latency")
    fig.tight_layout()
    fig.savefig(OUT / "pipeline.png", dpi=100)
    print(f"\nplot: {OUT / 'pipeline.png'}")


if __name__ == "__main__":
    main()
