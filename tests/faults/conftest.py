"""Fault-test fixtures: a tiny real ONNX model, a small fast video, agent configs and subprocess runs.

The real OriNet model takes ~30 ms a frame; the fault tests need thousands of results quickly, so they
use a real (tiny) ONNX graph built with onnx.helper: global average pool → three "colour" scores.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import LocalBroker, start_mosquitto
from edge_agent.outbox.db import committed_seqs
from edge_agent.outbox.sequence import SequenceTracker


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["scores"], axis=1),
        ],
        "tiny_colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("model") / "tiny_colour.onnx"
    onnx.save(model, path)
    return path


def write_video(path: Path, frames: int, size: int = 32) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (size, size))
    rng = np.random.default_rng(0)
    for i in range(frames):
        img = np.full((size, size, 3), (i * 7) % 256, np.uint8)
        img[: size // 2] = rng.integers(0, 255, 3, dtype=np.uint8)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture(scope="session")
def video_2000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 small frames: one result each."""
    return write_video(tmp_path_factory.mktemp("video") / "v2000.avi", 2000)


@pytest.fixture
def fast_config(tmp_path: Path, tiny_model: Path, video_2000: Path, device_id: str) -> Any:
    """AgentConfig with one fast pipeline `fast` (tiny model on the 2,000-frame video)."""

    def make(
        port: int,
        *,
        mqtt: dict[str, Any] | None = None,
        outbox: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        state_dir: Path | None = None,
    ) -> AgentConfig:
        return AgentConfig.model_validate(
            {
                "device": {"id": device_id, "state_dir": str(state_dir or tmp_path / "state")},
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": port,
                    "reconnect_min_s": 1,
                    "reconnect_max_s": 2,
                    **(mqtt or {}),
                },
                "outbox": {"commit_interval_ms": 50, **(outbox or {})},
                "pipelines": {
                    "fast": {
                        "source": {"kind": "video", "path": str(video_2000), **(source or {})},
                        "model": {"path": str(tiny_model)},
                        "preprocess": {"size": [16, 16]},
                        "postprocess": {"kind": "classification", "labels": ["r", "g", "b"], "top_k": 1},
                    }
                },
            }
        )

    return make


class AgentProcess:
    """`edge-agent run` as a real subprocess (killed for real by the tests)."""

    def __init__(self, cfg: AgentConfig, workdir: Path, *args: str) -> None:
        self.cfg_file = workdir / f"agent-{time.monotonic_ns()}.yaml"
        self.cfg_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True)))
        self.log = self.cfg_file.with_suffix(".log")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent.cli.main", "run", "-c", str(self.cfg_file), *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    started: list[AgentProcess] = []

    def start(cfg: AgentConfig, *args: str) -> AgentProcess:
        p = AgentProcess(cfg, tmp_path, *args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


class PersistentSubscriber:
    """A separate subscriber that survives broker restarts: fixed client id, clean start off, QoS 1,
    so the broker keeps its session and queues for it while it reconnects."""

    def __init__(self, port: int, topic: str) -> None:
        self.tracker = SequenceTracker()
        self.arrivals: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
        )
        self.client.reconnect_delay_set(1, 1)
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_connect = self._on_connect
        self.topic = topic
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 600
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("subscriber could not subscribe")

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if not flags.session_present:
            client.subscribe(self.topic, qos=1)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        with self._lock:
            self.tracker.add(body["device"], body["pipeline"], body["seq"])
            self.arrivals.append((body["pipeline"], body["seq"]))

    def unique(self) -> int:
        with self._lock:
            return len(set(self.arrivals))

    def wait_unique(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.unique() < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.unique() >= n

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def persistent_subscriber() -> Iterator[Callable[[int, str], PersistentSubscriber]]:
    made: list[PersistentSubscriber] = []

    def make(port: int, topic: str) -> PersistentSubscriber:
        s = PersistentSubscriber(port, topic)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


PERSISTENT_BROKER = "persistence true\npersistence_location {wd}/\nmax_queued_messages 100000\n"


def restartable_broker(workdir: Path, port: int | None = None) -> LocalBroker:
    """Mosquitto that saves its sessions and queued messages on SIGTERM and reloads them on start."""
    workdir.mkdir(exist_ok=True)
    return start_mosquitto(port=port, extra=PERSISTENT_BROKER.format(wd=workdir), workdir=workdir)


def committed_seq(state: Path, pipeline: str = "fast") -> int:
    """The last sequence number the outbox committed (read from the database after the kill)."""
    path = state / "outbox.sqlite"
    try:
        return committed_seqs(path).get(pipeline, 0) if path.exists() else 0
    except sqlite3.OperationalError:  # created but the schema not yet
        return 0
