"""Fixtures for deploy tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardware.tiny import write_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    return write_tiny_model(tmp_path_factory.mktemp("models"))
