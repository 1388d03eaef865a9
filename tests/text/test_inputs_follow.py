"""The `log_follow` input on real files, followed by a real capture thread while the test writes,
rotates (rename + new file, and copytruncate), removes and recreates the log, as logrotate would."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from edge_agent.text.inputs.follow import LogFollowSource
from edge_agent.text.source_config import LogFollowConfig
from tests.helpers import wait
from tests.text.inputs_support import captured, take, texts


def _append(path: Path, data: str | bytes) -> None:
    with path.open("ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()


def _follow(path: Path, **kw: Any) -> LogFollowSource:
    return LogFollowSource(LogFollowConfig(kind="log_follow", path=str(path), poll_s=0.02, **kw), "syslog")


def test_it_starts_at_the_end_and_a_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("old line 1\nold line 2\n")
    src = _follow(log)
    with captured(src) as (_cap, out):
        assert wait(lambda: src.following)  # the follower has the file open, at its end
        _append(log, "kernel: Under-voltage detected! (0x00050005)\nsystemd[1]: Start")
        assert texts(take(out, 1)) == ["kernel: Under-voltage detected! (0x00050005)"]
        assert take(out, 1, timeout=0.3) == []  # the partial line is not handed on
        _append(log, "ed Session 4 of user pi.\n")
        assert texts(take(out, 1)) == ["systemd[1]: Started Session 4 of user pi."]
    assert src.counters()["emitted"] == 2


def test_from_start_reads_what_is_there_first(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("first\nsecond\n")
    src = _follow(log, from_start=True)
    with captured(src) as (_cap, out):
        got = take(out, 2)
    assert texts(got) == ["first", "second"]
    assert [f.meta["input"] for f in got] == [str(log), str(log)]


def test_rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("")
    src = _follow(log)
    with captured(src) as (_cap, out):
        assert wait(lambda: src.following)
        _append(log, "before rotation\n")
        assert texts(take(out, 1)) == ["before rotation"]
        _append(log, "written just before the rename\nno newline at the end")
        os.rename(log, tmp_path / "syslog.1")
        _append(tmp_path / "syslog.1", " (still the old file)")  # a writer that has not reopened yet
        assert wait(lambda: src.counters()["absent"] or src.rotations == 1)
        _append(log, "first line of the new file\n")  # the new file: read from its start
        got = texts(take(out, 3))
    assert got[0] == "written just before the rename"
    assert got[1].startswith("no newline at the end")
    assert got[2] == "first line of the new file"
    assert src.rotations == 1


def test_copytruncate_starts_again_at_the_top(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    log.write_text("")
    src = _follow(log)
    with captured(src) as (_cap, out):
        assert wait(lambda: src.following)
        _append(log, "a fairly long line before the copy and the truncate\n")
        assert len(take(out, 1)) == 1
        shutil.copy(log, tmp_path / "daemon.log.1")
        with log.open("r+b") as f:
            f.truncate(0)
        assert wait(lambda: src.truncations == 1)
        _append(log, "after truncate\n")
        assert texts(take(out, 1)) == ["after truncate"]
    assert src.rotations == 0


def test_an_absent_file_is_waited_for_and_bad_lines_do_not_stop_it(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    src = _follow(log, max_bytes=64)
    with captured(src) as (cap, out):
        assert wait(lambda: src.counters()["absent"] is True)
        assert cap.status.failures == 0  # absence is waited out, not a failure
        _append(log, b"\xff bad bytes\n" + b"z" * 500 + b"\nnul \x00 here\nfine\n")
        got = take(out, 2)
    assert texts(got) == ["z" * 64, "fine"]
    c = src.counters()
    assert c["absent"] is False
    assert c["refused"] == {"bad_encoding": 1, "nul": 1}
    assert c["truncated"] == 1


def test_a_burst_beyond_the_backlog_drops_the_oldest(tmp_path: Path) -> None:
    log = tmp_path / "burst.log"
    log.write_text("")
    src = _follow(log, backlog=5)
    src.open()  # no capture: nobody reads while the burst is written
    try:
        assert wait(lambda: src.following)
        _append(log, "".join(f"burst {i}\n" for i in range(50)))
        assert wait(lambda: src.counters()["received"] == 50)
        kept = [src.read() for _ in range(5)]
        assert texts([f for f in kept if f is not None]) == [f"burst {i}" for i in range(45, 50)]
        assert src.counters()["dropped_oldest"] == 45
    finally:
        src.close()
    assert src.read() is None  # closed: the end, not a wait
