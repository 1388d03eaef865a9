"""Cascade vs always-large on a real labelled set (scikit-learn digits), side by side.

A small logistic regression sees every test image; the larger model runs only when the small one's
top probability is below `high` (band [0, high)). Two larger models: 3-nearest-neighbours over the
training set and a 256x256 MLP. All are exported with skl2onnx (export side; this script is not
part of the agent) and run in ONNX Runtime, one thread, one image per call as on a device. CPU is
thread CPU time of the session calls (time.thread_time).

    .venv/bin/python benchmarks/cascade.py
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier

from edge_agent.ensemble.models import Cascade, Member

OUT = Path(__file__).parent / "out"
BANDS = [0.6, 0.7, 0.8, 0.9, 0.95]


def _member(model: Any, x_tr: np.ndarray, name: str) -> Member:
    onx = to_onnx(
        model, x_tr[:1], options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3}
    )
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return Member(lambda feeds: s.run(None, feeds), name=name)


def measure(model: Member | Cascade, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and CPU-seconds per image, one image per call."""
    run = model.probs if isinstance(model, Member) else (lambda f: model.run(f)[0])
    run({"X": x[:1]})  # warm-up
    if isinstance(model, Cascade):
        model.inputs = model.escalated = 0
    preds = np.empty(len(x), dtype=np.int64)
    t0 = time.thread_time()
    for i in range(len(x)):
        preds[i] = int(np.argmax(run({"X": x[i : i + 1]})))
    cpu = (time.thread_time() - t0) / len(x)
    return float((preds == y).mean()), cpu


def main() -> None:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small_model = LogisticRegression(C=0.5, solver="newton-cg", max_iter=100).fit(x_tr, y_tr)
        larges = {
            "knn3": KNeighborsClassifier(3).fit(x_tr, y_tr),
            "mlp256x256": MLPClassifier((256, 256), max_iter=300, random_state=0).fit(x_tr, y_tr),
        }
    small = _member(small_model, x_tr, "small")
    acc_s, cpu_s = measure(small, x_te, y_te)
    print(f"digits: {len(x_tr)} train / {len(x_te)} test images; ONNX Runtime CPU, 1 thread, batch 1\n")
    print(f"{'model':28s} {'accuracy':>9s} {'large runs':>11s} {'CPU us/img':>11s} {'saved vs large':>15s}")
    print(f"{'small (logistic regression)':28s} {acc_s:9.4f} {'-':>11s} {cpu_s * 1e6:11.1f} {'-':>15s}")
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for name, model in larges.items():
        large = _member(model, x_tr, name)
        acc_l, cpu_l = measure(large, x_te, y_te)
        print(f"{'always ' + name:28s} {acc_l:9.4f} {'100%':>11s} {cpu_l * 1e6:11.1f} {'0%':>15s}")
        rows[name] = [(1.0, acc_l, cpu_l, 1.0)]
        for hi in BANDS:
            cascade = Cascade(small, large, band=(0.0, hi))
            acc, cpu = measure(cascade, x_te, y_te)
            ratio = cascade.stats()["large_ratio"]
            print(
                f"{f'cascade {name} [0,{hi})':28s} {acc:9.4f} {ratio:10.1%} {cpu * 1e6:11.1f} "
                f"{1 - cpu / cpu_l:14.1%}{'  = large accuracy' if acc >= acc_l else ''}"
            )
            rows[name].append((hi, acc, cpu, ratio))
        print()
    print(
        "A cascade saves compute only when the large model costs several times the small one: the small\n"
        "model (and the Python around each call) is paid on every image."
    )
    _plot(rows, (acc_s, cpu_s))


def _plot(rows: dict[str, list[tuple[float, float, float, float]]], small: tuple[float, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter([small[1] * 1e6], [small[0]], color="black", label="small only")
    for name, pts in rows.items():
        line = ax.plot(
            [p[2] * 1e6 for p in pts[1:]], [p[1] for p in pts[1:]], marker="o", label=f"cascade → {name}"
        )
        ax.scatter(
            [pts[0][2] * 1e6],
            [pts[0][1]],
            marker="*",
            s=140,
            color=line[0].get_color(),
            label=f"always {name}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("CPU microseconds per image (log)")
    ax.set_ylabel("accuracy")
    ax.set_title("digits: cascade vs always-large")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "cascade.png", dpi=120)
    print(f"plot: {OUT / 'cascade.png'}")


if __name__ == "__main__":
    main()
