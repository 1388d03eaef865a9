"""A real agent for the command tests: its config file (with comments, to check that a remote `set` keeps
them), the agent itself with a subscriber counting its results, and an inbox of replies."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostile_corpus import PIPE

from edge_agent.agent import Agent
from edge_agent.bundle.sign import public_pem
from edge_agent.config import load_config
from tests.conftest import Collector

CONFIG = """\
# The corpus device: one fast pipeline. These comments and this layout must survive a remote `set`.
device:
  id: {device}          # the device id, in every topic
  state_dir: {state}
mqtt: {{host: 127.0.0.1, port: {port}, protocol: "{protocol}", client_id: {client_id}}}   # flow style, kept
outbox:
  commit_interval_ms: 20
stats_interval_s: 30    # seconds between stats
pipelines:
  {pipe}:
    source: {{kind: video, path: {video}, loop: true, fps: 40}}
    model:
      path: {model}
      trusted_keys: [release.pub]   # the release key: only bundles it signed install
    preprocess: {{size: [16, 16]}}
    postprocess: {{kind: classification, labels: [r, g, b], top_k: 1}}
"""


def write_config(
    tmp_path: Path,
    device: str,
    port: int,
    model: Path,
    video: Path,
    *,
    protocol: str = "5",
    name: str = "agent",
) -> Path:
    """The corpus agent's config file (state in tmp_path/state-<name>, client id <name>-<device>)."""
    if not (tmp_path / "release.pub").exists():
        (tmp_path / "release.pub").write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    path = tmp_path / f"{name}.yaml"
    text = CONFIG.format(
        device=device,
        state=tmp_path / f"state-{name}",
        port=port,
        protocol=protocol,
        client_id=f"{name}-{device}",
        pipe=PIPE,
        video=video,
        model=model,
    )
    path.write_text(text)
    return path


class Inbox:
    """Every reply the corpus can see, on the sender's own connection (so it is ordered with the pings)."""

    def __init__(self, client: mqtt.Client, topics: list[str]) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()
        done = threading.Event()
        for t in topics:
            client.message_callback_add(t, self._on)
        client.subscribe([(t, 1) for t in topics])
        self._client = client
        done.set()

    def _on(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, json.loads(msg.payload)))
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()

    def wait(self, topic: str, timeout: float = 20.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, body in self.messages:
                    if t == topic:
                        return body
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)


class Device:
    """The agent under attack, and what the corpus checks after every case."""

    def __init__(self, cfg_path: Path, port: int) -> None:
        self.cfg_path = cfg_path
        self.port = port
        self.agent = Agent(load_config(cfg_path), config_path=cfg_path)
        self.results = Collector(port, [f"edge/{self.agent.device}/{PIPE}/results"])
        self.agent.start()
        self.seen = 0
        self.stopped = False

    @property
    def stats(self) -> dict[str, Any]:
        assert self.agent.fleet is not None
        return dict(self.agent.fleet.stats()["commands"])

    def still_delivering(self) -> bool:
        """A result newer than the last check arrives."""
        last = self.seen
        ok = self.results.wait_for(lambda msgs: len(msgs) > last, timeout=30)
        self.seen = len(self.results.messages)
        return ok

    def stop(self) -> None:
        if not self.stopped:
            self.agent.stop(drain_s=0)
            self.stopped = True
        self.results.close()
