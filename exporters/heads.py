"""Small detection decoders the accuracy gate needs to compare boxes: BlazeFace and YOLOv8 heads.

The gate compares a variant's boxes with fp32's boxes (F1 at IoU 0.5), so decoding only has to be
consistent, not tuned; BlazeFace's anchors follow MediaPipe's short-range SSD layout.
"""

from __future__ import annotations

import numpy as np

Boxes = np.ndarray  # [K, 5]: x1, y1, x2, y2 (0..1 of the input), score


def _blazeface_anchors(size: int = 128) -> np.ndarray:
    rows = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = size // stride
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) / n, (ys.ravel() + 0.5) / n], 1)
        rows.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(rows).astype(np.float32)


def nms(boxes: Boxes, iou: float = 0.3) -> Boxes:
    order = np.argsort(-boxes[:, 4])
    keep: list[int] = []
    for i in order:
        if all(box_iou(boxes[i], boxes[j]) < iou for j in keep):
            keep.append(int(i))
    return boxes[keep]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def decode_blazeface(outputs: dict[str, np.ndarray], threshold: float = 0.5, size: int = 128) -> Boxes:
    """regressors [1,896,16] + scores [1,896,1] → face boxes."""
    arrays = sorted(outputs.values(), key=lambda a: a.shape[-1])
    scores, reg = arrays[0].reshape(-1), arrays[-1].reshape(-1, 16)
    prob = 1.0 / (1.0 + np.exp(-np.clip(scores, -80, 80)))
    anchors = _blazeface_anchors(size)
    cx = anchors[:, 0] + reg[:, 0] / size
    cy = anchors[:, 1] + reg[:, 1] / size
    w, h = reg[:, 2] / size, reg[:, 3] / size
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, prob], 1)
    return nms(boxes[prob >= threshold])


def decode_yolo(outputs: dict[str, np.ndarray], threshold: float = 0.25) -> Boxes:
    """YOLOv8 [1, 4+C, N] (pixels of the input) → boxes; coordinates stay in input pixels."""
    out = next(iter(outputs.values()))[0].T  # [N, 4+C]
    scores = out[:, 4:].max(1)
    sel = out[scores >= threshold]
    s = scores[scores >= threshold]
    cx, cy, w, h = sel[:, 0], sel[:, 1], sel[:, 2], sel[:, 3]
    return nms(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s], 1), 0.45)


def decode(head: str, outputs: dict[str, np.ndarray]) -> Boxes:
    return decode_blazeface(outputs) if head == "blazeface" else decode_yolo(outputs)


def f1(ref: Boxes, cand: Boxes, iou: float = 0.5) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of `cand` against `ref`, greedy matching."""
    used: set[int] = set()
    tp = 0
    for b in cand:
        best, best_j = 0.0, -1
        for j, r in enumerate(ref):
            if j not in used and (v := box_iou(b, r)) > best:
                best, best_j = v, j
        if best >= iou:
            used.add(best_j)
            tp += 1
    return tp, len(cand) - tp, len(ref) - tp
