"""Task metrics of a variant against fp32 (or the source framework) on held-out data.

Every metric is an agreement in 0..1 where 1 means "same as the reference", so one budget
(`max_drop`) reads the same for all tasks: classification top-1 agreement (top-5 containment
reported too), cosine for embeddings and raw tensors, box-matching F1 for detection, label agreement
for scikit-learn.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.bundle.graph import as_written
from exporters import heads
from exporters.sources import Feed

Outputs = list[dict[str, np.ndarray]]

# A held-out sample is a near-tie when fp32's own top two scores are closer than this fraction of the
# reference outputs' standard deviation: any rounding flips it, so the report counts such samples apart.
NEAR_TIE = 0.05

DEFAULT_MAX_DROP = {"classification": 0.03, "embedding": 0.01, "detection": 0.05, "raw": 0.01, "labels": 0.0}


def session(path: Path, threads: int = 1) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    as_written(so)  # the graph the device runs (edge_agent.bundle.graph)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def run(path: Path, feeds: list[Feed], *, threads: int = 2, desc: str | None = None) -> Outputs:
    """Outputs of the model at `path` for every feed, by output name."""
    from tqdm import tqdm

    sess = session(path, threads)
    names = [o.name for o in sess.get_outputs()]
    wanted = {i.name for i in sess.get_inputs()}
    out: Outputs = []
    for feed in tqdm(
        feeds, desc=desc or path.stem, file=sys.stderr, leave=False, disable=True if desc is None else None
    ):
        values = sess.run(None, {k: v for k, v in feed.items() if k in wanted})
        out.append(dict(zip(names, values, strict=True)))
    return out


def _primary(outs: Outputs, task: str) -> str:
    names = list(outs[0])
    if task == "embedding":
        for n in ("sentence_embedding", "pooler_output", "embeddings"):
            if n in names:
                return n
    floats = [n for n in names if np.issubdtype(outs[0][n].dtype, np.floating)]
    return (floats or names)[-1 if task == "classification" and len(floats) > 1 else 0]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else float(np.array_equal(a, b))


def _ties(ref: np.ndarray, same: np.ndarray) -> dict[str, Any]:
    """Where the top-1 flips are: among fp32's own near-ties, or on samples fp32 is sure of."""
    if ref.shape[1] < 2:
        return {}
    top2 = np.sort(ref, 1)[:, -2:]
    tie = (top2[:, 1] - top2[:, 0]) < NEAR_TIE * float(ref.std())
    decisive = ~tie
    return {
        "flips": int((~same).sum()),
        "near_ties": int(tie.sum()),
        "flips_at_near_ties": int((~same & tie).sum()),
        "decisive_agreement": float(same[decisive].mean()) if decisive.any() else None,
    }


def compare(task: str, ref: Outputs, cand: Outputs, head: str | None = None) -> dict[str, Any]:
    """{"metric": name, "value": 0..1, ...extras} of `cand` against `ref`."""
    if task == "detection" and head:
        tp = fp = fn = 0
        for r, c in zip(ref, cand, strict=True):
            a, b, d = heads.f1(heads.decode(head, r), heads.decode(head, c))
            tp, fp, fn = tp + a, fp + b, fn + d
        value = 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
        return {"metric": "box_f1", "value": value, "matched": tp, "extra": fp, "missed": fn}
    name = _primary(ref, task)
    if task == "classification":
        ref_m = np.concatenate([o[name].reshape(1, -1) for o in ref])
        cand_m = np.concatenate([o[name].reshape(1, -1) for o in cand])
        top1_r = ref_m.argmax(1)
        top5_c = np.argsort(-cand_m, 1)[:, :5]
        same = cand_m.argmax(1) == top1_r
        return {
            "metric": "top1_agreement",
            "value": float(same.mean()),
            "top5_containment": float((top5_c == top1_r[:, None]).any(1).mean()),
            **_ties(ref_m, same),
            "output": name,
        }
    if task == "embedding" and ref[0][name].ndim == 3:
        # token embeddings: compare the mean-pooled vectors, what a device would publish
        cos = [_cosine(a[name].mean(1), b[name].mean(1)) for a, b in zip(ref, cand, strict=True)]
    else:
        cos = [_cosine(a[name], b[name]) for a, b in zip(ref, cand, strict=True)]
    return {"metric": "cosine", "value": float(np.mean(cos)), "min": float(np.min(cos)), "output": name}


def label_agreement(expected: np.ndarray, outs: Outputs) -> dict[str, Any]:
    """Agreement of a model's label output (its first output) with the source framework's labels."""
    name = next(iter(outs[0]))
    got = np.concatenate([o[name].reshape(-1) for o in outs])
    exp = expected.reshape(-1)
    same = got.astype(str) == exp.astype(str)
    return {"metric": "label_agreement", "value": float(same.mean()), "output": name, "n": len(exp)}


def round_inputs(feeds: list[Feed], calib: list[Feed], bits: int = 8) -> list[Feed]:
    """`feeds` with every float input rounded to the `bits`-bit grid that minmax calibration on
    `calib` gives it (asymmetric, range widened to hold 0): what a static QDQ model's first
    QuantizeLinear does to its input. Integer inputs (token ids) pass through."""
    levels = 2**bits - 1
    grids: dict[str, tuple[float, float]] = {}
    for name, value in calib[0].items():
        if not np.issubdtype(value.dtype, np.floating):
            continue
        lo = min(0.0, float(np.min([f[name].min() for f in calib])))
        hi = max(0.0, float(np.max([f[name].max() for f in calib])))
        if hi > lo:
            scale = (hi - lo) / levels
            grids[name] = (scale, float(np.round(-lo / scale)))
    out: list[Feed] = []
    for feed in feeds:
        rounded = dict(feed)
        for name, (scale, zp) in grids.items():
            q = np.clip(np.round(feed[name] / scale) + zp, 0, levels)
            rounded[name] = ((q - zp) * scale).astype(feed[name].dtype)
        out.append(rounded)
    return out
