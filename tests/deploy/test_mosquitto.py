"""deploy/mosquitto in a real Mosquitto: mTLS identities and pattern ACLs keep devices in their own topics."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.demo.broker import LocalBroker, free_port
from tests.tlsutil import deploy_broker_conf, issue_client, make_pki


class Client:
    """A paho MQTT 5 client over mTLS that records PUBACK reason codes and received messages."""

    def __init__(self, port: int, ca: Path, cert: Path | None, key: Path | None) -> None:
        self.acks: dict[int, int] = {}
        self.got: list[str] = []
        self.connected = threading.Event()
        self.rc: Any = None
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex, protocol=mqtt.MQTTv5)
        self.c.tls_set(ca_certs=str(ca), certfile=cert and str(cert), keyfile=key and str(key))
        self.c.on_connect = self._on_connect
        self.c.on_publish = lambda _c, _u, mid, rc, _p: self.acks.__setitem__(mid, rc.value)
        self.c.on_message = lambda _c, _u, msg: self.got.append(msg.topic)
        self.c.connect_async("localhost", port)
        self.c.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.rc = rc
        self.connected.set()

    def publish(self, topic: str) -> int:
        """Publish at QoS 1 and return the PUBACK reason code (< 128 accepted, 135 not authorized)."""
        mid = self.c.publish(topic, b"x", qos=1).mid
        deadline = time.monotonic() + 5
        while mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks[mid]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def broker(mosquitto_factory: Callable[..., LocalBroker], tmp_path: Path) -> tuple[int, dict[str, Path]]:
    pki = make_pki(tmp_path, client_cn="cam-1")
    port = free_port()
    conf = deploy_broker_conf(tmp_path, pki, port)
    mosquitto_factory(extra=conf, port=port)  # the factory stops it after the test
    return port, pki


def _connect(port: int, pki: dict[str, Path], cn: str | None) -> Client:
    if cn is None:
        return Client(port, pki["ca"], None, None)
    cert, key = (
        (pki["client_crt"], pki["client_key"]) if cn == "cam-1" else issue_client(pki, cn, pki["ca"].parent)
    )
    client = Client(port, pki["ca"], cert, key)
    assert client.connected.wait(5), f"{cn} did not connect"
    assert not client.rc.is_failure, client.rc
    return client


def test_device_publishes_only_under_its_prefix(broker: tuple[int, dict[str, Path]]) -> None:
    port, pki = broker
    cam1 = _connect(port, pki, "cam-1")
    try:
        assert cam1.publish("edge/cam-1/door/results") < 128
        assert cam1.publish("edge/cam-1/status") < 128
        assert cam1.publish("homeassistant/device/cam-1/config") < 128
        assert cam1.publish("edge/_replies/abc123/cam-1") < 128
        assert cam1.publish("edge/cam-2/door/results") == 135, "another device's prefix"
        assert cam1.publish("edge/_replies/abc123/cam-2") == 135, "a reply posing as another device"
        assert cam1.publish("homeassistant/device/cam-2/config") == 135
        assert cam1.publish("other/topic") == 135
    finally:
        cam1.close()


def test_device_reads_only_its_own_commands(broker: tuple[int, dict[str, Path]]) -> None:
    port, pki = broker
    cam1, cam2, ops = (_connect(port, pki, cn) for cn in ("cam-1", "cam-2", "ops-fleet"))
    try:
        for sub in ("edge/cam-1/cmd/#", "edge/cam-2/cmd/#", "edge/cam-2/door/results"):
            cam1.c.subscribe(sub, qos=1)
        time.sleep(0.3)
        assert ops.publish("edge/cam-1/cmd/ping") < 128
        assert ops.publish("edge/cam-2/cmd/ping") < 128
        assert cam2.publish("edge/cam-2/door/results") < 128
        deadline = time.monotonic() + 3
        while "edge/cam-1/cmd/ping" not in cam1.got and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # room for anything that should not arrive
        assert cam1.got == ["edge/cam-1/cmd/ping"]
    finally:
        for c in (cam1, cam2, ops):
            c.close()


def test_client_without_certificate_is_refused(broker: tuple[int, dict[str, Path]]) -> None:
    port, pki = broker
    anon = _connect(port, pki, None)
    try:
        # The TLS handshake fails (no client certificate): no CONNACK ever arrives.
        assert not anon.connected.wait(2)
    finally:
        anon.close()


def test_home_assistant_announces_itself_but_devices_cannot(broker: tuple[int, dict[str, Path]]) -> None:
    port, pki = broker
    ha = _connect(port, pki, "homeassistant")
    cam1 = _connect(port, pki, "cam-1")
    try:
        assert ha.publish("homeassistant/status") < 128
        assert ha.publish("edge/cam-1/cmd/ping") == 135, "Home Assistant reads; it does not command"
        assert cam1.publish("homeassistant/status") == 135, "a device must not fake Home Assistant's birth"
    finally:
        ha.close()
        cam1.close()
