"""A real Mosquitto for the fleet-side tests: foreground process, own config, 127.0.0.1, a free port.

Used by the conftest files under tests/{fleet,commands,ha,update}/ until the shared `mosquitto` fixture in
tests/conftest.py covers ACL/TLS configs too. Each test uses its own device ids, so one broker is shared.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    conf: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"mosquitto exited with {proc.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not open its port")


@contextmanager
def run_mosquitto(workdir: Path, extra: str = "", listener: str | None = None) -> Iterator[Broker]:
    """Start mosquitto with `listener PORT 127.0.0.1` (+ `extra` lines); yield once it accepts connections."""
    exe = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if exe is None:
        import pytest

        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    conf = workdir / f"mosquitto-{port}.conf"
    # `user root` keeps a root-started broker from dropping to `mosquitto`, which could not read tmp files.
    head = listener or f"listener {port} 127.0.0.1\nallow_anonymous true\n"
    conf.write_text(head.replace("{port}", str(port)) + "user root\n" + extra)
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_port(port, proc)
        yield Broker("127.0.0.1", port, conf)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
