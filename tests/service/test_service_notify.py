"""sd_notify over real Unix datagram sockets, and the watchdog that pings only on proven progress."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.demo.broker import LocalBroker
from edge_agent.inference.session import ModelSession
from edge_agent.service.notify import Notifier, watchdog_interval_s
from edge_agent.service.watchdog import ServiceLoop
from tests.service.fake_systemd import FakeSystemd


@pytest.fixture(params=["path", "abstract"])
def systemd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSystemd]:
    addr = str(tmp_path / "notify.sock") if request.param == "path" else f"@edge-test-{uuid.uuid4().hex}"
    fake = FakeSystemd(addr)
    yield fake
    fake.close()


def test_notifier_sends_fields_to_path_and_abstract_sockets(systemd: FakeSystemd) -> None:
    n = Notifier(systemd.address)
    assert n.enabled
    assert n.ready("1/1 pipelines running\nsecond line")
    assert n.watchdog()
    assert systemd.wait_for("WATCHDOG")
    assert systemd.messages[0] == {"READY": "1", "STATUS": "1/1 pipelines running second line"}
    n.close()


def test_without_notify_socket_everything_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.enabled
    assert not n.ready("x")


def test_watchdog_interval_comes_from_systemd_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 4.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_USEC", "0")
    monkeypatch.delenv("WATCHDOG_PID")
    assert watchdog_interval_s() is None


@pytest.mark.slow
def test_edge_agent_run_says_ready_pings_and_stopping(
    systemd: FakeSystemd, mosquitto: LocalBroker, fast_config: Any, agent_process: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.address)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    cfg = fast_config(mosquitto.port, source={"fps": 50, "loop": True})
    proc = agent_process(cfg)
    assert systemd.wait_for("READY"), proc.stderr()
    ready = next(m for m in systemd.messages if "READY" in m)
    assert ready["STATUS"].startswith("1/1 pipelines running")
    assert systemd.wait_for("WATCHDOG", 4, timeout=10)  # every 0.5 s with WatchdogSec=1
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert systemd.count("STOPPING") == 1


def test_a_stuck_pipeline_stops_the_pings(
    systemd: FakeSystemd, mosquitto: LocalBroker, fast_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = Agent(fast_config(mosquitto.port, source={"fps": 100, "loop": True}))
    agent.start()
    release = threading.Event()
    real_run = ModelSession.run

    def hang(self: ModelSession, feeds: Any) -> Any:  # fault injection: the call hangs until released
        release.wait()
        return real_run(self, feeds)

    loop = ServiceLoop(agent, Notifier(systemd.address), watchdog_s=1.0, stall_s=1.0)
    try:
        loop.ready()
        for _ in range(3):
            loop.tick()
        assert loop.pings == 3
        monkeypatch.setattr(ModelSession, "run", hang)
        time.sleep(1.5)
        for _ in range(3):
            loop.tick()
        assert loop.pings == 3  # no progress, no ping: systemd will restart the service
        assert "STUCK: fast (worker silent" in loop.last_status
        assert systemd.wait_for("STATUS", 2)
        monkeypatch.setattr(ModelSession, "run", real_run)
        release.set()
        time.sleep(0.5)
        loop.tick()
        assert loop.pings == 4
        assert "STUCK" not in loop.last_status
    finally:
        release.set()
        agent.stop(drain_s=0)
