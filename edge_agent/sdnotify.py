"""systemd's notify protocol (Type=notify, WatchdogSec=) without a dependency: READY, WATCHDOG, STOPPING.

Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op, so `edge-agent run` behaves the same in a
shell, a container or a test.
"""

from __future__ import annotations

import logging
import os
import socket
import time

logger = logging.getLogger(__name__)


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1") to the service manager; False when not run by systemd."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    # A leading '@' names a socket in the abstract namespace.
    target = "\0" + addr[1:] if addr.startswith("@") else addr
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(state.encode())
    except OSError as exc:
        logger.warning("cannot notify systemd (%s): %s", addr, exc)
        return False
    return True


class Watchdog:
    """Pings WATCHDOG=1 at half of WatchdogSec=; call `ping()` from the loop whose progress it vouches for."""

    def __init__(self) -> None:
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.interval_s = int(usec) / 2e6 if usec.isdigit() and mine else None
        self._last = float("-inf")

    @property
    def enabled(self) -> bool:
        return self.interval_s is not None

    def ping(self) -> bool:
        """Send WATCHDOG=1 if half the watchdog period has passed since the last one; True when sent."""
        if self.interval_s is None:
            return False
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return False
        self._last = now
        return notify("WATCHDOG=1")
