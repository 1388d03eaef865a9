"""build_postprocessor: kind dispatch and labels resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.bundle.settings import ClassificationPost, DetectionPost
from edge_agent.errors import ModelError
from edge_agent.postprocess import build_postprocessor, load_labels


def test_labels_list_wins_over_file(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("x\ny\n", encoding="utf-8")
    assert load_labels(["a", "b"], Path("l.txt"), tmp_path) == ["a", "b"]
    assert load_labels(None, Path("l.txt"), tmp_path) == ["x", "y"]
    assert load_labels(None, tmp_path / "l.txt", None) == ["x", "y"]
    assert load_labels(None, None, tmp_path) is None


def test_labels_file_keeps_inner_blank_slots(tmp_path: Path) -> None:
    (tmp_path / "coco.txt").write_text(" person\n\ncar \n\n\n", encoding="utf-8")
    assert load_labels(None, Path("coco.txt"), tmp_path) == ["person", "", "car"]


@pytest.mark.parametrize(
    ("text", "message"), [(None, r"expected a readable text file"), ("\n\n", r"empty file")]
)
def test_bad_labels_files(tmp_path: Path, text: str | None, message: str) -> None:
    if text is not None:
        (tmp_path / "labels.txt").write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        build_postprocessor(DetectionPost(kind="yolo", labels_file=Path("labels.txt")), base_dir=tmp_path)


def test_each_kind_builds_a_callable() -> None:
    post = build_postprocessor(ClassificationPost.model_validate({"kind": "classification", "top_k": 1}))
    assert post([np.array([[0.2, 0.8]])], None) == {"top": [{"label": "1", "index": 1, "score": 0.8}]}
