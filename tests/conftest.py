"""Shared fixtures: a real Mosquitto on 127.0.0.1, an MQTT subscriber that collects, real models."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.demo.broker import LocalBroker, start_mosquitto


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The emulated arm64 tests run last: scripts/test builds their root in the background meanwhile,
    and they wait for it (a file lock in scripts/arm64/agent-root.sh) only once everything else ran."""
    items.sort(key=lambda item: item.get_closest_marker("arm64") is not None)


def _need_mosquitto() -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run does)")


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[LocalBroker]:
    """One plain broker for the session; tests keep apart by using their own device ids/topics."""
    _need_mosquitto()
    broker = start_mosquitto()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., LocalBroker]]:
    """Start extra brokers with their own config lines (TLS, passwords, ACLs); stopped after the test."""
    _need_mosquitto()
    started: list[LocalBroker] = []

    def make(extra: str = "", port: int | None = None) -> LocalBroker:
        wd = tmp_path / f"broker{len(started)}"
        wd.mkdir()
        b = start_mosquitto(port=port, extra=extra, workdir=wd)
        started.append(b)
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def device_id() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


class Collector:
    """A separate MQTT client that records every message on its subscriptions."""

    def __init__(self, port: int, topics: list[str], protocol: str = "5", **tls: Any) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
        )
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe([(t, 1) for t in topics])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("collector could not subscribe")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def json(self, suffix: str = "") -> list[dict[str, Any]]:
        with self._cond:
            return [json.loads(m.payload) for m in self.messages if m.topic.endswith(suffix)]

    def wait_for(self, pred: Callable[[list[mqtt.MQTTMessage]], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def collector_factory() -> Iterator[Callable[..., Collector]]:
    made: list[Collector] = []

    def make(port: int, topics: list[str], protocol: str = "5") -> Collector:
        c = Collector(port, topics, protocol)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="session")
def orinet_path() -> Path:
    """The real OriNet document-orientation classifier (occular-deskew wheel)."""
    from edge_agent.demo.video import orientation_model_path

    try:
        p = orientation_model_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    return p


@pytest.fixture(scope="session")
def demo_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A short video of real images at four rotations, with the truth per frame."""
    from edge_agent.demo.video import make_demo_video

    path = tmp_path_factory.mktemp("video") / "demo.avi"
    truth = make_demo_video(path, frames_per_view=1)
    return path, truth
