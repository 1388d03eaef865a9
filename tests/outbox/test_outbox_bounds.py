"""Drop order on a real outbox database, and the in-memory bound while the disk refuses writes."""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.outbox.bounds import choose_victims, trim_pending
from edge_agent.outbox.config import OutboxConfig
from edge_agent.outbox.db import connect, pack
from edge_agent.stages.types import Outbound


def test_results_past_retention_go_before_newer_results_and_events_stay(tmp_path: Path) -> None:
    db = connect(tmp_path / "o.sqlite")
    cfg = OutboxConfig(max_rows=100, retention_s=3600)
    now = time.time()
    # ids 1..4 recent results, 5 an event, 6..7 results two hours old (e.g. a clock that was wrong)
    plan = [(1, now)] * 4 + [(2, now)] + [(1, now - 7200)] * 2
    for i, (prio, created) in enumerate(plan, start=1):
        msgs = [Outbound("cam", "events" if prio == 2 else "results", {"i": j}, prio) for j in range(20)]
        (row,), _seqs, _runs = pack(msgs, {}, i, "dev", "edge")
        db.execute("INSERT INTO batch VALUES (?,?,?,?,?,?)", (row[0], prio, created, *row[3:]))
    v = choose_victims(db, cfg, rows=140, nbytes=0, after_id=1)  # id 1 is loaded for sending
    assert v.ids == [6, 7, 2]  # old results first, then the oldest recent one not on its way
    assert v.rows_left == 80
    assert v.by_priority == {1: 60}
    db.close()


def test_memory_bound_keeps_order_and_drops_detail_then_newest_results() -> None:
    msgs = [Outbound("cam", "results", {"i": i}, priority=[1, 0, 2][i % 3]) for i in range(12)]
    kept, by = trim_pending(msgs, limit=6)
    assert by == {0: 4, 1: 2}
    assert [m.body["i"] for m in kept] == [0, 2, 3, 5, 8, 11]  # order kept; events (2,5,8,11) all stay
    assert trim_pending(msgs, limit=20) == (msgs, {})
