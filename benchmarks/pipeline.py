"""Agent vs bare ONNX Runtime on the same model and frames, in one run, over thread layouts.

(a) bare `session.run` loops on tensors preprocessed beforehand: one session with 1, 2, … intra-op
threads (up to the cores this process may use), and as many sessions as cores, one thread each;
(b) the agent as a subprocess, from video decode to PUBACK, measured by a separate MQTT subscriber:
single-thread (`intra_op_threads: 1, workers: 1`, the old default) and the automatic layout (the
defaults), and (c) the agent on the Raspberry Pi Zero 2 W profile (`low_memory`), for its RSS budget: on
the fp32 model as shipped, and on the signed int8 bundle the exporter builds for that board.
Prints fps and their ratios (automatic ÷ best bare, automatic ÷ single-thread agent), p50/p95
latency, peak RSS (VmHWM of the agent process), cold start to first result, bytes published per
frame ÷ raw frame bytes, where the agent's memory goes at import, and the load average beside them;
saves a plot to benchmarks/out/pipeline.png.

    .venv/bin/python benchmarks/pipeline.py [--frames-per-view 10] [--rounds 1] [--rss-only]

`--rss-only`: only (c) and the import table, for the RSS budget (under a minute).

It starts as a device does after a reboot, with the shared libraries (the venv's and Python's) out of
the page cache (benchmarks/pagecache.py): pages a fresh install has just written can sit in large
folios that a fault maps whole (Linux 6.16+ on ext4), which adds tens of MB of file-backed RSS and
makes the figure depend on what ran before.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
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
import pagecache
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import PreprocessConfig
from edge_agent.demo.broker import LocalBroker, start_local_broker
from edge_agent.demo.video import ROTATIONS, SIZE, make_demo_video, orientation_model_path
from edge_agent.pipeline.layout import usable_cores

OUT = Path(__file__).parent / "out"
PRE = {"resize": "letterbox", "pad_value": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
SMALL_BOARD = "rpi-zero-2w"
RSS_BUDGET_MB = 120.0
# What the agent process imports, in order, for the "where the memory goes" table (one process).
IMPORTS = [
    "numpy",
    "yaml",
    "pydantic",
    "cv2",
    "onnxruntime",
    "paho.mqtt.client",
    "edge_agent.config.models",
    "edge_agent.agent",
    "edge_agent.pipeline.vision",
]


def load_tensors(model: Path, video: Path) -> tuple[str, list[np.ndarray[Any, Any]]]:
    """The video's frames preprocessed as the agent does, and the model's input name."""
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    pre = Preprocessor(PreprocessConfig.model_validate(PRE), list(inp.shape), inp.type)
    cap = cv2.VideoCapture(str(video))
    tensors = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        tensors.append(pre(img)[0])
    return inp.name, tensors


def bare(
    model: Path, name: str, tensors: list[np.ndarray[Any, Any]], threads: int, sessions: int
) -> dict[str, float]:
    """`sessions` sessions of `threads` intra-op threads, each in its own thread, the frames dealt
    round-robin; fps over the whole set, latency per run."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = [ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"]) for _ in range(sessions)]
    for s in sess:
        s.run(None, {name: tensors[0]})  # warm-up, as the agent's first frame also pays it
    lat: list[float] = []

    def loop(s: ort.InferenceSession, part: list[np.ndarray[Any, Any]]) -> None:
        for x in part:
            t = time.perf_counter()
            s.run(None, {name: x})
            lat.append((time.perf_counter() - t) * 1000)

    workers = [threading.Thread(target=loop, args=(s, tensors[i::sessions])) for i, s in enumerate(sess)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    return {
        "frames": len(tensors),
        "fps": len(tensors) / wall,
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
    }


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak RSS) and the current RssAnon (private memory) and RssFile (mapped library code
    and data, backed by files the kernel can drop and re-read) of `pid`, in MB; {} once it has gone."""
    keys = {"VmHWM:": "hwm", "RssAnon:": "anon", "RssFile:": "file"}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in lines:
        parts = line.split()
        if parts and parts[0] in keys:
            out[keys[parts[0]]] = int(parts[1]) / 1024
    return out


def board_bundle(work: Path, target: str = SMALL_BOARD) -> tuple[Path, Path]:
    """OriNet as a device on the small board runs it: the exporter's bundle for its profile (int8,
    gated; or for `target`'s), signed; returns the bundle and the public key the agent is told to
    trust. Calibration and held-out images are scikit-image photos at four rotations (as tests/arm64
    build an rpi5 bundle)."""
    from skimage import data

    from edge_agent.bundle.sign import write_keypair
    from exporters.pipeline import ExportOptions, export_model

    photos = {"calib": ["astronaut", "coffee", "chelsea", "rocket"], "holdout": ["page", "camera", "moon"]}
    for folder, names in photos.items():
        (work / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            img = getattr(data, name)()
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_RGB2BGR)
            for k, turn in enumerate(ROTATIONS):
                cv2.imwrite(
                    str(work / folder / f"{name}_{90 * k}.png"),
                    img if turn is None else cv2.rotate(img, turn),
                )
    key, pub = write_keypair(work / "release")
    out = work / f"orinet-{target}"
    opts = ExportOptions(
        source=str(orientation_model_path()), out=out, target=target, calib=work / "calib",
        holdout=work / "holdout", key=key, measure=False, progress=False,
    )  # fmt: skip
    export_model(opts)
    return out, pub


def agent(
    model: Path,
    video: Path,
    n: int,
    broker: LocalBroker,
    work: Path,
    *,
    model_block: dict[str, Any],
    profile: str | None = None,
) -> dict[str, Any]:
    """The real agent on the video; fps in steady state from the subscriber's arrival times."""
    port, protocol = broker.port, broker.protocol
    device: dict[str, Any] = {"id": "bench", "state_dir": str(work / "state")}
    if profile:
        device["hardware_profile"] = profile
    cfg = {
        "device": device,
        "mqtt": {"host": "127.0.0.1", "port": port, "protocol": protocol},
        "log_level": "info",
        "pipelines": {
            "orient": {
                "source": {"kind": "video", "path": str(video)},
                "model": {"path": str(model), **model_block},
                **(
                    {}
                    if model.is_dir()
                    else {"preprocess": PRE, "postprocess": {"kind": "classification", "top_k": 1}}
                ),
            }
        },
    }
    work.mkdir(parents=True, exist_ok=True)
    cfg_file = work / "agent.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    arrivals: list[float] = []
    sizes: list[int] = []
    lat: list[float] = []
    frames: list[int] = []
    done = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        arrivals.append(time.perf_counter())
        sizes.append(len(msg.payload))
        body = json.loads(msg.payload)
        lat.append(body["latency_ms"])
        frames.append(body["frame"])
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
    log = (work / "agent.log").open("w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli.main", "run", "-c", str(cfg_file), "--until-done"],
        stderr=log,
    )
    rss = anon = file = 0.0
    while True:
        mem = memory_mb(proc.pid)
        rss = max(rss, mem.get("hwm", 0.0))
        if mem.get("anon", 0.0) + mem.get("file", 0.0) > anon + file:  # the split at the largest sample
            anon, file = mem.get("anon", 0.0), mem.get("file", 0.0)
        if done.wait(0.05) or proc.poll() is not None:
            break
    rss = max(rss, memory_mb(proc.pid).get("hwm", 0.0))
    proc.wait(30)
    sub.loop_stop()
    log.close()
    layout = next(
        (ln.split(": ", 1)[1] for ln in (work / "agent.log").read_text().splitlines() if "worker(s)" in ln),
        "?",
    )
    return {
        "frames": len(arrivals),
        "fps": (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]),
        "p50": statistics.median(lat),
        "p95": float(np.percentile(lat, 95)),
        "rss_mb": rss,
        "anon_mb": anon,
        "file_mb": file,
        "cold_start_s": arrivals[0] - t0,
        "bytes_per_result": statistics.mean(sizes),
        "in_order": frames == sorted(frames),
        "layout": layout.split(" of ")[0],
    }


