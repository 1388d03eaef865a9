"""Wires a CommandHandler to a paho client: subscribe to `<prefix>/<device>/cmd/+`, answer each command.

MQTT 5: the reply goes to the request's Response Topic with its Correlation Data copied back.
MQTT 3.1.1 fallback (no properties): the command object may carry `reply_to` (a topic) and `id` (echoed in
the reply); without `reply_to` the reply goes to `<prefix>/<device>/reply/<verb>`.

The boundary, held here for every message:
- a retained command is never run: the subscription asks the broker not to send retained messages and to
  keep the retain flag on live ones (MQTT 5), and any message that still carries the flag is dropped;
- a reply goes only to a valid topic outside the device's own namespace (edge_agent.topics); a
  command asking for any other is refused, unrun, on `<prefix>/<device>/reply/<verb>`, and a reply that
  cannot be published is dropped, logged and counted, never handed to paho to be resent;
- commands run one at a time on a supervised worker thread, so a slow `reload` never stalls paho's network
  loop, and no exception ends it: one command's failure is counted and answered, a failure of the loop
  itself restarts it, a dead thread is started again by `check()`, which the systemd watchdog calls.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.errors import CommandError
from edge_agent.remote.commands.handler import CommandHandler, RequestMeta
from edge_agent.topics import reply_topic, reply_topic_problem, topic_problem

log = logging.getLogger(__name__)
_STOP = object()
_IDLE_BEAT_S = 0.5  # the worker beats at least this often while it waits for commands


@dataclass(slots=True)
class CommandStats:
    """Counters of the command channel, published in stats as `commands`."""

    handled: int = 0  # commands answered by the handler
    busy: int = 0  # refused unrun because `backlog` commands were already waiting
    retained_dropped: int = 0  # messages that arrived with the retain flag: never run
    reply_refused: int = 0  # refused unrun: the reply topic asked for is not allowed
    replies_dropped: int = 0  # replies that could not be published (topic invalid, paho refused)
    errors: int = 0  # exceptions caught while serving one message (answered where possible)
    restarts: int = 0  # the worker loop was restarted after an exception escaped it, or revived


def _meta(msg: mqtt.MQTTMessage) -> RequestMeta:
    """The MQTT 5 request's response topic and correlation data (empty for 3.1.1)."""
    meta = RequestMeta()
    props = getattr(msg, "properties", None)
    if props is not None:
        meta.response_topic = getattr(props, "ResponseTopic", None)
        meta.correlation_data = getattr(props, "CorrelationData", None)
    return meta


def _verb(msg: mqtt.MQTTMessage) -> str:
    return msg.topic.rsplit("/", 1)[-1]


