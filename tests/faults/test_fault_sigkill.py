"""SIGKILL of a real `edge-agent run` process: what was committed arrives after a restart, and the
outbox database opens cleanly however the kill landed."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.demo.broker import LocalBroker, free_port
from edge_agent.outbox.db import stored_messages
from tests.faults.conftest import committed_seq


@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_delivers_everything_committed(
    tmp_path: Path,
    mosquitto: LocalBroker,
    *,
    fast_config: Any,
    agent_process: Any,
    persistent_subscriber: Any,
    device_id: str,
) -> None:
    sub = persistent_subscriber(mosquitto.port, f"edge/{device_id}/+/results")
    cfg = fast_config(mosquitto.port, source={"fps": 400})
    first = agent_process(cfg)
    assert sub.wait_unique(300, 30), first.stderr()
    first.kill()  # SIGKILL: no drain, no goodbye; paho had messages in flight
    at_kill = committed_seq(tmp_path / "state")
    seen_at_kill = sub.unique()
    assert at_kill >= seen_at_kill  # nothing is published before it is committed
    assert at_kill < 2000, "the kill came after the stream ended"

    second = agent_process(fast_config(mosquitto.port), "--until-done")
    assert second.wait(60) == 0, second.stderr()
    total = committed_seq(tmp_path / "state")
    assert total == at_kill + 2000  # numbering continued after the kill, none reused
    assert sub.wait_unique(total, 30)
    (rep,) = sub.tracker.report(expect_last={(device_id, "fast"): total})
    assert rep.missing == []  # every result committed before the kill arrived
    assert rep.unique == total
    print(f"committed at kill {at_kill}, seen at kill {seen_at_kill}, duplicates {rep.duplicates}")


@pytest.mark.slow
def test_sigkill_during_outbox_batches_leaves_a_database_that_opens_cleanly(
    tmp_path: Path, fast_config: Any, agent_process: Any
) -> None:
    # No broker: everything stays in the outbox. commit_interval_ms=0 commits on every loop, so the
    # outbox thread spends most of its time inside a write transaction when the kill lands.
    cfg = fast_config(free_port(), outbox={"commit_interval_ms": 0, "commit_batch": 50})
    state = tmp_path / "state"
    rng = random.Random(7)
    last = 0
    for _ in range(5):
        proc = agent_process(cfg)
        deadline = time.monotonic() + 20
        while committed_seq(state) <= last and time.monotonic() < deadline and proc.proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.kill()
        db = sqlite3.connect(state / "outbox.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        now = committed_seq(state)
        assert now > last, proc.stderr()
        last = now
    # Every number committed is stored exactly once, in order: no torn batch, no reused number.
    seqs = [json.loads(p)["seq"] for _t, p in stored_messages(state / "outbox.sqlite")]
    assert seqs == list(range(1, last + 1))
