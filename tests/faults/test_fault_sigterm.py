"""SIGTERM with the broker unreachable: a prompt clean exit, and every accepted result kept on disk."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.demo.broker import free_port
from edge_agent.outbox.db import stored_messages
from tests.faults.conftest import committed_seq


@pytest.mark.slow
def test_sigterm_while_offline_keeps_everything_for_the_next_start(
    tmp_path: Path, fast_config: Any, agent_process: Any
) -> None:
    cfg = fast_config(free_port(), source={"fps": 200, "loop": True})
    proc = agent_process(cfg, "--drain-s", "1")
    db = tmp_path / "state" / "outbox.sqlite"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and committed_seq(tmp_path / "state") < 100:
        time.sleep(0.1)
    t0 = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, proc.stderr()
    assert time.monotonic() - t0 < 5
    kept = re.search(r"stopped; (\d+) message\(s\) kept", proc.stderr())
    assert kept, proc.stderr()
    seqs = [json.loads(p)["seq"] for _t, p in stored_messages(db)]
    assert len(seqs) == int(kept.group(1)) > 0
    assert seqs == list(range(1, len(seqs) + 1))  # nothing accepted was lost on the way out
