"""The `mqtt` sensor input: readings other local devices publish, received through the agent's own
MQTT connection (same broker, TLS, credentials and reconnects; edge_agent.publish.mqtt).

The input never opens a connection of its own. It is handed a `Subscribe` function: the agent's is a
`SensorTopics` over its publisher, which makes one broker subscription per topic filter (renewed by the
publisher after every reconnect) and hands each payload to every input reading that filter.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from edge_agent.errors import SourceError
from edge_agent.sources.readings import Reading, number, values_of
from edge_agent.sources.sensor_config import MqttSensorConfig

OnPayload = Callable[[bytes], None]
Cancel = Callable[[], None]
# subscribe(topic_filter, on_payload) -> cancel: every payload on the filter goes to on_payload (on the
# connection's thread; it must not block) until cancel() is called.
Subscribe = Callable[[str, OnPayload], Cancel]
OwnTopics = tuple[str, str]  # (mqtt.prefix, device id): where this device publishes


class Message(Protocol):
    """What SensorTopics reads of a received message (paho's MQTTMessage)."""

    @property
    def payload(self) -> bytes | bytearray: ...


class SensorTopics:
    """The agent's connection shared by its mqtt inputs: a `Subscribe` over a publisher's `subscribe`.

    A topic filter is subscribed once, when the first input asks for it; later inputs on it (another
    pipeline, a restarted one) only join the fan-out. A cancelled input stops receiving; the broker
    subscription stays (the next input on the filter reuses it).
    """

    def __init__(self, subscribe: Callable[[str, Callable[[Message], None]], None]) -> None:
        self._subscribe = subscribe
        self._inputs: dict[str, list[OnPayload]] = {}
        self._lock = threading.Lock()

    def __call__(self, topic: str, fn: OnPayload) -> Cancel:
        with self._lock:
            first = topic not in self._inputs
            self._inputs.setdefault(topic, []).append(fn)
        if first:
            self._subscribe(topic, lambda msg: self._deliver(topic, bytes(msg.payload)))

        def cancel() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._inputs[topic].remove(fn)

        return cancel

    def _deliver(self, topic: str, payload: bytes) -> None:
        with self._lock:
            inputs = list(self._inputs.get(topic, ()))
        for fn in inputs:
            fn(payload)


class MqttReader:
    """Readings published by other local devices: JSON objects (keys = channels), lists or numbers.

    It subscribes when it is made (in the agent, before the connection starts, so the first connection
    already carries the subscription) and again on a reopen; `close()` cancels.
    """

    live = True

    def __init__(self, cfg: MqttSensorConfig, subscribe: Subscribe | None) -> None:
        if subscribe is None:
            raise SourceError(
                f"mqtt input {cfg.topic}: it reads through the agent's MQTT connection, and none was given"
            )
        self.cfg = cfg
        self._subscribe = subscribe
        self._q: queue.Queue[Reading] = queue.Queue(maxsize=10_000)
        self._cancel: Cancel | None = subscribe(cfg.topic, self._on_payload)
        self._open = False
        self.skipped = 0

    def _on_payload(self, payload: bytes) -> None:
        try:
            rec = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.skipped += 1
            return
        ts = time.time()
        if isinstance(rec, dict):
            vals = values_of(rec, self.cfg.channels, self.cfg.time_key)
            sent = number(rec.get(self.cfg.time_key)) if self.cfg.time_key else None
            ts = sent if sent is not None else ts  # the sender's clock when it says, else arrival
        elif isinstance(rec, list):
            nums = [number(v) for v in rec]
            vals = None if any(v is None for v in nums) else np.array(nums, dtype=np.float32)
        else:
            v = number(rec)
            vals = None if v is None else np.array([v], dtype=np.float32)
        if vals is None:
            self.skipped += 1
            return
        try:
            self._q.put_nowait((vals, ts))
        except queue.Full:
            self.skipped += 1  # the worker is far behind; newest readings win at the capture queue

    def open(self) -> None:
        if self._cancel is None:
            self._cancel = self._subscribe(self.cfg.topic, self._on_payload)
        self._open = True

    def next(self) -> Reading | None:
        while self._open:
            try:
                return self._q.get(timeout=0.5)
            except queue.Empty:
                continue
        return None

    def close(self) -> None:
        self._open = False
        if self._cancel is not None:
            cancel, self._cancel = self._cancel, None
            cancel()