def import_rss() -> list[tuple[str, float]]:
    """RSS added by each module the agent imports, in import order, in a fresh process (MB)."""
    code = (
        "import importlib, sys\n"
        "def rss():\n"
        "    line = next(x for x in open('/proc/self/status') if x.startswith('VmRSS'))\n"
        "    return int(line.split()[1]) / 1024\n"
        "out = [('python', rss())]\n"
        f"for m in {IMPORTS!r}:\n"
        "    importlib.import_module(m); out.append((m, rss()))\n"
        "print(out)\n"
    )
    rows = ast.literal_eval(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    return [
        (m, b - a) if i else (m, b)
        for i, ((m, b), (_, a)) in enumerate(zip(rows, [rows[0], *rows], strict=False))
    ]


def one_round(
    model: Path, video: Path, broker: LocalBroker, work: Path, cores: int, *, board: tuple[Path, Path]
) -> dict[str, Any]:
    name, tensors = load_tensors(model, video)
    bares = {f"bare, 1 session x {t} intra-op": bare(model, name, tensors, t, 1) for t in range(1, cores + 1)}
    if cores > 1:
        bares[f"bare, {cores} sessions x 1 in {cores} threads"] = bare(model, name, tensors, 1, cores)
    n = len(tensors)
    single = agent(
        model, video, n, broker, work / "single", model_block={"intra_op_threads": 1, "workers": 1}
    )
    auto = agent(model, video, n, broker, work / "auto", model_block={})
    small = agent(model, video, n, broker, work / "small", model_block={}, profile=SMALL_BOARD)
    signed = small_board_bundle_run(board, video, n, broker, work)
    best = max(bares, key=lambda k: bares[k]["fps"])
    return {"bares": bares, "best": best, "single": single, "auto": auto, "small": small, "signed": signed}


def small_board_bundle_run(
    board: tuple[Path, Path], video: Path, n: int, broker: LocalBroker, work: Path
) -> dict[str, Any]:
    """The agent on the small board's profile with the bundle the exporter builds for it (`board`:
    the bundle and its public key), signed and checked against a trusted key: what such a device runs."""
    bundle, pub = board
    block = {"trusted_keys": [str(pub)]}
    return agent(bundle, video, n, broker, work / "signed", model_block=block, profile=SMALL_BOARD)


def _row(name: str, v: dict[str, Any], rss: str = "", layout: str = "") -> str:
    return f"| {name:<44} | {v['fps']:6.1f} | {v['p50']:6.1f} | {v['p95']:6.1f} | {rss:>6} | {layout}"


def table(r: dict[str, Any], cores: int, load: tuple[float, float]) -> None:
    bares, best, single, auto, small, signed = (
        r[k] for k in ("bares", "best", "single", "auto", "small", "signed")
    )
    b = bares[best]
    print(
        f"\nOriNet orientation classifier, CPU EP, {cores} usable cores, load average {load[0]:.2f} "
        f"before / {load[1]:.2f} after (1 min)\n"
    )
    print(f"| {'run':<44} | {'fps':>6} | {'p50 ms':>6} | {'p95 ms':>6} | {'RSS MB':>6} | layout")
    print(f"|{'-' * 46}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 8}|-------")
    for k, v in bares.items():
        print(_row(k + (" (best)" if k == best else ""), v))
    runs = (
        ("agent, single thread", single),
        ("agent, automatic layout", auto),
        (f"agent, {SMALL_BOARD}", small),
        (f"agent, {SMALL_BOARD}, its signed int8 bundle", signed),
    )
    for k, v in runs:
        print(_row(k, v, f"{v['rss_mb']:.0f}", v["layout"]))
    raw = SIZE[0] * SIZE[1] * 3
    first = next(iter(bares.values()))
    print()
    print(f"automatic agent / best bare      {auto['fps'] / b['fps']:.3f}  (target >= 0.9)")
    print(f"automatic agent / single agent   {auto['fps'] / single['fps']:.3f}  (target > 1.6, model-bound)")
    print(f"single agent / bare 1 x 1        {single['fps'] / first['fps']:.3f}  (the old ratio, >= 0.95)")
    print(f"results in frame order           {all(x['in_order'] for x in (single, auto, small, signed))}")
    print_small(small, signed)
    print(f"cold start to first result       {auto['cold_start_s']:.2f} s (automatic layout)")
    per = auto["bytes_per_result"]
    print(f"bytes per frame / raw frame      {per:.0f} / {raw} = 1/{raw / per:.0f}")


def plot(r: dict[str, Any], imports: list[tuple[str, float]]) -> None:
    OUT.mkdir(exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = [k.replace("bare, ", "") for k in r["bares"]] + ["agent 1 thread", "agent auto"]
    fps = [v["fps"] for v in r["bares"].values()] + [r["single"]["fps"], r["auto"]["fps"]]
    ax1.barh(names, fps, color=["#888"] * len(r["bares"]) + ["#7bc", "#2a7"])
    ax1.set_xlabel("frames per second")
    ax1.set_title("throughput by thread layout")
    ax2.barh([m for m, _ in imports], [mb for _, mb in imports], color="#c84")
    ax2.axvline(0)
    ax2.set_xlabel("MB of RSS added at import")
    peaks = f"{r['small']['rss_mb']:.0f} / {r['signed']['rss_mb']:.0f} MB signed"
    ax2.set_title(f"{SMALL_BOARD}: peak RSS {peaks} (budget {RSS_BUDGET_MB:.0f})")
    fig.tight_layout()
    fig.savefig(OUT / "pipeline.png", dpi=100)
    print(f"\nplot: {OUT / 'pipeline.png'}")


def rss_only(
    model: Path, video: Path, broker: LocalBroker, work: Path, load0: float, *, board: tuple[Path, Path]
) -> None:
    """The small-board runs' peak RSS and the import table, nothing else."""
    n = int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT))
    try:
        small = agent(model, video, n, broker, work / "small", model_block={}, profile=SMALL_BOARD)
        signed = small_board_bundle_run(board, video, n, broker, work)
    finally:
        broker.stop()
    print(f"\nload average {load0:.2f} before / {os.getloadavg()[0]:.2f} after (1 min)")
    print_small(small, signed)
    print_imports(import_rss())


