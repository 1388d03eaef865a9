"""A text input as a Frame, and the boundary every text input passes before it becomes one.

A text frame's `data` is the input's UTF-8 bytes as a 1-D uint8 array (a Frame carries numpy data);
`meta["input"]` names where it came from (topic, file:line, unit...), `meta["fields"]` holds the
input's other JSON fields when it had any, and `meta["truncated"]` is set when it was cut at the byte
cap. `frame_text` reads the text back.

`Boundary` is where raw bytes from outside are judged, once, for every input kind: invalid UTF-8 is
refused (`bad_encoding`: replacing characters would feed the model text nobody wrote), NUL is refused
(`nul`), an input over `max_bytes` is cut at a character boundary and counted, a blank one is skipped
and counted. A refusal is a counter, never an exception into a capture thread.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_agent.stages.types import JSON, Frame

DEFAULT_MAX_BYTES = 16 * 1024
# A JSON input (jsonl line, MQTT JSON payload, journal entry) may carry other fields beside its text:
# its raw line may be this many times the text cap before it is refused as `too_long`.
JSON_LINE_FACTOR = 4


def text_frame(  # noqa: PLR0917 (the order issue 15 agreed on: text, ts, index, source, fields, origin)
    text: str,
    ts: float,
    index: int,
    source: str,
    fields: JSON | None = None,
    origin: str = "",
    *,
    truncated: bool = False,
) -> Frame:
    """The Frame for one text input (`origin`: its own id, e.g. the topic or `file:line`)."""
    if not isinstance(text, str):
        raise TypeError(f"text_frame: expected the text as str, got {type(text).__name__}")
    if "\x00" in text:
        raise ValueError("text_frame: expected text without NUL characters")
    meta: dict[str, Any] = {"input": origin or source}
    if fields is not None:
        meta["fields"] = fields
    if truncated:
        meta["truncated"] = True
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return Frame(data, ts=ts, index=index, source=source, meta=meta)


def frame_text(frame: Frame) -> str:
    """The text a text frame carries; a frame that is not one is a clear error."""
    data = frame.data
    if data.dtype != np.uint8 or data.ndim != 1:
        raise ValueError(
            f"frame_text: expected a text frame (1-D uint8 UTF-8 bytes), got {data.ndim}-D {data.dtype}"
        )
    try:
        return data.tobytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"frame_text: the frame's bytes are not UTF-8 ({exc.reason})") from exc


def trim_partial(raw: bytes) -> bytes:
    """`raw` without an incomplete UTF-8 character at its end (what a cut at a byte count leaves)."""
    end = len(raw)
    i = end - 1
    while i >= 0 and end - i <= 4 and raw[i] & 0xC0 == 0x80:  # step back over continuation bytes
        i -= 1
    if i < 0 or end - i > 4 or raw[i] < 0xC0:
        return raw  # ASCII, or bytes that are invalid anyway (refused as bad_encoding)
    need = 2 if raw[i] < 0xE0 else 3 if raw[i] < 0xF0 else 4
    return raw[:i] if end - i < need else raw


@dataclass(slots=True)
class InputCounters:
    """What a text input did with what it was given, for the pipeline's stats message."""

    received: int = 0
    emitted: int = 0
    empty: int = 0
    truncated: int = 0
    dropped_oldest: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def as_dict(self) -> JSON:
        return {
            "received": self.received,
            "emitted": self.emitted,
            "empty": self.empty,
            "truncated": self.truncated,
            "dropped_oldest": self.dropped_oldest,
            "refused": dict(self.refused),
        }


class Boundary:
    """Judges raw inputs for one source and numbers the frames it lets through.

    Thread-safe: an MQTT input is fed on the connection's thread while stats read the counters.
    """

    def __init__(self, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.counters = InputCounters()
        self._index = 0
        self._lock = threading.Lock()

    @property
    def json_cap(self) -> int:
        """The longest raw JSON input (line, payload, journal entry) accepted."""
        return self.max_bytes * JSON_LINE_FACTOR

    def restart(self) -> None:
        """Frame indices count from 0 again (a replayed file starting over)."""
        with self._lock:
            self._index = 0

    def dropped_oldest(self) -> None:
        """Count an input a live backlog dropped to make room for a newer one."""
        with self._lock:
            self.counters.dropped_oldest += 1

    def snapshot(self) -> JSON:
        """The counters as a dict, consistent with the threads feeding this boundary."""
        with self._lock:
            return self.counters.as_dict()

    def refuse(self, reason: str) -> None:
        """Count an input refused before it reached `text` (e.g. a line over the JSON cap)."""
        with self._lock:
            self.counters.received += 1
            self.counters.refuse(reason)

    def text(
        self,
        raw: bytes | str,
        ts: float,
        origin: str,
        fields: JSON | None = None,
        *,
        cut: bool = False,
    ) -> Frame | None:
        """A frame for `raw` (bytes, or text already decoded from JSON), or None when it is refused or
        blank (counted). `cut`: the reader already clipped it at the byte cap."""
        with self._lock:
            self.counters.received += 1
            return self._judge(raw, ts, origin, fields, cut)

    def record(self, raw: bytes, ts: float, origin: str, key: str) -> Frame | None:
        """A frame for a JSON object whose `key` holds the text; its other keys become the frame's
        fields. Not JSON (`bad_json`), not an object or no string at `key` (`no_field`) and
        over the JSON cap (`too_long`) are refused and counted."""
        if len(raw) > self.json_cap:
            self.refuse("too_long")
            return None
        try:
            rec = json.loads(raw)
        except UnicodeDecodeError:
            self.refuse("bad_encoding")
            return None
        except json.JSONDecodeError:
            self.refuse("bad_json")
            return None
        if not isinstance(rec, dict) or not isinstance(rec.get(key), str):
            self.refuse("no_field")
            return None
        text = rec.pop(key)
        return self.text(text, ts, origin, rec)

    def _judge(
        self, raw: bytes | str, ts: float, origin: str, fields: JSON | None, cut: bool
    ) -> Frame | None:
        c = self.counters
        if isinstance(raw, str):
            try:
                raw = raw.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape
                c.refuse("bad_encoding")
                return None
        if len(raw) > self.max_bytes:
            raw, cut = raw[: self.max_bytes], True
        if cut:
            raw = trim_partial(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            c.refuse("bad_encoding")
            return None
        if "\x00" in text:
            c.refuse("nul")
            return None
        text = text.rstrip()
        if not text:
            c.empty += 1
            return None
        if cut:
            c.truncated += 1
        c.emitted += 1
        frame = text_frame(text, ts, self._index, self.source, fields, origin, truncated=cut)
        self._index += 1
        return frame

