"""SSD-style decoding (boxes/scores/classes tensors) on synthetic outputs with known answers, and the
letterbox round trip from a drawn rectangle through the preprocessor and back."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import DetectionPost, PreprocessConfig
from edge_agent.errors import ModelError
from edge_agent.postprocess import build_postprocessor
from edge_agent.stages.types import Letterbox

LABELS = ["background", "person", "car"]
BOXES = np.array([[[0.1, 0.2, 0.5, 0.6], [0.11, 0.2, 0.5, 0.6], [0.6, 0.6, 0.9, 0.8], [0.0, 0.0, 0.1, 0.1]]])
SCORES = np.array([[0.9, 0.8, 0.7, 0.1]])
CLASSES = np.array([[1.0, 1.0, 2.0, 1.0]])
EXPECTED = [
    {"label": "person", "index": 1, "score": 0.9, "box": [0.1, 0.2, 0.5, 0.6]},
    {"label": "car", "index": 2, "score": 0.7, "box": [0.6, 0.6, 0.9, 0.8]},
]


def decode(outputs: list[npt.NDArray[Any]], lb: Letterbox | None = None, **cfg: Any) -> dict[str, Any]:
    return build_postprocessor(DetectionPost(kind="ssd", labels=LABELS, **cfg))(outputs, lb)


def test_boxes_scores_classes_with_nms() -> None:
    result = decode([BOXES, SCORES, CLASSES])
    assert result == {"detections": EXPECTED, "counts": {"person": 1, "car": 1}}


def test_output_order_and_class_dtype_do_not_matter() -> None:
    num = np.array([4.0], np.float32)
    assert decode([BOXES, CLASSES, SCORES, num])["detections"] == EXPECTED  # TFLite order
    assert decode([CLASSES.astype(np.int64), BOXES, SCORES])["detections"] == EXPECTED


def test_num_detections_truncates() -> None:
    assert decode([BOXES, SCORES, CLASSES, np.array([1.0])])["detections"] == EXPECTED[:1]


@pytest.mark.parametrize(
    ("fmt", "boxes"),
    [
        ("yxyx", BOXES[..., [1, 0, 3, 2]]),
        (
            "cxcywh",
            np.concatenate([(BOXES[..., :2] + BOXES[..., 2:]) / 2, BOXES[..., 2:] - BOXES[..., :2]], axis=-1),
        ),
    ],
)
def test_box_formats(fmt: str, boxes: npt.NDArray[Any]) -> None:
    assert decode([boxes, SCORES, CLASSES], box_format=fmt)["detections"] == EXPECTED


def test_per_class_scores_and_one_class_detectors() -> None:
    per_class = np.zeros((1, 4, 3))
    per_class[0, np.arange(4), CLASSES[0].astype(int)] = SCORES[0]
    assert decode([BOXES, per_class])["detections"] == EXPECTED
    one = build_postprocessor(DetectionPost(kind="ssd", labels=["face"]))([BOXES, SCORES], None)
    assert [(d["label"], d["score"]) for d in one["detections"]] == [("face", 0.9), ("face", 0.7)]


def test_class_filter_threshold_and_max() -> None:
    assert decode([BOXES, SCORES, CLASSES], classes=["car"])["detections"] == EXPECTED[1:]
    assert decode([BOXES, SCORES, CLASSES], threshold=0.75)["detections"] == EXPECTED[:1]
    assert decode([BOXES, SCORES, CLASSES], max_detections=1)["detections"] == EXPECTED[:1]
    kept = decode([BOXES, SCORES, CLASSES], iou=0.99)["detections"]  # near-duplicates survive a loose NMS
    assert [d["score"] for d in kept] == [0.9, 0.8, 0.7]


def test_normalised_boxes_map_through_the_letterbox() -> None:
    # A 200x100 frame letterboxed into 100x100: rows 25..75 hold the picture.
    lb = Letterbox(0.5, 0.5, 0.0, 25.0, 100, 100, 200, 100)
    boxes = np.array([[[0.2, 0.25, 0.6, 0.75], [0.5, 0.0, 0.7, 0.2]]])  # the second lies in the padding
    result = decode([boxes, np.array([[0.9, 0.8]]), np.array([[1, 2]])], lb)
    assert result["detections"] == [
        {"label": "person", "index": 1, "score": 0.9, "box": [0.2, 0.0, 0.6, 1.0]}
    ]
    pixels = decode([boxes * 100, np.array([[0.9, 0.8]]), np.array([[1, 2]])], lb, normalized_boxes=False)
    assert pixels == result


def test_round_trip_from_frame_to_model_and_back() -> None:
    """Preprocess a frame with a bright rectangle, find it in the tensor, report it as an SSD box in
    model pixels: the decoded box is the rectangle in frame coordinates, within a model pixel."""
    w_in, h_in = 300, 300
    pre = Preprocessor(
        PreprocessConfig(resize="letterbox", dtype="uint8", color="gray", pad_value=0),
        [1, 1, h_in, w_in],
        "tensor(uint8)",
    )
    frame = np.zeros((480, 960, 3), np.uint8)
    rect = (96, 120, 480, 360)  # x1, y1, x2, y2 in frame pixels
    frame[rect[1] : rect[3], rect[0] : rect[2]] = 255
    x, lb = pre(frame)
    ys, xs = np.nonzero(x[0, 0] > 127)
    found = np.array([[[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]], np.float32)
    result = decode([found, np.array([[0.9]]), np.array([[1]])], lb, normalized_boxes=False)
    box = np.array(result["detections"][0]["box"])
    expected = np.array(rect) / [960, 480, 960, 480]
    tolerance = 1.0 / (lb.scale_x * 960)  # one model pixel in normalised frame units
    np.testing.assert_allclose(box, expected, atol=tolerance + 1e-4)


@pytest.mark.parametrize(
    ("outputs", "lb", "cfg", "message"),
    [
        ([SCORES, CLASSES], None, {}, r"expected a boxes output \[1, N, 4\]"),
        ([BOXES, np.zeros((1, 5)), CLASSES], None, {}, r"expected scores/classes \[1, 4\]"),
        ([BOXES], None, {}, r"expected scores and classes outputs \[1, 4\], got 0"),
        ([BOXES, SCORES, CLASSES], None, {"normalized_boxes": False}, r"expected the frame's Letterbox"),
        ([np.zeros((2, 4, 4)), SCORES, CLASSES], None, {}, r"expected batch 1"),
    ],
)
def test_outputs_that_do_not_fit(
    outputs: list[Any], lb: Letterbox | None, cfg: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        decode(outputs, lb, **cfg)