class CommandServer:
    """Owns the command subscription on an already-configured client (the agent's one connection)."""

    def __init__(
        self, client: mqtt.Client, handler: CommandHandler, *, qos: int = 1, backlog: int = 64
    ) -> None:
        self.client = client
        self.handler = handler
        self.qos = qos
        self.stats = CommandStats()
        self.beat = time.monotonic()  # last sign of life of the worker (watchdog)
        self._q: queue.Queue[Any] = queue.Queue(maxsize=backlog)
        self._thread = self._new_thread()
        self._started = False
        self._stopping = False
        self._attached = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._supervise, name="edge-commands", daemon=True)

    def start(self) -> None:
        """Start the worker. Feed it with `on_message` from the owner's subscription (e.g. the agent's
        MqttPublisher.subscribe(..., retained=False), which re-subscribes after reconnects), or call
        `attach()`."""
        self._started = True
        self._thread.start()

    def attach(self) -> None:
        """Standalone use: route the client's command messages here and subscribe now."""
        self.client.message_callback_add(self.handler.subscription, lambda _c, _u, m: self.on_message(m))
        self._attached = True
        if self.client.protocol == mqtt.MQTTv5:
            opts = SubscribeOptions(qos=self.qos, retainAsPublished=True, retainHandling=2)
            self.client.subscribe(self.handler.subscription, options=opts)
        else:
            self.client.subscribe(self.handler.subscription, qos=self.qos)

    def stop(self) -> None:
        self._stopping = True
        if self._attached:
            self.client.message_callback_remove(self.handler.subscription)
        if self._thread.is_alive():
            try:
                self._q.put(_STOP, timeout=5)
            except queue.Full:
                log.warning("command queue still full at stop; the worker ends after its current command")
            self._thread.join(timeout=5)

    @property
    def alive(self) -> bool:
        """The worker thread is running."""
        return self._thread.is_alive()

    @property
    def handled(self) -> int:
        return self.stats.handled

    @property
    def busy(self) -> int:
        return self.stats.busy

    def snapshot(self) -> dict[str, Any]:
        """Counters and liveness for stats."""
        return {**asdict(self.stats), "alive": self.alive, "queued": self._q.qsize()}

    def check(self, stall_s: float) -> str | None:
        """For the watchdog: revive a dead worker (counted), and say what is wrong if it shows no progress."""
        if not self._started or self._stopping:
            return None
        if not self._thread.is_alive():
            log.error("the command thread had ended; starting it again")
            self.stats.restarts += 1
            self.beat = time.monotonic()
            self._thread = self._new_thread()
            self._thread.start()
            return None
        silent = time.monotonic() - self.beat
        return f"commands (worker silent {silent:.0f} s)" if silent > stall_s else None

    # -- paho's thread ------------------------------------------------------------------------------
    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        """Queue one command (called on paho's thread: never blocks, never raises)."""
        try:
            if msg.retain:
                # Retained commands would run again at every connect (a `stop`, an `update-model`).
                self.stats.retained_dropped += 1
                log.warning(
                    "retained command on %.200s dropped: commands are never taken from retained "
                    "messages (clear it with an empty retained publish)",
                    msg.topic,
                )
                return
            self._q.put_nowait(msg)
        except queue.Full:
            # answered like any other: to the MQTT 5 response topic with the correlation data, or a
            # v5 requester waits for a reply that went elsewhere
            self.stats.busy += 1
            try:
                self._answer_unrun(msg, "refused", "busy: too many commands queued")
            except Exception:
                self.stats.errors += 1
                log.exception("answering a command refused as busy failed")
        except Exception:  # an exception here would end paho's network thread
            self.stats.errors += 1
            log.exception("command message could not be queued")

    # -- the worker ---------------------------------------------------------------------------------
    def _supervise(self) -> None:
        while True:
            try:
                self._serve()
                return
            except Exception:
                self.stats.restarts += 1
                log.exception("command loop failed; restarting it")
                time.sleep(0.1)  # no hot loop if the failure repeats

    def _serve(self) -> None:
        while True:
            self.beat = time.monotonic()
            try:
                msg = self._q.get(timeout=_IDLE_BEAT_S)
            except queue.Empty:
                continue
            if msg is _STOP:
                return
            try:
                self._serve_one(msg)
            except Exception:
                self.stats.errors += 1
                log.exception("command on %.200s failed unexpectedly", getattr(msg, "topic", "?"))

    def _serve_one(self, msg: mqtt.MQTTMessage) -> None:
        verb = _verb(msg)
        meta = _meta(msg)
        payload = bytes(msg.payload)
        topic, problem = self._reply_target(verb, payload, meta)
        if problem is not None:
            self.stats.reply_refused += 1
            log.warning("command %.64s refused unrun: %s", verb, problem)
            reply = self.handler.error(verb, "invalid_args", problem, self._ident(verb, payload))
        else:
            reply = self.handler.handle(verb, payload, meta)
            self.stats.handled += 1
        self._send(topic, verb, reply, meta)

    # -- replies --------------------------------------------------------------------------------------
    def _default_topic(self, verb: str) -> str:
        return reply_topic(self.handler.prefix, self.handler.device, verb)

    def _body(self, verb: str, payload: bytes) -> dict[str, Any] | None:
        try:
            return self.handler.parse(verb, payload)
        except CommandError:
            return None  # the handler answers it as bad_payload, to the default topic

    def _ident(self, verb: str, payload: bytes) -> Any:
        body = self._body(verb, payload)
        return body.get("id") if body is not None else None

    def _reply_target(self, verb: str, payload: bytes, meta: RequestMeta) -> tuple[str, str | None]:
        """Where the reply goes, and why the command is refused when the topic it asks for is not allowed."""
        prefix, device = self.handler.prefix, self.handler.device
        if meta.response_topic is not None:
            problem = reply_topic_problem(prefix, device, meta.response_topic)
            if problem is not None:
                return self._default_topic(verb), f"the response topic {problem}"
            return meta.response_topic, None
        body = self._body(verb, payload)
        target = body.get("reply_to") if body is not None else None
        if target is None:
            return self._default_topic(verb), None
        problem = reply_topic_problem(prefix, device, target)
        if problem is not None:
            return self._default_topic(verb), f"reply_to {problem}"
        return str(target), None

    def _answer_unrun(self, msg: mqtt.MQTTMessage, code: str, reason: str) -> None:
        verb = _verb(msg)
        meta = _meta(msg)
        payload = bytes(msg.payload)
        topic, _problem = self._reply_target(verb, payload, meta)
        self._send(topic, verb, self.handler.error(verb, code, reason, self._ident(verb, payload)), meta)

    def _send(self, topic: str, verb: str, reply: dict[str, Any], meta: RequestMeta | None) -> None:
        """Publish one reply, or drop it (logged, counted) when it cannot be published: never retried."""
        problem = topic_problem(topic)
        if problem is not None:
            self._dropped(verb, f"the topic {problem}")
            return
        props: Properties | None = None
        if self.client.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ContentType = "application/json"
            if meta is not None and isinstance(meta.correlation_data, (bytes, bytearray)):
                props.CorrelationData = bytes(meta.correlation_data)
        payload = json.dumps(reply, separators=(",", ":"), default=str)  # ASCII: lone surrogates escaped
        try:
            info = self.client.publish(topic, payload, qos=self.qos, properties=props)
        except (ValueError, TypeError) as exc:
            self._dropped(verb, f"paho refused it: {exc}")
            return
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._dropped(verb, mqtt.error_string(info.rc))

    def _dropped(self, verb: str, why: str) -> None:
        self.stats.replies_dropped += 1
        log.warning("reply to %.64s dropped: %s", verb, why)
