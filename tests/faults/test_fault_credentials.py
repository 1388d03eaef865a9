"""The broker refuses the agent's credentials: a clear status, retries with backoff, no busy loop."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.service.fake_systemd import FakeSystemd


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.slow
def test_refused_credentials_retry_with_backoff_and_idle_cpu(
    tmp_path: Path, mosquitto_factory: Any, fast_config: Any, agent_process: Any, monkeypatch: Any
) -> None:
    pwfile = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "cam", "s3cret"], check=True)
    pwfile.chmod(0o644)
    log = tmp_path / "broker.log"
    broker = mosquitto_factory(
        f"allow_anonymous false\npassword_file {pwfile}\nlog_dest file {log}\nlog_type all\n"
    )
    systemd = FakeSystemd(f"@edge-test-{os.getpid()}-{time.monotonic_ns()}")
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.address)
    monkeypatch.setenv("EDGE_AGENT_MQTT_PASSWORD", "wrong")
    cfg = fast_config(broker.port, mqtt={"username": "cam", "reconnect_min_s": 1, "reconnect_max_s": 4})
    proc = agent_process(cfg)
    try:
        assert systemd.wait_for("READY"), proc.stderr()
        # The 2,000-frame file is done within seconds; after that only the reconnect loop runs.
        deadline = time.monotonic() + 30
        while not any(m.get("STATUS", "").startswith("0/1") for m in systemd.messages):
            assert time.monotonic() < deadline, systemd.messages[-1]
            time.sleep(0.1)
        time.sleep(1)
        attempts0 = log.read_text().count("New connection from")
        cpu0, t0 = cpu_seconds(proc.proc.pid), time.monotonic()
        time.sleep(8)
        cpu = (cpu_seconds(proc.proc.pid) - cpu0) / (time.monotonic() - t0)
        attempts = log.read_text().count("New connection from") - attempts0
        statuses = [m["STATUS"] for m in systemd.messages if "STATUS" in m]
    finally:
        proc.kill()
        systemd.close()
    print(f"CPU while refused: {cpu:.1%} of one core; {attempts} connection attempts in 8 s")
    assert "mqtt down: broker refused the connection: Not authorized" in statuses[-1]
    assert "outbox 2000 queued" in statuses[-1]  # kept for when the credentials are fixed
    assert 1 <= attempts <= 4  # backoff up to 4 s, not a tight reconnect loop
    assert cpu < 0.03  # idle while waiting: no busy loop
