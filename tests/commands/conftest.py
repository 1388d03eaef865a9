"""Fixtures for the command tests: an in-memory AgentControl (the broker comes from tests/conftest.py)."""

from __future__ import annotations

import pytest
from memory_control import MemoryControl


@pytest.fixture
def control() -> MemoryControl:
    return MemoryControl()
