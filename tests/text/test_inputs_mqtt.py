"""The MQTT-borne text inputs on a real Mosquitto, through the agent's own connection (MqttPublisher +
SensorTopics): `text_mqtt` (plain and JSON payloads, malformed ones counted, drop-oldest) and
`events` (other pipelines' events summarised by count and by time)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from edge_agent.demo.broker import LocalBroker
from edge_agent.errors import SourceError
from edge_agent.stages.types import Frame
from edge_agent.text.frames import frame_text
from edge_agent.text.inputs.events import EventsSource
from edge_agent.text.inputs.factory import text_source
from edge_agent.text.inputs.mqtt import TextMqttSource
from edge_agent.text.source_config import EventsConfig, TextMqttConfig
from edge_agent.topics import pipeline_topic
from tests.helpers import wait
from tests.text.inputs_support import agent_connection, captured, probe, publisher, send, take, texts


def _subscribed(src: TextMqttSource, client: Any, topic: str, read: Callable[[], Frame | None]) -> None:
    """Probe until the source's subscription is live (it lands asynchronously), then read away every
    probe up to a last marker, so the test starts from a quiet source."""
    before = src.counters()["received"]
    marker = json.dumps({"text": "probe"}).encode() if src.cfg.field else b"probe"
    assert probe(client, topic, marker, lambda: src.counters()["received"] > before)
    send(client, topic, [json.dumps({"text": "ready"}).encode() if src.cfg.field else b"ready"])
    while (f := read()) is not None and frame_text(f) != "ready":
        pass


def test_text_mqtt_plain_json_and_malformed(mosquitto: LocalBroker) -> None:
    base = f"site-{uuid.uuid4().hex[:6]}/logs"
    with agent_connection(mosquitto.port) as topics, publisher(mosquitto.port) as client:
        plain = TextMqttSource(TextMqttConfig(kind="text_mqtt", topic=f"{base}/plain/#"), "plain", topics)
        cfg = TextMqttConfig(kind="text_mqtt", topic=f"{base}/json/+", field="text", max_bytes=64)
        rich = text_source(cfg, "json", topics)
        assert isinstance(rich, TextMqttSource)
        with captured(plain) as (_c1, out_plain), captured(rich) as (_c2, out_rich):
            _subscribed(plain, client, f"{base}/plain/pi-1", lambda: next(iter(take(out_plain, 1)), None))
            _subscribed(rich, client, f"{base}/json/pi-2", lambda: next(iter(take(out_rich, 1)), None))
            bad = [b"\xff\xfe", b"nul\x00", b""]
            send(client, f"{base}/plain/pi-1", [*bad, b"kernel: Under-voltage detected!"])
            line = take(out_plain, 1)
            assert texts(line) == ["kernel: Under-voltage detected!"]
            assert line[0].meta["input"] == f"{base}/plain/#"
            payloads = [
                json.dumps({"text": "EXT4-fs error (device sda1): bad block", "host": "pi-2"}).encode(),
                b"{broken json",
                json.dumps({"message": "no text key"}).encode(),
                json.dumps({"text": "é" * 40, "host": "pi-2"}, ensure_ascii=False).encode(),  # 80 B: to 64
            ]
            send(client, f"{base}/json/pi-2", payloads)
            got = take(out_rich, 2)
        assert [frame_text(f) for f in got] == ["EXT4-fs error (device sda1): bad block", "é" * 32]
        assert got[0].meta["fields"] == {"host": "pi-2"}
        assert got[1].meta["truncated"] is True
        assert plain.counters()["refused"] == {"bad_encoding": 1, "nul": 1}
        assert plain.counters()["empty"] == 1
        assert rich.counters()["refused"] == {"bad_json": 1, "no_field": 1}


def test_text_mqtt_drops_the_oldest_when_the_model_falls_behind(mosquitto: LocalBroker) -> None:
    topic = f"site-{uuid.uuid4().hex[:6]}/logs"
    with agent_connection(mosquitto.port) as topics, publisher(mosquitto.port) as client:
        src = TextMqttSource(TextMqttConfig(kind="text_mqtt", topic=topic, backlog=3), "live", topics)
        src.open()  # nobody reads: the model is busy
        try:
            _subscribed(src, client, topic, src.read)
            before = src.counters()
            send(client, topic, [f"line {i}".encode() for i in range(10)])
            assert wait(lambda: src.counters()["received"] == before["received"] + 10)
            kept = [src.read() for _ in range(3)]
            assert texts([f for f in kept if f is not None]) == ["line 7", "line 8", "line 9"]
            c = src.counters()
            assert c["dropped_oldest"] - before["dropped_oldest"] == 7  # lines 0-6
            assert c["waiting"] == 0
        finally:
            src.close()
        send(client, topic, [b"after close"])
        assert src.read() is None


def test_text_mqtt_needs_the_agent_connection() -> None:
    with pytest.raises(SourceError, match="through the agent's MQTT connection"):
        TextMqttSource(TextMqttConfig(kind="text_mqtt", topic="site/logs"))


def test_events_are_summarised_every_count_and_every_interval(mosquitto: LocalBroker) -> None:
    device = f"t-{uuid.uuid4().hex[:8]}"
    door, pump = (pipeline_topic("edge", device, p, "events") for p in ("door", "pump"))
    cfg = EventsConfig(kind="events", pipelines=["door", "pump"], last=3, count=4)
    with agent_connection(mosquitto.port) as topics, publisher(mosquitto.port) as client:
        src = text_source(cfg, "summary", topics, prefix="edge", device=device)
        assert isinstance(src, EventsSource)
        with captured(src) as (_cap, out):
            # pump is subscribed after door on the same connection: once pump's probe arrives, both are live
            assert probe(client, pump, b"not json", lambda: src.counters()["bad_events"] > 0)
            events = [
                (door, {"ts": 1.0, "seq": 7, "device": device, "event": "appeared", "label": "person"}),
                (pump, {"ts": 2.0, "seq": 8, "device": device, "event": "anomaly_start", "score": 0.91}),
                (door, {"ts": 3.0, "seq": 9, "device": device, "event": "left", "label": "person"}),
                (pump, {"ts": 4.0, "seq": 10, "device": device, "event": "anomaly_end", "score": 0.2}),
            ]
            for topic, body in events:
                send(client, topic, [json.dumps(body).encode()])
            summary = take(out, 1)[0]
        lines = [json.loads(line) for line in frame_text(summary).splitlines()]
        assert lines == [  # the last 3, oldest first, without the outbox's device/seq
            {"pipeline": "pump", "ts": 2.0, "event": "anomaly_start", "score": 0.91},
            {"pipeline": "door", "ts": 3.0, "event": "left", "label": "person"},
            {"pipeline": "pump", "ts": 4.0, "event": "anomaly_end", "score": 0.2},
        ]
        assert summary.meta["fields"] == {"events": 3, "pipelines": ["door", "pump"]}
        assert summary.meta["input"] == "events:door,pump"

        timed = EventsSource(
            EventsConfig(kind="events", pipelines=["door"], every_s=0.2), "daily", topics, device=device
        )
        with captured(timed) as (_cap, out):
            assert probe(client, door, b'{"event": "x"}', lambda: timed.counters()["events"] > 0)
            assert len(take(out, 1)) == 1  # the probes' summary, on the timer
            send(client, door, [json.dumps({"event": "appeared", "label": "cat"}).encode()])
            seen: list[Frame] = []

            def cat() -> bool:
                seen.extend(take(out, 1, 1.0))
                return bool(seen) and "cat" in frame_text(seen[-1])

            assert wait(cat)
        assert frame_text(seen[-1]).splitlines()[-1] == '{"pipeline":"door","event":"appeared","label":"cat"}'
        assert timed.counters()["emitted"] >= 2


def test_events_refuse_their_own_pipeline_and_need_the_device() -> None:
    cfg = EventsConfig(kind="events", pipelines=["summary"], count=1)
    with pytest.raises(SourceError, match="cannot read its own events"):
        EventsSource(cfg, "summary", lambda _t, _fn: lambda: None, device="d1")
    with pytest.raises(SourceError, match="device id is needed"):
        EventsSource(cfg, "other", lambda _t, _fn: lambda: None)
