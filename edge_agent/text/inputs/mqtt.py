"""The `text_mqtt` input: text published on a topic of the agent's broker, received through the
agent's own MQTT connection (its TLS, credentials and reconnects), never a connection of its own.

Like the `mqtt` sensor input it is handed a `Subscribe` (the agent's SensorTopics): a payload is
judged at the boundary on the connection's thread (cheap: a decode, a JSON parse) and waits in the
drop-oldest backlog for the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edge_agent.errors import SourceError
from edge_agent.text.inputs.live import LiveInput
from edge_agent.text.source_config import TextMqttConfig

# The shape of edge_agent.sources.mqtt_input.Subscribe, spelled here so that the text package does not
# import the sources package (which the config models import: a cycle once text configs join them).
OnPayload = Callable[[bytes], None]
Cancel = Callable[[], None]
Subscribe = Callable[[str, OnPayload], Cancel]


class TextMqttSource(LiveInput):
    """Source: one frame per message; the payload is the text, or a JSON object whose `field` is.

    It subscribes when it is made (in the agent, before the connection starts, so the first
    connection already carries the subscription) and again on a reopen; `close()` cancels.
    """

    def __init__(self, cfg: TextMqttConfig, name: str = "", subscribe: Subscribe | None = None) -> None:
        if subscribe is None:
            raise SourceError(
                f"text_mqtt input {cfg.topic}: it reads through the agent's MQTT connection, and none "
                "was given"
            )
        super().__init__(name or cfg.topic, cfg.max_bytes, cfg.backlog)
        self.cfg = cfg
        self._subscribe = subscribe
        self._cancel: Cancel | None = subscribe(cfg.topic, self._on_payload)

    def _on_payload(self, payload: bytes) -> None:
        # On the connection's thread: it must not block, and nothing may escape into paho's loop.
        if self.backlog.closed:
            return
        b, ts = self.boundary, time.time()
        if self.cfg.field is None:
            frame = b.text(payload, ts, self.cfg.topic)
        else:
            frame = b.record(payload, ts, self.cfg.topic, self.cfg.field)
        if frame is not None:
            self.backlog.put(frame)

    def open(self) -> None:
        if self._cancel is None:
            self._cancel = self._subscribe(self.cfg.topic, self._on_payload)
        self.backlog.open()

    def close(self) -> None:
        self.backlog.close()
        if self._cancel is not None:
            cancel, self._cancel = self._cancel, None
            cancel()
