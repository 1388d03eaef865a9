"""The topic rule every publish goes through (edge_agent.topics), the publisher refusing what Mosquitto
would answer by dropping the connection (real broker, real outbox), and command expiry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from memory_control import MemoryControl
from pydantic import ValidationError

from edge_agent.demo.broker import LocalBroker
from edge_agent.errors import PublishError
from edge_agent.outbox import Outbox
from edge_agent.outbox.config import OutboxConfig
from edge_agent.publish.config import MqttConfig
from edge_agent.publish.mqtt import MqttPublisher
from edge_agent.remote.commands.handler import CommandHandler
from edge_agent.stages.types import Outbound
from edge_agent.topics import (
    MAX_TOPIC_BYTES,
    TopicError,
    reply_topic_problem,
    topic_problem,
    validate_topic,
)
from tests.conftest import Collector
from tests.helpers import wait


@pytest.mark.parametrize(
    "topic",
    [
        "a",
        "edge/dev1/cam/results",
        "é/ü/日本",
        "a b/c",
        "x" * MAX_TOPIC_BYTES,
        "é" * (MAX_TOPIC_BYTES // 2),
        "\U0001f600",
    ],
)
def test_valid_topics(topic: str) -> None:
    assert topic_problem(topic) is None
    assert validate_topic(topic) == topic


@pytest.mark.parametrize(
    ("topic", "words"),
    [
        ("", "empty"),
        ("a\x00b", "NUL"),
        ("a/\ud800", "surrogate"),
        ("\udfff", "surrogate"),
        ("a/+", "wildcard '+'"),
        ("#", "wildcard '#'"),
        ("a\x01", "U+0001"),
        ("a\nb", "U+000A"),
        ("a\x7f", "U+007F"),
        ("a\x9f", "U+009F"),
        ("a\ufdd0", "noncharacter"),
        ("a\uffff", "noncharacter"),
        ("\U0010fffe", "noncharacter"),
        ("x" * (MAX_TOPIC_BYTES + 1), "65536 bytes long"),
        ("é" * 32_768, "65536 bytes long"),
        (b"edge/x", "not a string"),
        (None, "not a string"),
    ],
)
def test_invalid_topics(topic: object, words: str) -> None:
    problem = topic_problem(topic)
    assert problem is not None
    assert words in problem
    with pytest.raises(TopicError, match=re.escape(problem)):
        validate_topic(topic)


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("edge/_replies/abc/dev1", True),
        ("ctl/x", True),
        ("edge/dev1/reply/ping", True),
        ("edge/dev1/reply/a/b", True),
        ("edge/dev10/cam/results", True),  # another device's namespace is not this device's
        ("other/dev1/cam/results", True),
        ("edge/dev1/cam/results", False),
        ("edge/dev1/status", False),
        ("edge/dev1/cmd/stop", False),
        ("edge/dev1", False),
        ("edge/dev1/reply", False),
        ("$SYS/x", False),
        ("edge/dev1/+", False),
    ],
)
def test_reply_topics(topic: str, allowed: bool) -> None:
    assert (reply_topic_problem("edge", "dev1", topic) is None) is allowed


def test_publisher_refuses_bad_topics_and_stays_connected(
    mosquitto: LocalBroker, tmp_path: Path, device_id: str
) -> None:
    """A QoS 1 result on a topic with a NUL used to drop the connection and be resent on every reconnect.
    Now it is refused before paho, goes to the outbox's dead letters, and the next result is delivered."""
    cfg = MqttConfig(port=mosquitto.port)
    pub = MqttPublisher(cfg, device_id, birth=dict)
    outbox = Outbox(OutboxConfig(commit_interval_ms=0), tmp_path / "outbox.sqlite", device_id, "edge")
    pub.set_ack_handler(outbox.ack)
    pub.on_connected(outbox.wake)
    outbox.start(lambda topic, payload: pub.publish(topic, payload, qos=1), lambda: pub.connected)
    seen = Collector(mosquitto.port, [f"edge/{device_id}/#"])
    pub.start()
    try:
        assert pub.wait_connected(20)
        for bad in ("cam\x00", "cam+", "cam#", "cam\x01", "cam\ufffe"):
            outbox.put(Outbound(bad, "results", {"n": bad}))
        outbox.put(Outbound("cam", "results", {"n": "good"}))
        assert seen.wait_for(lambda msgs: any(m.topic.endswith("/cam/results") for m in msgs))
        assert pub.stats.invalid_topics == 5
        # The broker's copy can reach the collector before the outbox thread has counted the PUBACK.
        assert wait(lambda: outbox.stats.rejected == 5 and outbox.stats.delivered == 1), outbox.stats
        assert pub.stats.disconnects == 0
        assert pub.stats.connects == 1
        assert pub.publish("a\x00b", b"x", qos=0) is None  # QoS 0: nothing to acknowledge
        token = pub.publish("a/\ud800", b"x", qos=1)  # paho itself would raise UnicodeEncodeError
        assert token is not None
        assert token < 0
        assert pub.stats.invalid_topics == 7
        assert pub.connected
    finally:
        outbox.close()
        pub.stop()
        seen.close()


@pytest.mark.parametrize(
    ("expires_at", "ok", "words"),
    [
        (999.0, False, "expired: expires_at was 1 s ago"),
        (1000.0, False, "expired"),
        (0, False, "expired"),
        (1000.5, True, ""),
        (2e9, True, ""),
        (None, True, ""),
        ("1001", False, "expires_at: expected Unix seconds"),
        (True, False, "expires_at: expected Unix seconds"),
        (10**400, False, "expires_at: expected Unix seconds"),
    ],
)
def test_expiry(control: MemoryControl, expires_at: object, ok: bool, words: str) -> None:
    h = CommandHandler(control, "dev1", clock=lambda: 1000.0)
    reply = h.handle("stop", json.dumps({"pipeline": "cam", "expires_at": expires_at}).encode())
    assert reply["ok"] is ok, reply
    assert control.running["cam"] is (not ok)  # a stale command is not run
    if not ok:
        assert words in reply["reason"]


@pytest.mark.parametrize("prefix", ["ed\x00ge", "edge\x01", "edge\ufffe"])
def test_a_prefix_that_makes_no_topic_is_a_clear_error(prefix: str) -> None:
    """A NUL in the prefix used to make the agent never connect, and log nothing."""
    with pytest.raises(ValidationError, match="expected a topic prefix"):
        MqttConfig(prefix=prefix)  # the config refuses it first (key and line in `config validate`)
    unchecked = MqttConfig.model_construct(prefix=prefix)  # and the publisher still holds on its own
    with pytest.raises(PublishError, match=r"mqtt\.prefix and device\.id do not make a valid topic"):
        MqttPublisher(unchecked, "dev1", birth=dict)