def print_small(small: dict[str, Any], signed: dict[str, Any]) -> None:
    for what, v in (("the fp32 .onnx, no key", small), ("its signed int8 bundle", signed)):
        print(f"peak RSS, {SMALL_BOARD}, {what:<24} {v['rss_mb']:.1f} MB  (budget <= {RSS_BUDGET_MB:.0f})")
        print(
            f"  at its largest sample: {v['anon_mb']:.0f} MB private (anonymous), "
            f"{v['file_mb']:.0f} MB file-backed (library code and data); {v['frames']} results"
        )
    print(f"  ({pagecache.dropped()})")


def print_imports(imports: list[tuple[str, float]]) -> None:
    print("\nwhere the agent's memory goes at import (MB of RSS, in import order)")
    for m, mb in imports:
        print(f"  {m:<28} {mb:6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames-per-view", type=int, default=10)
    ap.add_argument(
        "--rounds", type=int, default=1, help="rounds; the median by automatic/best-bare is shown"
    )
    ap.add_argument(
        "--rss-only", action="store_true", help=f"only the {SMALL_BOARD} agent run and the import table"
    )
    args = ap.parse_args()
    model = orientation_model_path()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    video = work / "bench.avi"
    make_demo_video(video, frames_per_view=args.frames_per_view)
    board = board_bundle(work / "board-bundle")  # built once, run in every round
    cores = usable_cores()
    load0 = os.getloadavg()[0]
    broker = start_local_broker()
    if args.rss_only:
        rss_only(model, video, broker, work, load0, board=board)
        return
    rounds = []
    try:
        for i in range(args.rounds):
            r = one_round(model, video, broker, work / f"r{i}", cores, board=board)
            ratio = r["auto"]["fps"] / r["bares"][r["best"]]["fps"]
            rounds.append((ratio, r))
            best = r["bares"][r["best"]]["fps"]
            print(f"round {i + 1}: best bare {best:.1f} fps, agent {r['auto']['fps']:.1f} fps, {ratio:.3f}")
    finally:
        broker.stop()
    rounds.sort(key=lambda p: p[0])
    r = rounds[len(rounds) // 2][1]  # the median round, all its figures from that one run
    table(r, cores, (load0, os.getloadavg()[0]))
    imports = import_rss()
    print_imports(imports)
    plot(r, imports)


if __name__ == "__main__":
    pagecache.run_cold()
    main()
