"""Fixtures for the command tests: an in-memory AgentControl (the broker comes from tests/conftest.py), and
the fault tests' fast real pipeline (tiny ONNX model, small video) for the tests on a running agent."""

from __future__ import annotations

import pytest
from memory_control import MemoryControl

from tests.faults.conftest import tiny_model, video_2000

__all__ = ["tiny_model", "video_2000"]


@pytest.fixture
def control() -> MemoryControl:
    return MemoryControl()
