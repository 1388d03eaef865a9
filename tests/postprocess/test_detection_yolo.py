"""YOLO decoding: the real YOLOv8 fall-detection model on real photos, and synthetic heads with known
answers for v8/v5 layouts, NMS and class filters."""

from __future__ import annotations

import json
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import DetectionPost, PreprocessConfig
from edge_agent.errors import ModelError
from edge_agent.postprocess import build_postprocessor
from edge_agent.postprocess.detection import nms
from edge_agent.stages.types import Letterbox
from tests.postprocess.images import skimage_bgr

LABELS = ["Normal", "Fall"]
IDENTITY = Letterbox(1.0, 1.0, 0.0, 0.0, 100, 100, 100, 100)  # model input == frame, 100x100


def iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def assert_sane(result: dict[str, Any], iou_thr: float) -> None:
    json.dumps(result)
    dets = result["detections"]
    for d in dets:
        x1, y1, x2, y2 = d["box"]
        assert 0.0 <= x1 < x2 <= 1.0
        assert 0.0 <= y1 < y2 <= 1.0
        assert d["label"] == LABELS[d["index"]]
    for i, a in enumerate(dets):  # class-aware NMS: no two same-class boxes overlap past the threshold
        for b in dets[i + 1 :]:
            if a["index"] == b["index"]:
                assert iou(a["box"], b["box"]) <= iou_thr + 1e-3
    assert result["counts"] == {k: sum(d["label"] == k for d in dets) for k in {d["label"] for d in dets}}


def run(sess: ort.InferenceSession, frame: npt.NDArray[np.uint8], resize: str, **post: Any) -> dict[str, Any]:
    inp = sess.get_inputs()[0]
    pre = Preprocessor(PreprocessConfig(resize=resize), inp.shape, inp.type)
    x, lb = pre(frame)
    return build_postprocessor(DetectionPost(kind="yolo", labels=LABELS, **post))(
        sess.run(None, {inp.name: x}), lb
    )


def person_scene() -> tuple[npt.NDArray[np.uint8], list[float]]:
    """skimage's cameraman (a standing man) pasted at a known place in a grey 1280x720 frame."""
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[300:600, 800:1100] = cv2.resize(skimage_bgr("camera"), (300, 300))
    return frame, [800 / 1280, 300 / 720, 1100 / 1280, 600 / 720]


@pytest.mark.slow
@pytest.mark.parametrize("resize", ["letterbox", "stretch"])
def test_yolov8_finds_the_person_where_it_was_pasted(yolo_session: ort.InferenceSession, resize: str) -> None:
    frame, placed = person_scene()
    result = run(yolo_session, frame, resize)
    assert_sane(result, 0.45)
    best = result["detections"][0]
    # Measured: Normal 0.79 (letterbox) / 0.76 (stretch), box inside the pasted square, from the man's
    # left edge to his tripod, head to feet.
    assert best["label"] == "Normal"
    assert best["score"] > 0.6
    x1, y1, x2, y2 = best["box"]
    assert x1 >= placed[0] - 0.01
    assert y1 >= placed[1] - 0.01
    assert x2 <= placed[2] + 0.01
    assert y2 <= placed[3] + 0.01
    assert iou(best["box"], placed) > 0.5


