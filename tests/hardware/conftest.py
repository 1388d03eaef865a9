"""Fixtures for EP tests: a small real model and an input for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.hardware.tiny import write_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    return write_tiny_model(tmp_path_factory.mktemp("models"))


@pytest.fixture
def tiny_input() -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)}
