"""`fleet send`: publish one command and wait for its reply (MQTT 5 request/response).

The requester subscribes to a private response topic `<prefix>/_replies/<client id>/#` and sets
Response Topic + Correlation Data on each command. With MQTT 3.1.1 the same topic travels in the
command object as `reply_to` and the correlation as `id`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.errors import FleetError
from edge_agent.topics import command_topic, replies_base


class Requester:
    """Sends commands to devices and matches replies by correlation id. Thread-safe."""

    def __init__(self, client: mqtt.Client, prefix: str = "edge") -> None:
        self.client = client
        self.prefix = prefix
        self.v5 = client.protocol == mqtt.MQTTv5
        self._base = replies_base(prefix, uuid.uuid4().hex[:12])
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        # MQTT 5 brokers answer a publish the ACL denies with a failing PUBACK reason code: report it as
        # the reply at once instead of waiting for a timeout. (3.1.1 brokers drop it silently.)
        self._mids: dict[int, str] = {}
        self._early: dict[int, str] = {}
        client.on_publish = self._on_publish
        client.message_callback_add(f"{self._base}/#", self._on_reply)
        sub_done = threading.Event()
        client.on_subscribe = lambda *_a: sub_done.set()
        client.subscribe(f"{self._base}/#", qos=1)
        if not sub_done.wait(10):
            raise FleetError("subscription to the reply topic was not acknowledged")

    def _on_reply(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        corr: str | None = None
        props = getattr(msg, "properties", None)
        data = getattr(props, "CorrelationData", None) if props is not None else None
        if isinstance(data, (bytes, bytearray)):
            corr = bytes(data).decode("utf-8", "replace")
        try:
            reply = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError):
            reply = {"ok": False, "error": "bad_payload", "reason": "reply is not JSON"}
        if not isinstance(reply, dict):
            reply = {"ok": False, "error": "bad_payload", "reason": "reply is not an object"}
        if corr is None:
            ident = reply.get("id")
            corr = ident if isinstance(ident, str) else None
        self._deliver(corr or "", reply)

    def _deliver(self, corr: str, reply: dict[str, Any]) -> None:
        with self._lock:
            slot = self._waiting.get(corr)
        if slot is not None:
            slot[1].append(reply)
            slot[0].set()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object = None) -> None:
        with self._lock:
            corr = self._mids.pop(mid, None)
            if corr is None:
                if rc.is_failure:
                    self._early[mid] = str(rc)
                return
        if rc.is_failure:
            self._deliver(
                corr, {"ok": False, "error": "unauthorised", "reason": f"broker refused the command: {rc}"}
            )

    def send_raw(self, device: str, verb: str, payload: bytes, corr: str) -> threading.Event:
        """Publish `payload` as-is (tests use this to send malformed commands) and register `corr`."""
        event = threading.Event()
        with self._lock:
            self._waiting[corr] = (event, [])
        props = None
        if self.v5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = f"{self._base}/{device}"
            props.CorrelationData = corr.encode()
        info = self.client.publish(command_topic(self.prefix, device, verb), payload, qos=1, properties=props)
        with self._lock:
            refused = self._early.pop(info.mid, None)
            if refused is None:
                self._mids[info.mid] = corr
        if refused is not None:
            self._deliver(
                corr,
                {"ok": False, "error": "unauthorised", "reason": f"broker refused the command: {refused}"},
            )
        return event

    def body_for(self, device: str, body: dict[str, Any], corr: str) -> dict[str, Any]:
        """The 3.1.1 fallback envelope: reply_to and id travel inside the command."""
        if self.v5:
            return body
        return {**body, "reply_to": f"{self._base}/{device}", "id": corr}

    def result(self, corr: str, event: threading.Event, timeout: float) -> dict[str, Any] | None:
        got = event.wait(timeout)
        with self._lock:
            _event, replies = self._waiting.pop(corr)
            for mid in [m for m, c in self._mids.items() if c == corr]:
                del self._mids[mid]
        return replies[0] if got and replies else None

    def request(
        self, device: str, verb: str, body: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send one command and return its reply; raise FleetError on timeout."""
        corr = uuid.uuid4().hex
        payload = json.dumps(self.body_for(device, body or {}, corr)).encode()
        reply = self.result(corr, self.send_raw(device, verb, payload, corr), timeout)
        if reply is None:
            raise FleetError(
                f"no reply from {device} to {verb} within {timeout:g}s (offline or not allowed?)"
            )
        return reply

    def wait_until_answering(self, device: str, timeout: float = 10.0, every: float = 0.3) -> dict[str, Any]:
        """Ping until the device answers (it may still be connecting or subscribing); return the pong."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.request(
                    device, "ping", timeout=min(every, max(0.05, deadline - time.monotonic()))
                )
            except FleetError:
                if time.monotonic() >= deadline:
                    raise

    def close(self) -> None:
        self.client.message_callback_remove(f"{self._base}/#")
        self.client.unsubscribe(f"{self._base}/#")
