"""No exception ends the command thread: a failing command is counted and the next one answered, a failing
loop restarts, a thread that ended anyway is started again by the watchdog's check, and a stuck command
stops the systemd watchdog pings (real Mosquitto; faults injected into the handler)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from agent_device import Device, write_config
from memory_control import MemoryControl

from edge_agent.demo.broker import LocalBroker
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.fleet.send import Requester
from edge_agent.remote.commands.handler import CommandHandler, RequestMeta
from edge_agent.remote.commands.mqtt import CommandServer
from edge_agent.service.notify import Notifier
from edge_agent.service.watchdog import ServiceLoop
from tests.service.fake_systemd import FakeSystemd


class FaultyHandler(CommandHandler):
    """Fault injection: `boom` raises past the handler's own guard, `die` ends the thread."""

    def handle(self, verb: str, payload: bytes, meta: RequestMeta | None = None) -> dict[str, Any]:
        if verb == "boom":
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        if verb == "die":
            raise SystemExit(3)  # not an Exception: nothing inside the worker catches it
        return super().handle(verb, payload, meta)


def wait_until(pred: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def served(mosquitto: LocalBroker, device_id: str) -> Iterator[tuple[CommandServer, Requester]]:
    dev = connect(BrokerOptions(port=mosquitto.port), role="device")
    server = CommandServer(dev, FaultyHandler(MemoryControl(), device_id))
    server.start()
    server.attach()
    fleet = connect(BrokerOptions(port=mosquitto.port), role="fleet")
    req = Requester(fleet)
    try:
        req.wait_until_answering(device_id)
        yield server, req
    finally:
        req.close()
        server.stop()
        disconnect(fleet)
        disconnect(dev)


def test_a_failing_command_is_counted_and_the_next_is_answered(
    served: tuple[CommandServer, Requester], device_id: str
) -> None:
    server, req = served
    for i in range(5):
        corr = f"boom{i}"
        req.send_raw(device_id, "boom", b"{}", corr)
        assert req.request(device_id, "ping")["ok"]
    assert server.stats.errors == 5
    assert server.alive
    assert server.stats.restarts == 0


def test_a_message_that_cannot_be_read_is_counted(
    served: tuple[CommandServer, Requester], device_id: str
) -> None:
    server, req = served
    msg = mqtt.MQTTMessage(topic=f"edge/{device_id}/cmd/\xff".encode("latin-1"))  # not UTF-8: .topic raises
    server.on_message(msg)
    assert wait_until(lambda: server.stats.errors == 1)
    assert req.request(device_id, "ping")["ok"]
    assert server.alive


def test_a_failing_loop_restarts_itself(
    served: tuple[CommandServer, Requester], device_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, req = served
    real_get = server._q.get
    calls = {"n": 0}

    def flaky_get(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected: the queue failed")
        return real_get(*args, **kwargs)

    monkeypatch.setattr(server._q, "get", flaky_get)
    assert wait_until(lambda: server.stats.restarts == 1)
    assert req.request(device_id, "ping")["ok"]
    assert server.alive


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the injected SystemExit
def test_a_thread_that_ended_is_revived_by_the_watchdog_check(
    served: tuple[CommandServer, Requester], device_id: str
) -> None:
    server, req = served
    req.send_raw(device_id, "die", b"{}", "die")
    assert wait_until(lambda: not server.alive)
    waiting = req.send_raw(device_id, "ping", b"{}", "after")  # queued while nobody serves
    assert server.check(stall_s=30) is None  # revives it
    assert server.stats.restarts == 1
    assert req.result("after", waiting, timeout=20) is not None
    assert server.alive


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the injected SystemExit
def test_a_stuck_command_stops_the_watchdog_and_a_dead_thread_is_revived(
    tmp_path: Path, mosquitto: LocalBroker, tiny_model: Path, video_2000: Path, device_id: str
) -> None:
    device = Device(write_config(tmp_path, device_id, mosquitto.port, tiny_model, video_2000), mosquitto.port)
    systemd = FakeSystemd(str(tmp_path / "notify.sock"))
    fleet_client = connect(BrokerOptions(port=mosquitto.port), role="fleet")
    release = threading.Event()
    try:
        agent = device.agent
        assert agent.fleet is not None
        server = agent.fleet.server
        handler = server.handler
        real = handler.handle

        def faulty(verb: str, payload: bytes, meta: RequestMeta | None = None) -> dict[str, Any]:
            if verb == "hang":
                release.wait(60)
            if verb == "die":
                raise SystemExit(3)
            return real(verb, payload, meta)

        handler.handle = faulty  # type: ignore[method-assign]
        loop = ServiceLoop(agent, Notifier(str(tmp_path / "notify.sock")), watchdog_s=30, stall_s=0.5)
        req = Requester(fleet_client)
        assert req.wait_until_answering(agent.device, timeout=30)["ok"]
        loop.tick()
        assert systemd.wait_for("WATCHDOG", 1)

        req.send_raw(agent.device, "hang", b"{}", "hang")
        assert wait_until(lambda: any("commands" in s for s in loop.stuck()))
        pings = loop.pings
        loop.tick()
        assert loop.pings == pings  # no WATCHDOG=1 while the command worker is stuck
        assert "STUCK: commands" in loop.last_status
        release.set()
        assert wait_until(lambda: loop.stuck() == [])
        loop.tick()
        assert loop.pings == pings + 1

        req.send_raw(agent.device, "die", b"{}", "die")
        assert wait_until(lambda: not server.alive)
        loop.tick()  # the watchdog's check starts it again
        assert server.alive
        assert req.request(agent.device, "ping", timeout=20)["ok"]
        assert agent.fleet.stats()["commands"]["restarts"] == 1
        assert device.still_delivering()
    finally:
        release.set()
        disconnect(fleet_client)
        systemd.close()
        device.stop()
