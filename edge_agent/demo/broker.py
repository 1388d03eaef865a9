"""A throwaway local broker for the demo and the tests: Mosquitto when installed, else embedded amqtt.

amqtt speaks MQTT 3.1.1 only, so callers must switch the agent to protocol 3.1.1 when it is used.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class LocalBroker:
    """A running broker on 127.0.0.1:port; `protocol` is the newest MQTT version it speaks."""

    port: int
    kind: str
    protocol: str
    proc: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _broker: Any = None
    _own_workdir: bool = False
    log_lines: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._loop is not None and self._broker is not None:
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                fut.result(5)
            except Exception:  # shutting down a demo broker: nothing to recover
                log.debug("amqtt shutdown raised", exc_info=True)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)  # made by start_mosquitto: its config only


def start_mosquitto(port: int | None = None, extra: str = "", workdir: Path | None = None) -> LocalBroker:
    """Start `mosquitto` in the foreground with its own config (listener on 127.0.0.1 unless `extra` says).

    The config goes in `workdir` (the caller's to remove) or in a temporary folder that `stop()` removes.
    """
    exe = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    if exe is None:
        raise FileNotFoundError("mosquitto is not installed")
    port = port or free_port()
    own = workdir is None
    wd = workdir or Path(tempfile.mkdtemp(prefix="edge-mosquitto-"))
    wd.chmod(0o755)
    conf = wd / "mosquitto.conf"
    listener = "" if "listener " in extra else f"listener {port} 127.0.0.1\nallow_anonymous true\n"
    # Started as root, mosquitto drops to user `mosquitto`, which cannot read files in a private temp
    # dir; a throwaway broker on 127.0.0.1 may as well keep the caller's user.
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"persistence false\n{user}{listener}{extra}\n", encoding="utf-8")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        up = wait_port(port)
    except BaseException:  # Ctrl-C while it starts: leave no broker behind
        proc.kill()
        proc.wait(5)
        if own:
            shutil.rmtree(wd, ignore_errors=True)
        raise
    if not up:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if own:
            shutil.rmtree(wd, ignore_errors=True)
        raise RuntimeError(f"mosquitto did not start on port {port}: {err}")
    return LocalBroker(port=port, kind="mosquitto", protocol="5", proc=proc, workdir=wd, _own_workdir=own)


def start_amqtt(port: int | None = None) -> LocalBroker:
    """Embedded pure-Python broker on its own asyncio thread."""
    from amqtt.broker import Broker

    port = port or free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        broker = Broker(config, loop=loop)
        holder["broker"] = broker
        loop.run_until_complete(broker.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="amqtt", daemon=True)
    thread.start()
    if not ready.wait(10) or not wait_port(port):
        raise RuntimeError("the embedded amqtt broker did not start")
    return LocalBroker(
        port=port, kind="amqtt", protocol="3.1.1", _thread=thread, _loop=loop, _broker=holder["broker"]
    )


def start_local_broker(prefer: str = "auto", workdir: Path | None = None) -> LocalBroker:
    """Mosquitto if on PATH (MQTT 5), else embedded amqtt (MQTT 3.1.1); `workdir` as for start_mosquitto."""
    if prefer in ("auto", "mosquitto"):
        try:
            return start_mosquitto(workdir=workdir)
        except FileNotFoundError:
            if prefer == "mosquitto":
                raise
    return start_amqtt()
