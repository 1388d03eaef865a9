"""What the text input tests share: a source run by the real capture thread, the agent's MQTT
connection, a plain MQTT client that publishes."""

from __future__ import annotations

import contextlib
import queue
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config.models import MqttConfig
from edge_agent.publish.mqtt import MqttPublisher
from edge_agent.sources.base import END, Capture
from edge_agent.sources.mqtt_input import SensorTopics
from edge_agent.stages.protocols import Source
from edge_agent.stages.types import Frame
from tests.helpers import wait

Queue = queue.Queue[object]

@contextlib.contextmanager
def captured(source: Source, size: int = 64, retry_min_s: float = 0.05) -> Iterator[tuple[Capture, Queue]]:
    """The source read by a real Capture thread into a queue; stopped (and the source closed) after."""
    out: queue.Queue[object] = queue.Queue(maxsize=size)
    cap = Capture(source, out, retry_min_s=retry_min_s, retry_max_s=0.2)
    cap.start()
    try:
        yield cap, out
    finally:
        cap.stop()
        source.close()  # wakes a live source's read(), so the capture thread can end
        cap.join(10)


def take(out: Queue, n: int, timeout: float = 15.0) -> list[Frame]:
    """The next `n` frames from a capture queue (fewer if it ends or `timeout` passes waiting for one)."""
    frames: list[Frame] = []
    while len(frames) < n:
        try:
            item = out.get(timeout=timeout)
        except queue.Empty:
            break
        if item is END:
            break
        assert isinstance(item, Frame)
        frames.append(item)
    return frames


def texts(frames: list[Frame]) -> list[str]:
    return [f.data.tobytes().decode("utf-8") for f in frames]


@contextlib.contextmanager
def agent_connection(port: int) -> Iterator[SensorTopics]:
    """The agent's own MQTT connection, as text inputs get it (a SensorTopics over the publisher)."""
    pub = MqttPublisher(MqttConfig(host="127.0.0.1", port=port), f"t-{uuid.uuid4().hex[:8]}", dict)
    pub.start()
    try:
        assert pub.wait_connected(10), "the agent's connection did not come up"
        yield SensorTopics(pub.subscribe)
    finally:
        pub.stop()


@contextlib.contextmanager
def publisher(port: int) -> Iterator[mqtt.Client]:
    """Another local client that publishes (a device, a service, another pipeline's outbox)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield client
    finally:
        client.loop_stop()
        client.disconnect()


def send(client: mqtt.Client, topic: str, payloads: list[bytes]) -> None:
    """Publish each payload at QoS 1 and wait until the broker has it."""
    for p in payloads:
        client.publish(topic, p, qos=1).wait_for_publish(5)


def probe(client: mqtt.Client, topic: str, payload: bytes, arrived: Callable[[], bool]) -> bool:
    """Publish `payload` until `arrived()`: a subscription made through the agent lands asynchronously."""

    def again() -> bool:
        send(client, topic, [payload])
        return arrived()

    return wait(again, timeout=10, step=0.1)
