"""Motion gating on a minute of mostly still video: CPU-seconds gated vs ungated, no event missed.

The video is built in memory from real skimage images: a still scene with sensor noise, and
scripted events (objects entering, passing, staying, leaving; a light switched on). The model is
the real OriNet classifier (occular-deskew) through the agent's Preprocessor, one ORT thread.
"Missed" means the gate let no frame of an event's interval reach the model. CPU is thread CPU
time (time.thread_time) of gate + preprocess + session.run; building the frames is not counted.

    .venv/bin/python benchmarks/gating.py [--fps 10] [--seconds 60]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from skimage import data

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import PreprocessConfig
from edge_agent.demo.video import orientation_model_path
from edge_agent.gating.config import MotionGateConfig
from edge_agent.gating.motion import MotionGate
from edge_agent.stages.types import Frame

OUT = Path(__file__).parent / "out"
W, H = 640, 480


@dataclass(frozen=True)
class Event:
    name: str
    start: float
    end: float


EVENTS = [
    Event("face walks in, stays, walks out", 8.0, 14.0),
    Event("cat passes quickly", 22.0, 23.5),
    Event("page put down (stays)", 33.0, 33.6),
    Event("page taken away", 44.0, 44.6),
    Event("light switched on", 52.0, 52.3),
]


def _bgr(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return cv2.resize(np.ascontiguousarray(img[:, :, ::-1]), size, interpolation=cv2.INTER_AREA)


def scene_at(t: float, parts: dict[str, np.ndarray]) -> np.ndarray:
    """The clean frame at time t (noise is added by the caller)."""
    img = parts["background"].copy()
    face, cat, page = parts["face"], parts["cat"], parts["page"]
    if 8.0 <= t < 14.0:  # in from the left over 2 s, stand 2 s, out to the right over 2 s
        x = int(-160 + 360 * min(t - 8.0, 2.0) / 2.0 + (360 * (t - 12.0) / 2.0 if t >= 12.0 else 0))
        _paste(img, face, x, 150)
    if 22.0 <= t < 23.5:
        _paste(img, cat, int(-200 + 840 * (t - 22.0) / 1.5), 260)
    if 33.0 <= t < 44.0:
        _paste(img, page, 420, 40)
    if t >= 52.0:
        img = cv2.convertScaleAbs(img, alpha=1.0, beta=35)
    return img


def _paste(img: np.ndarray, obj: np.ndarray, x: int, y: int) -> None:
    h, w = obj.shape[:2]
    x0, x1 = max(x, 0), min(x + w, img.shape[1])
    if x1 > x0:
        img[y : y + h, x0:x1] = obj[:, x0 - x : x1 - x]


def build_video(fps: float, seconds: float) -> list[Frame]:
    parts = {
        "background": _bgr(data.coffee(), (W, H)),
        "face": _bgr(data.astronaut()[20:260, 120:340], (160, 176)),
        "cat": _bgr(data.chelsea(), (200, 150)),
        "page": _bgr(data.page(), (180, 100)),
    }
    rng = np.random.default_rng(0)
    frames = []
    for i in range(int(fps * seconds)):
        t = i / fps
        noisy = scene_at(t, parts).astype(np.int16) + rng.normal(0, 2.5, (H, W, 3)).astype(np.int16)
        frames.append(Frame(np.clip(noisy, 0, 255).astype(np.uint8), ts=t, index=i))
    return frames


def run(frames: list[Frame], gate: MotionGate | None) -> tuple[float, list[int]]:
    """Thread CPU-seconds for the whole minute, and the indices of frames the model ran on."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(orientation_model_path()), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    pre = Preprocessor(PreprocessConfig(resize="letterbox", pad_value=255), list(inp.shape), inp.type)
    sess.run(None, {inp.name: pre(frames[0].data)[0]})  # warm-up outside the measurement
    inferred = []
    t0 = time.thread_time()
    for f in frames:
        if gate is not None and not gate(f):
            continue
        sess.run(None, {inp.name: pre(f.data)[0]})
        inferred.append(f.index)
    return time.thread_time() - t0, inferred


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    frames = build_video(args.fps, args.seconds)
    cfg = MotionGateConfig()
    cpu_all, _ = run(frames, None)
    gate = MotionGate(cfg)
    cpu_gated, inferred = run(frames, gate)
    gate_only = MotionGate(cfg)
    t0 = time.thread_time()
    for f in frames:
        gate_only(f)
    gate_cpu = time.thread_time() - t0

    ran = set(inferred)
    print(
        f"{len(frames)} frames ({args.seconds:.0f} s at {args.fps:g} fps), {W}x{H}; OriNet 320x320, 1 thread"
    )
    print(
        f"gate: width {cfg.width}, blur {cfg.blur}, threshold {cfg.threshold}, min_area {cfg.min_area}, "
        f"hold {cfg.hold_s} s, keyframe every {cfg.keyframe_interval_s} s\n"
    )
    print(f"{'event':34s} {'start':>6s} {'end':>6s} {'frames':>7s} {'inferred':>9s} {'first (s)':>10s}")
    missed = 0
    for ev in EVENTS:
        idx = [f.index for f in frames if ev.start <= f.ts < ev.end]
        hit = [i for i in idx if i in ran]
        first = f"{(hit[0] - idx[0]) / args.fps:.1f}" if hit else "MISSED"
        missed += not hit
        print(f"{ev.name:34s} {ev.start:6.1f} {ev.end:6.1f} {len(idx):7d} {len(hit):9d} {first:>10s}")
    s = gate.stats
    print(f"\n{'':24s} {'frames inferred':>16s} {'CPU-s':>8s} {'CPU-s/frame':>12s}")
    print(f"{'ungated':24s} {len(frames):16d} {cpu_all:8.2f} {cpu_all / len(frames) * 1000:10.2f}ms")
    print(f"{'gated':24s} {s.inferred:16d} {cpu_gated:8.2f} {cpu_gated / len(frames) * 1000:10.2f}ms")
    print(f"{'  of which the gate':24s} {'':16s} {gate_cpu:8.2f} {gate_cpu / len(frames) * 1e6:8.0f}us/fr")
    ratio = cpu_gated / cpu_all
    print(
        f"\nframes seen {s.seen}, inferred {s.inferred} (motion {s.motion}, keyframes {s.keyframes}, "
        f"hold {s.inferred - s.motion - s.keyframes}), skipped {s.skipped}"
    )
    print(f"CPU-seconds gated / ungated = {ratio:.3f}  (target <= 0.2); scripted events missed: {missed}")
    _plot(frames, ran, args.fps, cpu_all, cpu_gated)
    if ratio > 0.2 or missed:
        raise SystemExit(1)


def _plot(frames: list[Frame], ran: set[int], fps: float, cpu_all: float, cpu_gated: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 3.2), gridspec_kw={"width_ratios": [4, 1]})
    for ev in EVENTS:
        ax.axvspan(ev.start, ev.end, color="orange", alpha=0.3)
    t = [f.ts for f in frames]
    ax.vlines([t[i] for i in sorted(ran)], 0, 1, color="tab:blue", linewidth=0.8)
    ax.set_xlabel("time (s)")
    ax.set_yticks([])
    ax.set_title("frames sent to the model (blue) vs scripted events (orange)")
    bx.bar(["ungated", "gated"], [cpu_all, cpu_gated], color=["grey", "tab:blue"])
    bx.set_ylabel("CPU-seconds")
    fig.tight_layout()
    fig.savefig(OUT / "gating.png", dpi=120)
    print(f"plot: {OUT / 'gating.png'}")


if __name__ == "__main__":
    main()
