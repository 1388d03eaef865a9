"""One MQTT connection per agent (paho-mqtt 2.x), confined to paho's own network-loop thread.

MQTT 5 by default (3.1.1 selectable); TLS, mTLS and username/password; a retained `online` birth and
an `offline` last will on the status topic; reconnects with exponential backoff (paho's own); QoS 1
PUBACKs are reported to the outbox, and a PUBACK with a failure reason code (e.g. ACL denial) counts
as not delivered.

Every topic is checked before it reaches paho (edge_agent.topics.topic_problem): a topic Mosquitto
would answer by dropping the connection (NUL, control characters, a wildcard...) is never handed over,
since paho would resend it on every reconnect. It is logged, counted (`invalid_topics`) and reported to
the ack handler as not delivered.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.credentials import read_secret
from edge_agent.errors import PublishError
from edge_agent.publish.config import MqttConfig
from edge_agent.tls import TlsSetupError, configure_tls
from edge_agent.topics import status_topic, topic_problem

log = logging.getLogger(__name__)

AckFn = Callable[[int, bool, str], None]
MessageFn = Callable[[mqtt.MQTTMessage], None]


@dataclass(slots=True)
class PublisherStats:
    connects: int = 0
    disconnects: int = 0
    published: int = 0
    acked: int = 0
    refused: int = 0
    invalid_topics: int = 0  # publishes refused before paho: the topic is not a valid topic name
    last_error: str | None = None


class MqttPublisher:
    """Owns the paho client. `publish()` is safe from any thread; callbacks run on paho's thread."""

    def __init__(self, cfg: MqttConfig, device_id: str, birth: Callable[[], dict[str, Any]]) -> None:
        self.cfg = cfg
        self.device_id = device_id
        self.status_topic = status_topic(cfg.prefix, device_id)
        self.stats = PublisherStats()
        self._birth = birth
        self._on_ack: AckFn | None = None
        self._on_connect_cbs: list[Callable[[], None]] = []
        self._subs: dict[str, MessageFn] = {}
        self._sub_opts: dict[str, SubscribeOptions] = {}
        # Guards _subs against a subscribe() from another thread while _on_connect re-subscribes:
        # _subs_live says whether this connection has had the current list (else on_connect sends it).
        self._subs_lock = threading.Lock()
        self._subs_live = False
        self._bad_tokens = itertools.count(-1, -1)  # refused locally: negative, never a paho mid
        self._connected = threading.Event()
        self._v5 = cfg.protocol == "5"
        self._stopping = False
        self.client = self._make_client()

    # -- setup ---------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        cfg = self.cfg
        problem = topic_problem(self.status_topic)  # also the last will's topic: checked before connecting
        if problem is not None:
            raise PublishError(
                f"mqtt.prefix and device.id do not make a valid topic: the status topic {problem}"
            )
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"edge-agent-{self.device_id}",
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            # 3.1.1: keep the session so the broker holds our subscriptions across reconnects.
            clean_session=None if self._v5 else False,
        )
        client.max_inflight_messages_set(cfg.max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(
            min_delay=max(1, int(cfg.reconnect_min_s)), max_delay=int(cfg.reconnect_max_s)
        )
        offline = json.dumps({"state": "offline", "device": self.device_id}).encode()
        client.will_set(self.status_topic, offline, qos=1, retain=True)
        password = read_secret("mqtt-password", cfg.password_env)
        if cfg.username:
            client.username_pw_set(cfg.username, password)
        elif password:
            raise PublishError("a broker password is set but mqtt.username is not")
        if cfg.tls is not None:
            t = cfg.tls
            try:
                configure_tls(
                    client, ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file, insecure=t.insecure
                )
            except TlsSetupError as exc:
                raise PublishError(f"mqtt.tls{'.' if exc.field else ': '}{exc}") from exc
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        return client

    def set_ack_handler(self, fn: AckFn) -> None:
        self._on_ack = fn

    def on_connected(self, fn: Callable[[], None]) -> None:
        """Run `fn` on every (re)connection, after the birth message (e.g. wake the outbox)."""
        self._on_connect_cbs.append(fn)

    def subscribe(self, topic: str, fn: MessageFn, *, retained: bool = True) -> None:
        """Subscribe now (if connected) and after every reconnect.

        `retained=False` (commands): with MQTT 5 the broker is asked not to send retained messages
        (retain handling 2) and to keep the retain flag on live ones (retain as published), so the
        receiver can drop every retained message; with 3.1.1 only the flag on stored ones is left.
        """
        self.client.message_callback_add(topic, lambda _c, _u, m: fn(m))
        with self._subs_lock:
            self._subs[topic] = fn
            self._sub_opts[topic] = SubscribeOptions(
                qos=1, retainAsPublished=not retained, retainHandling=0 if retained else 2
            )
            if self._subs_live:
                self._subscribe(self.client, topic)

    def _subscribe(self, client: mqtt.Client, topic: str) -> None:
        if self._v5:
            client.subscribe(topic, options=self._sub_opts[topic])
        else:
            client.subscribe(topic, qos=1)

    def start(self) -> None:
        props = None
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.cfg.session_expiry_s
        self.client.connect_async(
            self.cfg.host,
            self.cfg.port,
            keepalive=self.cfg.keepalive,
            clean_start=False if self._v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self.client.loop_start()

    def stop(self, timeout: float = 2.0) -> None:
        """Publish `offline` (retained) and disconnect cleanly, so the LWT is not needed."""
        self._stopping = True
        if self._connected.is_set():
            info = self.client.publish(self.status_topic, self._status("offline"), qos=1, retain=True)
            deadline = time.monotonic() + timeout
            while not info.is_published() and time.monotonic() < deadline and self._connected.is_set():
                time.sleep(0.01)
        self.client.disconnect()
        self.client.loop_stop()

    # -- publishing ----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Hand a message to paho; returns its mid, or None when paho cannot take it.

        A topic that is not a valid topic name is refused here: logged, counted in `invalid_topics`, and
        (QoS 1) reported to the ack handler as not delivered under a negative token, so a caller that
        waits for acks (the outbox) moves on instead of retrying it forever.
        """
        problem = topic_problem(topic)
        if problem is not None:
            self.stats.invalid_topics += 1
            log.warning("publish dropped: the topic %.80r %s", topic, problem)
            if qos == 0:
                return None
            token = next(self._bad_tokens)
            if self._on_ack is not None:
                self._on_ack(token, False, f"invalid topic: {problem}")
            return token
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("publish to %s refused locally: %s", topic, mqtt.error_string(info.rc))
            return None
        self.stats.published += 1
        return info.mid

    def publish_status(self, state: str = "online") -> None:
        self.client.publish(self.status_topic, self._status(state), qos=1, retain=True)

    def _status(self, state: str) -> bytes:
        body = {"state": state, "device": self.device_id, "ts": round(time.time(), 3)}
        if state == "online":
            body.update(self._birth())
        return json.dumps(body, separators=(",", ":")).encode()

    # -- paho callbacks (paho's thread) ----------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, _u: Any, _flags: Any, rc: ReasonCode, _props: Properties | None
    ) -> None:
        if rc.is_failure:
            self.stats.last_error = f"broker refused the connection: {rc}"
            log.warning("%s (retrying with backoff)", self.stats.last_error)
            return
        self.stats.connects += 1
        self.stats.last_error = None
        log.info("connected to %s:%d (MQTT %s)", self.cfg.host, self.cfg.port, self.cfg.protocol)
        with self._subs_lock:
            for topic in self._subs:
                self._subscribe(client, topic)
            self._subs_live = True
        self.publish_status("online")
        self._connected.set()
        for fn in self._on_connect_cbs:
            fn()

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        self.stats.last_error = f"cannot reach broker {self.cfg.host}:{self.cfg.port}"
        log.warning("%s (retrying with backoff)", self.stats.last_error)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _flags: Any, rc: ReasonCode, _props: Properties | None
    ) -> None:
        if self._connected.is_set() and not self._stopping:
            self.stats.disconnects += 1
            log.warning("disconnected from broker: %s", rc)
        with self._subs_lock:
            self._subs_live = False
        self._connected.clear()

    def _on_publish(
        self, _c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _props: Properties | None
    ) -> None:
        ok = not rc.is_failure
        if ok:
            self.stats.acked += 1
        else:
            self.stats.refused += 1
        if self._on_ack is not None:
            self._on_ack(mid, ok, str(rc))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        log.debug("unhandled message on %s", msg.topic)
