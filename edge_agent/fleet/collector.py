"""`fleet collect`: results and events from every device into a Store, with sequence-gap tracking.

paho's thread only parses and queues; one writer thread batches inserts (every `flush_s` or
`batch` rows), so a slow database never stalls the network loop. Several collectors share the load
with an MQTT 5 shared subscription (`$share/<group>/<prefix>/+/+/+`): the broker hands each message to
one member of the group. PUBACKs are sent only after the batch is committed (paho manual ack), so a
collector that dies loses nothing the broker will not redeliver; with a persistent session (fixed
client id, clean_start false, session expiry) the broker keeps QoS 1 messages while it restarts.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.fleet.store import Record, Store
from edge_agent.topics import parse_pipeline_topic, pipeline_filter

log = logging.getLogger(__name__)
_STOP = object()


def record_from(prefix: str, topic: str, payload: bytes, received: float) -> Record | None:
    """A storable record, or None for anything that is not a well-formed pipeline message."""
    where = parse_pipeline_topic(prefix, topic)
    if where is None:
        return None
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    seq, ts = body.get("seq"), body.get("ts")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    # The topic is what the broker's ACL vouches for; a payload claiming another device is not stored.
    if (
        body.get("device", where.device) != where.device
        or body.get("pipeline", where.pipeline) != where.pipeline
    ):
        log.warning("payload on %s names another device/pipeline; dropped", topic)
        return None
    return Record(
        device=where.device,
        pipeline=where.pipeline,
        seq=seq,
        kind=where.kind,
        ts=float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None,
        received=received,
        body=body,
    )


class Collector:
    """Subscribes, parses, stores. `on_record` (optional) sees every record, e.g. fusion."""

    def __init__(
        self,
        client: mqtt.Client,
        store: Store,
        *,
        prefix: str = "edge",
        share_group: str | None = None,
        batch: int = 500,
        flush_s: float = 0.0,
        on_record: Callable[[Record], None] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.prefix = prefix
        self.filter = pipeline_filter(prefix, share_group)
        # paho matches callbacks against the topic, so the callback filter is the one without `$share/g/`.
        self._match = pipeline_filter(prefix)
        self.batch = batch
        self.flush_s = flush_s
        self.on_record = on_record
        self.received = 0
        self.stored = 0
        self.rejected = 0
        self._q: queue.Queue[Any] = queue.Queue(maxsize=100_000)
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)
        self._subscribed = threading.Event()
        # Registered now, before the client connects (fleet.client.make_client): a persistent session's
        # queued messages arrive right after CONNACK and must be stored and acked, not dropped.
        client.manual_ack_set(True)
        client.message_callback_add(self._match, self._on_message)
        self._writer.start()

    def start(self, timeout: float = 10.0) -> None:
        """Subscribe (again: with a persistent session the broker already has it, which is harmless)."""
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.subscribe(self.filter, qos=1)
        if not self._subscribed.wait(timeout):
            log.warning("no SUBACK for %s within %.0fs", self.filter, timeout)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        rec = record_from(self.prefix, msg.topic, bytes(msg.payload), time.time())
        if rec is None:
            self.rejected += 1
            self.client.ack(msg.mid, msg.qos)
            return
        self._q.put(
            (rec, msg.mid, msg.qos)
        )  # blocks paho only if the database is 100k rows behind: back-pressure

    def _write_loop(self) -> None:
        # Commit as soon as the queue runs dry (or `batch` rows, or `flush_s` passed): the broker keeps
        # only a few unacknowledged QoS 1 messages in flight per client (mosquitto's max_inflight_messages,
        # 20 by default), so waiting to fill a big batch would throttle the collector to a trickle.
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            pending = [item]
            deadline = time.monotonic() + self.flush_s
            stop = False
            while len(pending) < self.batch:
                try:
                    left = deadline - time.monotonic()
                    item = self._q.get(timeout=left) if left > 0 else self._q.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                pending.append(item)
            self._flush(pending)
            if stop:
                return

    def _flush(self, items: list[tuple[Record, int, int]]) -> None:
        records = [r for r, _mid, _qos in items]
        try:
            self.stored += self.store.add(records)
        except Exception:  # not acked: the broker redelivers these after a reconnect
            log.exception("storing %d records failed", len(records))
            return
        for _rec, mid, qos in items:
            self.client.ack(mid, qos)
        if self.on_record is not None:
            for r in records:
                try:
                    self.on_record(r)
                except Exception:
                    log.exception("on_record failed")

    def stop(self) -> None:
        self.client.message_callback_remove(self._match)
        self._q.put(_STOP)
        self._writer.join(timeout=10)