@pytest.mark.slow
def test_letterbox_and_stretch_agree_on_the_box(yolo_session: ort.InferenceSession) -> None:
    frame, _ = person_scene()
    a = run(yolo_session, frame, "letterbox")["detections"][0]["box"]
    b = run(yolo_session, frame, "stretch")["detections"][0]["box"]
    assert np.allclose(a, b, atol=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera"])
def test_yolov8_on_real_photos_is_sane(yolo_session: ort.InferenceSession, name: str) -> None:
    loose = run(yolo_session, skimage_bgr(name), "letterbox", threshold=0.05, iou=0.45, max_detections=1000)
    assert_sane(loose, 0.45)
    # NMS did remove overlaps: the raw head has many candidates above 0.05 around each object.
    inp = yolo_session.get_inputs()[0]
    x, _ = Preprocessor(PreprocessConfig(resize="letterbox"), inp.shape, inp.type)(skimage_bgr(name))
    head = yolo_session.run(None, {inp.name: x})[0]
    assert int((head[0, 4:].max(axis=0) >= 0.05).sum()) > 2 * len(loose["detections"])


@pytest.mark.slow
def test_astronaut_is_a_standing_person(yolo_session: ort.InferenceSession) -> None:
    result = run(yolo_session, skimage_bgr("astronaut"), "letterbox", threshold=0.5)
    # Measured: one Normal 0.59 box covering her from the top of the frame down, left of the flag.
    assert [d["label"] for d in result["detections"]] == ["Normal"]
    assert result["detections"][0]["box"] == pytest.approx([0.0, 0.06, 0.74, 1.0], abs=0.05)


@pytest.mark.slow
def test_class_filter_on_the_real_model(yolo_session: ort.InferenceSession) -> None:
    frame, _ = person_scene()
    only_fall = run(yolo_session, frame, "letterbox", classes=["Fall"], threshold=0.01)
    assert only_fall["detections"]
    assert {d["label"] for d in only_fall["detections"]} == {"Fall"}


def v8_head(
    boxes: list[tuple[float, float, float, float]], scores: list[list[float]], n: int = 50
) -> npt.NDArray[Any]:
    """A [1, 4+C, n] head: the given cxcywh boxes and class scores first, zeros after."""
    c = len(scores[0])
    head = np.zeros((1, 4 + c, n), np.float32)
    for i, (box, s) in enumerate(zip(boxes, scores, strict=True)):
        head[0, :4, i] = box
        head[0, 4:, i] = s
    return head


BOXES = [(30, 30, 20, 20), (31, 30, 20, 20), (31, 30, 20, 20), (70, 70, 10, 10)]
SCORES = [[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.1, 0.3]]


def test_v8_head_nms_is_class_aware() -> None:
    post = build_postprocessor(DetectionPost(kind="yolo", labels=LABELS))
    result = post([v8_head(BOXES, SCORES)], IDENTITY)
    assert result == {
        "detections": [
            {"label": "Normal", "index": 0, "score": 0.9, "box": [0.2, 0.2, 0.4, 0.4]},
            {"label": "Fall", "index": 1, "score": 0.7, "box": [0.21, 0.2, 0.41, 0.4]},
            {"label": "Fall", "index": 1, "score": 0.3, "box": [0.65, 0.65, 0.75, 0.75]},
        ],
        "counts": {"Normal": 1, "Fall": 2},
    }


def test_transposed_v8_head_decodes_the_same() -> None:
    head = v8_head(BOXES, SCORES)
    post = build_postprocessor(DetectionPost(kind="yolo", labels=LABELS))
    assert post([np.ascontiguousarray(head.transpose(0, 2, 1))], IDENTITY) == post([head], IDENTITY)
    unlabelled = build_postprocessor(DetectionPost(kind="yolo"))([head], IDENTITY)
    assert [(d["label"], d["score"]) for d in unlabelled["detections"]] == [
        ("0", 0.9),
        ("1", 0.7),
        ("1", 0.3),
    ]


def test_v5_head_multiplies_objectness() -> None:
    head = np.zeros((1, 40, 7), np.float32)  # [1, N, 5+C], C=2
    head[0, 0] = [50, 50, 20, 40, 0.8, 0.25, 0.75]  # Fall 0.6
    head[0, 1] = [50, 50, 20, 40, 0.2, 1.0, 0.0]  # Normal 0.2: under the threshold
    result = build_postprocessor(DetectionPost(kind="yolo", labels=LABELS))([head], IDENTITY)
    assert result["detections"] == [{"label": "Fall", "index": 1, "score": 0.6, "box": [0.4, 0.3, 0.6, 0.7]}]
    transposed = build_postprocessor(DetectionPost(kind="yolo", labels=LABELS))(
        [np.ascontiguousarray(head.transpose(0, 2, 1))], IDENTITY
    )
    assert transposed == result


def test_max_detections_threshold_and_letterbox_mapping() -> None:
    boxes = [(10.0 + 8 * i, 50, 4, 4) for i in range(10)]  # 10 disjoint boxes, scores 0.1..1.0
    head = v8_head(boxes, [[0.1 * (i + 1)] for i in range(10)])
    lb = Letterbox(0.5, 0.5, 0.0, 25.0, 100, 100, 200, 100)  # a 200x100 frame letterboxed into 100x100
    result = build_postprocessor(DetectionPost(kind="yolo", threshold=0.35, max_detections=3))([head], lb)
    assert [d["score"] for d in result["detections"]] == [1.0, 0.9, 0.8]
    # box 9: cx 82, cy 50, 4x4 in the input → x (80..84)/100, y (48-25..52-25)/50
    assert result["detections"][0]["box"] == [0.8, 0.46, 0.84, 0.54]


def test_boxes_in_the_padding_are_dropped() -> None:
    lb = Letterbox(0.5, 0.5, 0.0, 25.0, 100, 100, 200, 100)
    head = v8_head([(50, 10, 10, 10)], [[0.9]])  # y 5..15: wholly in the top padding (0..25)
    assert build_postprocessor(DetectionPost(kind="yolo"))([head], lb)["detections"] == []


@pytest.mark.parametrize(
    ("cfg", "outputs", "lb", "message"),
    [
        (
            DetectionPost(kind="yolo", labels=LABELS),
            [np.zeros((1, 9, 100))],
            IDENTITY,
            r"expected 6 \(v8\) or 7",
        ),
        (
            DetectionPost(kind="yolo"),
            [np.zeros((1, 4, 100))],
            IDENTITY,
            r"expected a \[4\+C, N\] or \[N, 5\+C\]",
        ),
        (DetectionPost(kind="yolo"), [np.zeros((2, 6, 100))], IDENTITY, r"expected batch 1"),
        (DetectionPost(kind="yolo"), [v8_head(BOXES, SCORES)], None, r"expected the frame's Letterbox"),
        (DetectionPost(kind="yolo"), [], IDENTITY, r"expected detection outputs"),
    ],
)
def test_heads_that_do_not_fit(
    cfg: DetectionPost, outputs: list[Any], lb: Letterbox | None, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        build_postprocessor(cfg)(outputs, lb)


def test_unknown_class_names_are_refused_at_build() -> None:
    with pytest.raises(ModelError, match=r"expected one of the labels, got 'cat'"):
        build_postprocessor(DetectionPost(kind="yolo", labels=LABELS, classes=["cat"]))
    with pytest.raises(ModelError, match=r"without labels expected class indices"):
        build_postprocessor(DetectionPost(kind="yolo", classes=["person"]))


def greedy_nms(
    boxes: npt.NDArray[Any], scores: npt.NDArray[Any], classes: npt.NDArray[Any], thr: float
) -> list[int]:
    """Textbook greedy NMS per class, merged by score: the reference for the fast one."""
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable").tolist():
        same = [k for k in keep if classes[k] == classes[i]]
        if all(iou(boxes[i].tolist(), boxes[k].tolist()) <= thr for k in same):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(20))
def test_nms_matches_a_plain_greedy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    centre, size = rng.uniform(0, 640, (n, 2)), rng.uniform(10, 200, (n, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = rng.permutation(n) / n + 0.001  # distinct, so the order is unambiguous
    classes = rng.integers(0, 3, n)
    got = nms(boxes, scores, classes, 0.45, 1000).tolist()
    assert got == greedy_nms(boxes, scores, classes, 0.45)
    assert nms(boxes, scores, classes, 0.45, 5).tolist() == got[:5]
