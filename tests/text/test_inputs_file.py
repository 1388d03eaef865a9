"""The `text_file` input on real files: lines and JSONL, bad lines counted and skipped, a loop, and
a real capture thread that never drops a line of a file however slow the reader is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.errors import SourceError
from edge_agent.stages.types import Frame
from edge_agent.text.frames import frame_text
from edge_agent.text.inputs.factory import text_source
from edge_agent.text.inputs.file import TextFileSource
from edge_agent.text.source_config import TextFileConfig
from tests.text.inputs_support import captured, take, texts

LINES = [
    "kernel: hwmon hwmon1: Undervoltage detected!",
    "systemd[1]: Started Daily apt upgrade and clean activities.",
    "kernel: EXT4-fs error (device mmcblk0p2): ext4_lookup:1700: inode #2: comm ls: deleted inode",
    "kernel: cpu cpu0: thermal throttling: temperature 82.3 C",
]


def _frames(src: TextFileSource) -> list[Frame]:
    """Every frame of one pass over the file, the source closed after."""
    src.open()
    try:
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
        return frames
    finally:
        src.close()


def test_lines_with_bad_ones_counted_and_skipped(tmp_path: Path) -> None:
    log = tmp_path / "boot.log"
    log.write_bytes(
        LINES[0].encode()
        + b"\n\xff\xfe not utf-8\n"
        + b"\n"
        + b"has a \x00 nul\n"
        + b"x" * 5000
        + b"\n"
        + LINES[1].encode()  # the last line has no newline: still a line of the file
    )
    src = TextFileSource(TextFileConfig(kind="text_file", path=str(log), max_bytes=1024), "boot")
    frames = _frames(src)
    assert [frame_text(f) for f in frames] == [LINES[0], "x" * 1024, LINES[1]]
    assert [f.meta["input"] for f in frames] == [f"{log.name}:1", f"{log.name}:5", f"{log.name}:6"]
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[1].meta["truncated"] is True
    c = src.counters()
    assert (c["received"], c["emitted"], c["empty"], c["truncated"]) == (6, 3, 1, 1)
    assert c["refused"] == {"bad_encoding": 1, "nul": 1}


def test_jsonl_takes_the_field_and_keeps_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "logs.jsonl"
    recs = [{"msg": LINES[2], "host": "pi-3", "facility": "kern"}, {"host": "pi-3"}, {"msg": LINES[3]}]
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\n{broken\n\n")
    cfg = TextFileConfig(kind="text_file", path=str(log), format="jsonl", field="msg")
    src = text_source(cfg, "jsonl")
    assert isinstance(src, TextFileSource)
    frames = _frames(src)
    assert texts(frames) == [LINES[2], LINES[3]]
    assert frames[0].meta["fields"] == {"host": "pi-3", "facility": "kern"}
    assert frames[1].meta["fields"] == {}
    assert src.counters()["refused"] == {"no_field": 1, "bad_json": 1}
    assert src.counters()["empty"] == 1


def test_loop_starts_again_and_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    log = tmp_path / "two.log"
    log.write_text("\n".join(LINES[:2]) + "\n")
    src = TextFileSource(TextFileConfig(kind="text_file", path=str(log), loop=True))
    src.open()
    try:
        frames = [src.read() for _ in range(5)]
    finally:
        src.close()
    assert texts([f for f in frames if f is not None]) == [LINES[0], LINES[1], LINES[0], LINES[1], LINES[0]]
    assert [f.index for f in frames if f is not None] == [0, 1, 0, 1, 0]  # the index restarts per pass
    with pytest.raises(SourceError, match="cannot open"):
        TextFileSource(TextFileConfig(kind="text_file", path=str(tmp_path / "nope.log"))).open()


def test_a_paced_file_through_the_capture_never_drops(tmp_path: Path) -> None:
    """A one-slot queue and a reader that takes its time: every line still arrives, in order (a file
    blocks, it does not drop)."""
    log = tmp_path / "many.log"
    lines = [f"line {i}: {LINES[i % 4]}" for i in range(40)]
    log.write_text("\n".join(lines) + "\n")
    src = TextFileSource(TextFileConfig(kind="text_file", path=str(log), rate=400.0))
    assert src.live is False
    with captured(src, size=1) as (cap, out):
        got = take(out, 40)
        assert take(out, 1, timeout=5) == []  # then the end marker
        assert cap.status.state == "ended"
    assert texts(got) == lines
    assert cap.status.dropped == 0
