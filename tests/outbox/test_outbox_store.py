"""The outbox on a real SQLite file, driven directly: commit before send, delete after PUBACK, restarts,
bounds and drop order, dead letters, per-pipeline order."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.outbox import Outbox
from edge_agent.outbox.config import OutboxConfig
from edge_agent.outbox.db import stored_messages
from edge_agent.stages.types import Outbound
from tests.helpers import wait


class Wire:
    """The publisher's side: records what the outbox hands over and returns mids like paho."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, dict[str, Any]]] = []
        self.up = True
        self._mid = 0
        self._lock = threading.Lock()

    def send(self, topic: str, payload: bytes) -> int:
        with self._lock:
            self._mid += 1
            self.sent.append((self._mid, topic, json.loads(payload)))
            return self._mid

    def wait(self, n: int, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.sent) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.sent) >= n


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    opened: list[Outbox] = []

    def make_outbox(wire: Wire | None = None, **cfg: Any) -> Outbox:
        ob = Outbox(
            OutboxConfig(commit_interval_ms=10, **cfg), tmp_path / "outbox.sqlite", "dev", "edge", window=8
        )
        if wire is not None:
            ob.start(wire.send, lambda: wire.up)
        opened.append(ob)
        return ob

    yield make_outbox
    for ob in opened:
        if ob._thread.is_alive():
            ob.close()


def result(i: int, pipeline: str = "cam", kind: str = "results", priority: int = 1) -> Outbound:
    return Outbound(pipeline, kind, {"i": i}, priority=priority)


def test_committed_before_sent_and_deleted_only_after_puback(make: Any, tmp_path: Path) -> None:
    wire = Wire()
    ob = make(wire)
    for i in range(5):
        ob.put(result(i))
    assert wire.wait(5)
    stored = [json.loads(p)["seq"] for _t, p in stored_messages(tmp_path / "outbox.sqlite")]
    assert stored == [1, 2, 3, 4, 5]  # on disk while awaiting PUBACK
    assert ob.depth == 5
    for mid, _t, _b in wire.sent:
        ob.ack(mid, True)
    assert wait(lambda: ob.depth == 0)
    ob.close()
    assert list(stored_messages(tmp_path / "outbox.sqlite")) == []
    assert ob.stats.delivered == 5


def test_a_reconnect_does_not_hand_the_same_message_twice(make: Any) -> None:
    # paho re-sends its own in-flight messages after a reconnect; the outbox must not add copies.
    wire = Wire()
    ob = make(wire)
    for i in range(20):
        ob.put(result(i))
    assert wire.wait(8)  # window 8, no PUBACK yet
    wire.up = False
    ob.wake()
    wire.up = True
    ob.wake()
    time.sleep(0.2)
    assert [b["seq"] for _m, _t, b in wire.sent] == list(range(1, 9))
    for mid, _t, _b in list(wire.sent):
        ob.ack(mid, True)
    assert wire.wait(16)
    assert [b["seq"] for _m, _t, b in wire.sent] == list(range(1, 17))


def test_unacknowledged_messages_are_sent_again_after_a_restart(make: Any) -> None:
    wire = Wire()
    ob = make(wire)
    for i in range(5):
        ob.put(result(i))
    assert wire.wait(5)
    ob.close()  # the process ends with all five awaiting PUBACK
    wire2 = Wire()
    again = make(wire2)
    assert again.stats.last_seq == {"cam": 5}
    again.put(result(5))
    assert wire2.wait(6)
    assert [b["seq"] for _m, _t, b in wire2.sent] == [1, 2, 3, 4, 5, 6]


def test_order_and_numbering_per_pipeline(make: Any) -> None:
    wire = Wire()
    ob = make(wire, commit_batch=7)
    puts = []
    for i in range(30):
        pipe = "a" if i % 3 else "b"
        kind, prio = ("events", 2) if i % 5 == 0 else ("results", 1)
        puts.append((pipe, i))
        ob.put(result(i, pipe, kind, prio))
    for _ in range(4):
        assert wire.wait(len(wire.sent) + 1)
        for mid, _t, _b in list(wire.sent):
            ob.ack(mid, True)
    assert wire.wait(30)
    assert [(b["pipeline"], b["i"]) for _m, _t, b in wire.sent] == puts
    for pipe in ("a", "b"):
        seqs = [b["seq"] for _m, _t, b in wire.sent if b["pipeline"] == pipe]
        assert seqs == list(range(1, len(seqs) + 1))
    assert {t for _m, t, _b in wire.sent} == {
        f"edge/dev/{p}/{k}" for p in ("a", "b") for k in ("results", "events")
    }


def test_refused_messages_go_to_the_dead_letter_table(make: Any, tmp_path: Path) -> None:
    wire = Wire()
    ob = make(wire)
    ob.put(result(0))
    ob.put(result(1))
    assert wire.wait(2)
    ob.ack(wire.sent[0][0], False, "Not authorized")
    ob.ack(wire.sent[1][0], True)
    assert wait(lambda: ob.depth == 0)
    ob.close()
    db = sqlite3.connect(tmp_path / "outbox.sqlite")
    dead = db.execute("SELECT topic, reason FROM dead").fetchall()
    db.close()
    assert dead == [("edge/dev/cam/results", "Not authorized")]
    assert (ob.stats.rejected, ob.stats.delivered) == (1, 1)


def test_bounds_drop_detail_first_then_results_and_events_last(make: Any, tmp_path: Path) -> None:
    wire = Wire()
    wire.up = False  # offline: everything stays in the outbox
    ob = make(wire, max_rows=100, commit_batch=10)
    for i in range(40):
        ob.put(result(i, kind="events", priority=2))
    for i in range(40):
        ob.put(result(i, kind="detail", priority=0))
    for i in range(70):
        ob.put(result(i))
    assert wait(lambda: ob.stats.committed == 150)
    assert wait(lambda: ob.stats.dropped >= 60)
    snap = ob.snapshot()
    ob.close()
    by = snap["dropped_by_priority"]
    assert by[0] == 40  # all detail went first
    assert by[1] == 20  # then the oldest results, whole batches, until under 90 % of max_rows
    assert by.get(2, 0) == 0  # events last: none needed to go
    kept = [json.loads(p) for _t, p in stored_messages(tmp_path / "outbox.sqlite")]
    assert len(kept) <= 100
    assert sum(k["seq"] <= 40 for k in kept) == 40  # every event kept
    assert [k["i"] for k in kept if k["seq"] > 80] == list(range(20, 70))  # the newest results kept


def test_closing_an_outbox_that_never_started_commits_everything(make: Any, tmp_path: Path) -> None:
    ob = make(commit_batch=10)
    for i in range(35):
        ob.put(result(i))
    ob.close()
    assert [json.loads(p)["seq"] for _t, p in stored_messages(tmp_path / "outbox.sqlite")] == list(
        range(1, 36)
    )
