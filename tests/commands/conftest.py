"""Fixtures: an in-memory AgentControl and a real broker for the MQTT tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fleet"))
from fleet_broker import Broker, run_mosquitto
from memory_control import MemoryControl


@pytest.fixture
def control() -> MemoryControl:
    return MemoryControl()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with run_mosquitto(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b
