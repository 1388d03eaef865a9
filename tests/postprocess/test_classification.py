"""Classification decoder: the real OriNet orientation classifier end to end, and exact small cases."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.bundle.preprocess import Preprocessor
from edge_agent.bundle.settings import ClassificationPost, PreprocessConfig
from edge_agent.errors import ModelError
from edge_agent.postprocess import build_postprocessor
from tests.postprocess.images import skimage_bgr

ROTATIONS = ["0", "90", "180", "270"]  # OriNet classes: the page was rotated this far clockwise


@pytest.mark.parametrize(
    ("rotate", "expected"),
    [
        (None, "0"),
        (cv2.ROTATE_90_CLOCKWISE, "90"),
        (cv2.ROTATE_180, "180"),
        (cv2.ROTATE_90_COUNTERCLOCKWISE, "270"),
    ],
)
def test_orinet_reads_page_rotation(
    orinet_session: ort.InferenceSession, rotate: int | None, expected: str
) -> None:
    inp = orinet_session.get_inputs()[0]
    pre = Preprocessor(
        PreprocessConfig(
            resize="letterbox", pad_value=255, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
        ),
        inp.shape,
        inp.type,
    )
    post = build_postprocessor(ClassificationPost(labels=ROTATIONS, top_k=4))
    page = skimage_bgr("page")
    x, lb = pre(page if rotate is None else cv2.rotate(page, rotate))
    result = post(orinet_session.run(None, {inp.name: x}), lb)
    top = result["top"]
    assert top[0]["label"] == expected
    assert top[0]["index"] == ROTATIONS.index(expected)
    assert top[0]["score"] > 0.9  # logits → softmax applied (measured ~0.96)
    assert sum(t["score"] for t in top) == pytest.approx(1.0, abs=1e-3)
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    json.dumps(result)


def test_logits_get_softmax_and_probabilities_do_not() -> None:
    post = build_postprocessor(ClassificationPost(top_k=2))
    logits = post([np.array([[0.0, np.log(3.0), 0.0]], np.float32)], None)
    assert logits == {
        "top": [{"label": "1", "index": 1, "score": 0.6}, {"label": "0", "index": 0, "score": 0.2}]
    }
    probs = post([np.array([[0.1, 0.3, 0.6]], np.float32)], None)
    assert probs["top"] == [
        {"label": "2", "index": 2, "score": 0.6},
        {"label": "1", "index": 1, "score": 0.3},
    ]


def test_softmax_forced_on_and_off() -> None:
    row = [np.array([[0.1, 0.3, 0.6]])]
    on = build_postprocessor(ClassificationPost(top_k=1, softmax=True))(row, None)
    assert on["top"][0]["score"] == round(float(np.exp(0.6) / np.exp([0.1, 0.3, 0.6]).sum()), 4)
    off = build_postprocessor(ClassificationPost(top_k=3, softmax=False))(
        [np.array([[2.0, -1.0, 5.0]])], None
    )
    assert [t["score"] for t in off["top"]] == [5.0, 2.0, -1.0]


def test_top_k_threshold_and_shapes() -> None:
    post = build_postprocessor(
        ClassificationPost(labels=list("abcde"), top_k=4, threshold=0.15, softmax=False)
    )
    result = post([np.array([0.05, 0.4, 0.1, 0.25, 0.2]).reshape(1, 5, 1, 1)], None)
    assert [(t["label"], t["score"]) for t in result["top"]] == [("b", 0.4), ("d", 0.25), ("e", 0.2)]
    many = build_postprocessor(ClassificationPost(top_k=5, softmax=False))
    scores = np.random.default_rng(0).permutation(1000).astype(np.float32)
    assert [t["index"] for t in many([scores[None]], None)["top"]] == list(np.argsort(-scores)[:5])


def test_labels_file_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("cat\ndog\n\n", encoding="utf-8")
    post = build_postprocessor(ClassificationPost(labels_file=Path("labels.txt")), base_dir=tmp_path)
    assert post([np.array([[0.2, 0.8]])], None)["top"][0]["label"] == "dog"


@pytest.mark.parametrize(
    ("cfg", "output", "message"),
    [
        (
            ClassificationPost(labels=["a", "b"]),
            np.zeros((1, 3)),
            r"expected 2 scores \(one per label\), got 3",
        ),
        (ClassificationPost(), np.zeros((2, 3)), r"expected one row of class scores .* got shape \[2, 3\]"),
        (ClassificationPost(), np.zeros((1, 0)), r"expected one row"),
    ],
)
def test_outputs_that_do_not_fit(cfg: ClassificationPost, output: np.ndarray, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        build_postprocessor(cfg)([output], None)
