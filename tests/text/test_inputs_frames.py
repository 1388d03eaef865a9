"""Text frames, the boundary every text input passes (encoding, NUL, byte cap, blanks, JSON records),
the bounded line splitter, and the config models' errors."""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
import pytest
from pydantic import Field, TypeAdapter, ValidationError

from edge_agent.stages.types import Frame
from edge_agent.text.frames import Boundary, frame_text, text_frame, trim_partial
from edge_agent.text.inputs.lines import LineSplitter
from edge_agent.text.source_config import (
    TEXT_KINDS,
    EventsConfig,
    JournaldConfig,
    LogFollowConfig,
    TextFileConfig,
    TextMqttConfig,
    TextSourceConfig,
)

UNDERVOLTAGE = "hwmon hwmon1: Undervoltage detected!"


def test_a_text_frame_carries_utf8_bytes_and_reads_back() -> None:
    f = text_frame("EXT4-fs error (device mmcblk0p2): résumé", 12.5, 3, "triage", {"unit": "kernel"}, "k:1")
    assert f.data.dtype == np.uint8
    assert f.data.ndim == 1
    assert frame_text(f) == "EXT4-fs error (device mmcblk0p2): résumé"
    assert (f.ts, f.index, f.source) == (12.5, 3, "triage")
    assert f.meta == {"input": "k:1", "fields": {"unit": "kernel"}}


def test_frame_text_refuses_a_frame_that_is_not_text() -> None:
    with pytest.raises(ValueError, match=r"expected a text frame \(1-D uint8"):
        frame_text(Frame(np.zeros((2, 2), np.float32), 0.0, 0))
    with pytest.raises(ValueError, match="not UTF-8"):
        frame_text(Frame(np.frombuffer(b"\xff\xfe", np.uint8), 0.0, 0))
    with pytest.raises(ValueError, match="without NUL"):
        text_frame("a\x00b", 0.0, 0, "s")


def test_the_boundary_refuses_bad_encoding_and_nul_and_goes_on() -> None:
    b = Boundary("logs", max_bytes=64)
    got = [
        b.text(b"\xc3\x28 broken", 1.0, "x"),  # invalid UTF-8
        b.text(b"null\x00byte", 1.0, "x"),
        b.text(b"   \r\n", 1.0, "x"),  # blank: skipped, counted
        b.text(UNDERVOLTAGE.encode() + b"\r\n", 1.0, "x"),
    ]
    assert got[:3] == [None, None, None]
    assert got[3] is not None
    assert frame_text(got[3]) == UNDERVOLTAGE  # trailing CR/LF gone
    assert got[3].index == 0  # refused inputs take no index
    assert b.snapshot() == {
        "received": 4,
        "emitted": 1,
        "empty": 1,
        "truncated": 0,
        "dropped_oldest": 0,
        "refused": {"bad_encoding": 1, "nul": 1},
    }


def test_an_over_long_input_is_cut_at_a_character_boundary_and_counted() -> None:
    b = Boundary("logs", max_bytes=64)
    raw = ("é" * 40).encode()  # 80 bytes of 2-byte characters: the cut at 64 ends one
    f = b.text(raw, 0.0, "x")
    assert f is not None
    assert f.meta["truncated"] is True
    assert frame_text(f) == "é" * 32
    odd = b.text(b"a" + "é".encode() * 40, 0.0, "x")  # the cut lands mid-character
    assert odd is not None
    assert frame_text(odd) == "a" + "é" * 31
    assert b.counters.truncated == 2


def test_trim_partial_drops_only_an_incomplete_last_character() -> None:
    euro = "€".encode()  # 3 bytes
    assert trim_partial(b"ab" + euro[:2]) == b"ab"
    assert trim_partial(b"ab" + euro) == b"ab" + euro
    assert trim_partial(b"plain") == b"plain"


