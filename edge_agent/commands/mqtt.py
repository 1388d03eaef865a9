"""Wires a CommandHandler to a paho client: subscribe to `<prefix>/<device>/cmd/+`, answer each command.

MQTT 5: the reply goes to the request's Response Topic with its Correlation Data copied back.
MQTT 3.1.1 fallback (no properties): the command object may carry `reply_to` (a topic) and `id` (echoed in
the reply); without `reply_to` the reply goes to `<prefix>/<device>/reply/<verb>`.
Commands run on one worker thread, in order, so a slow `reload` never stalls paho's network loop.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.commands.handler import CommandHandler, RequestMeta

log = logging.getLogger(__name__)
_STOP = object()


def _reply_to_from_body(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    target = body.get("reply_to") if isinstance(body, dict) else None
    if isinstance(target, str) and target and "+" not in target and "#" not in target and len(target) < 512:
        return target
    return None


def _meta(msg: mqtt.MQTTMessage) -> RequestMeta:
    """The MQTT 5 request's response topic and correlation data (empty for 3.1.1)."""
    meta = RequestMeta()
    props = getattr(msg, "properties", None)
    if props is not None:
        meta.response_topic = getattr(props, "ResponseTopic", None)
        meta.correlation_data = getattr(props, "CorrelationData", None)
    return meta


class CommandServer:
    """Owns the command subscription on an already-configured client (the agent's one connection)."""

    def __init__(
        self, client: mqtt.Client, handler: CommandHandler, *, qos: int = 1, backlog: int = 64
    ) -> None:
        self.client = client
        self.handler = handler
        self.qos = qos
        self._q: queue.Queue[Any] = queue.Queue(maxsize=backlog)
        self._thread = threading.Thread(target=self._run, name="edge-commands", daemon=True)
        self.handled = 0
        self.busy = 0  # refused unhandled because `backlog` commands were already waiting
        self._attached = False

    def start(self) -> None:
        """Start the worker. Feed it with `on_message` from the owner's subscription (e.g. the agent's
        MqttPublisher.subscribe, which re-subscribes after reconnects), or call `attach()`."""
        self._thread.start()

    def attach(self) -> None:
        """Standalone use: route the client's command messages here and subscribe now."""
        self.client.message_callback_add(self.handler.subscription, lambda _c, _u, m: self.on_message(m))
        self._attached = True
        self.client.subscribe(self.handler.subscription, qos=self.qos)

    def stop(self) -> None:
        if self._attached:
            self.client.message_callback_remove(self.handler.subscription)
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout=5)

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        """Queue one command (called on paho's thread: never blocks)."""
        try:
            self._q.put_nowait(msg)
        except queue.Full:
            # answered like any other: to the MQTT 5 response topic with the correlation data, or a
            # v5 requester waits for a reply that went elsewhere
            verb = msg.topic.rsplit("/", 1)[-1]
            error = self.handler.error(verb, "refused", "busy: too many commands queued")
            self._send(msg, error, _meta(msg))
            self.busy += 1

    def _run(self) -> None:
        while True:
            msg = self._q.get()
            if msg is _STOP:
                return
            verb = msg.topic.rsplit("/", 1)[-1]
            meta = _meta(msg)
            reply = self.handler.handle(verb, bytes(msg.payload), meta)
            self._send(msg, reply, meta)
            self.handled += 1

    def _send(self, msg: mqtt.MQTTMessage, reply: dict[str, Any], meta: RequestMeta | None = None) -> None:
        verb = msg.topic.rsplit("/", 1)[-1]
        topic = (meta.response_topic if meta else None) or _reply_to_from_body(bytes(msg.payload))
        if topic is None:
            topic = f"{self.handler.prefix}/{self.handler.device}/reply/{verb}"
        props: Properties | None = None
        if self.client.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ContentType = "application/json"
            if meta is not None and meta.correlation_data is not None:
                props.CorrelationData = meta.correlation_data
        payload = json.dumps(reply, separators=(",", ":"), default=str)
        self.client.publish(topic, payload, qos=self.qos, properties=props)
