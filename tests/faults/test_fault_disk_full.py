"""Disk full (a small tmpfs holds the state directory): the agent keeps running, says degraded, and
loses nothing it had committed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from tests.faults.conftest import restartable_broker
from tests.helpers import wait


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    cmd = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)]
    r = subprocess.run(cmd, check=False, capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path, leave: int) -> Path:
    """Take all but `leave` bytes of the file system with a ballast file."""
    st = os.statvfs(path)
    ballast = path / "ballast"
    with ballast.open("wb") as f, contextlib.suppress(OSError):  # full is the point
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return ballast


@pytest.mark.slow
def test_disk_full_degrades_without_crash_or_loss(
    tmp_path: Path, small_disk: Path, fast_config: Any, persistent_subscriber: Any, device_id: str
) -> None:
    # The subscriber's session is made first, then the broker goes away: every result stays in the
    # outbox until it comes back, and the broker queues them for the subscriber from the first one.
    broker = restartable_broker(tmp_path / "broker")
    port = broker.port
    sub = persistent_subscriber(port, f"edge/{device_id}/+/results")
    broker.stop()
    cfg = fast_config(port, source={"loop": True}, state_dir=small_disk / "state")
    agent = Agent(cfg)
    agent.start()
    try:
        assert wait(lambda: agent.outbox.stats.committed > 500, 20), agent.status()
        ballast = fill(small_disk, leave=16 * 1024)
        assert wait(lambda: agent.status()["state"] == "degraded", 30), agent.status()
        degraded = agent.status()
        committed = agent.outbox.stats.last_seq["fast"]
        frames = agent.pipelines["fast"].frames
        time.sleep(2)
        assert agent.pipelines["fast"].state == "running"
        assert agent.pipelines["fast"].frames > frames  # still working while the disk is full
        assert agent.outbox.stats.last_seq["fast"] == committed  # nothing new could be stored

        broker = restartable_broker(tmp_path / "broker", port=port)
        # The broker comes back: everything committed before the disk filled is delivered.
        assert wait(lambda: sub.tracker.report()[0].last >= committed if sub.unique() else False, 60), (
            agent.status()
        )
        ballast.unlink()
        assert wait(lambda: agent.status()["outbox"]["degraded"] is None, 30), agent.status()
    finally:
        agent.stop(drain_s=0)
        broker.stop()
    (rep,) = sub.tracker.report()
    assert rep.first == 1
    assert [r for r in rep.missing if r[0] <= committed] == []
    print("degraded status:", degraded["outbox"])