def test_json_records_split_the_text_from_the_other_fields() -> None:
    b = Boundary("mqtt", max_bytes=64)
    ok = b.record(json.dumps({"text": UNDERVOLTAGE, "host": "pi-7", "n": 2}).encode(), 0.0, "t", "text")
    assert ok is not None
    assert frame_text(ok) == UNDERVOLTAGE
    assert ok.meta["fields"] == {"host": "pi-7", "n": 2}
    assert b.record(b"{not json", 0.0, "t", "text") is None
    assert b.record(b'{"msg": "no text key"}', 0.0, "t", "text") is None
    assert b.record(b'["a", "list"]', 0.0, "t", "text") is None
    assert b.record(b'{"text": "nul \\u0000 in json"}', 0.0, "t", "text") is None
    assert b.record(b'{"text": "lone \\ud800 surrogate"}', 0.0, "t", "text") is None
    assert b.record(json.dumps({"text": "x" * 300}).encode(), 0.0, "t", "text") is None  # over 4 x 64
    assert b.snapshot()["refused"] == {
        "bad_json": 1,
        "no_field": 2,
        "nul": 1,
        "bad_encoding": 1,
        "too_long": 1,
    }


def test_the_line_splitter_bounds_a_line_and_waits_for_a_partial_one() -> None:
    s = LineSplitter(cap=8)
    assert s.feed(b"one\ntw") == [(b"one", False)]
    assert s.pending == 2
    assert s.feed(b"o\n") == [(b"two", False)]
    # A 1 MB line: handed on cut at the cap as soon as it is reached, the rest skipped to its newline.
    assert s.feed(b"x" * 20) == [(b"x" * 8, True)]
    assert s.pending == 0
    assert s.feed(b"y" * 1_000_000) == []
    assert s.pending == 0  # nothing of the over-long line is held
    assert s.feed(b"\nthree\nfo") == [(b"three", False)]
    assert s.flush() == [(b"fo", False)]
    assert s.flush() == []


def test_config_errors_name_what_was_expected() -> None:
    with pytest.raises(ValidationError, match="expected an MQTT topic filter: it has # before the last"):
        TextMqttConfig(kind="text_mqtt", topic="site/#/logs")
    with pytest.raises(ValidationError, match="give `every_s`, `count` or both"):
        EventsConfig(kind="events", pipelines=["door"])
    with pytest.raises(ValidationError, match="expected pipeline names"):
        EventsConfig(kind="events", pipelines=["a/b"], count=2)
    with pytest.raises(ValidationError, match="expected a file, got an empty string"):
        TextFileConfig(kind="text_file", path=" ")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TextFileConfig.model_validate({"kind": "text_file", "path": "x.log", "follow": True})


def test_a_source_block_is_told_apart_by_kind() -> None:
    blocks = TypeAdapter(list[Annotated[TextSourceConfig, Field(discriminator="kind")]])
    parsed = blocks.validate_python(
        [
            {"kind": "text_mqtt", "topic": "site/logs/#", "field": "text"},
            {"kind": "text_file", "path": "boot.jsonl", "format": "jsonl", "rate": 5, "loop": True},
            {"kind": "log_follow", "path": "/var/log/syslog", "from_start": True},
            {"kind": "journald", "units": ["ssh.service"], "priority": "warning"},
            {"kind": "events", "pipelines": ["door"], "last": 10, "every_s": 60},
        ]
    )
    assert [type(c) for c in parsed] == [
        TextMqttConfig,
        TextFileConfig,
        LogFollowConfig,
        JournaldConfig,
        EventsConfig,
    ]
    assert tuple(c.kind for c in parsed) == TEXT_KINDS
    assert parsed[0].backlog == 256  # type: ignore[union-attr]
    assert parsed[0].max_bytes == 16 * 1024
    with pytest.raises(ValidationError, match="Input should be 'emerg', 'alert'"):
        blocks.validate_python([{"kind": "journald", "priority": "loud"}])
