"""The sd_notify protocol: one datagram of `KEY=value` lines to the socket in $NOTIFY_SOCKET.

Written out (twenty lines) rather than taken from a library: the protocol is one sendto(), the
maintained binding (systemd-python) needs libsystemd headers to build on the device, and the small
pure-Python packages are unmaintained. Supports path sockets and abstract ones (`@name`). Without
$NOTIFY_SOCKET (not under systemd, or Type= is not notify) every call is a cheap no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends state changes to systemd. Never raises: a lost notification must not stop the agent."""

    def __init__(self, address: str | None = None) -> None:
        addr = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        # A leading '@' names a Linux abstract socket: the real address starts with a NUL byte.
        self.address = "\0" + addr[1:] if addr.startswith("@") else addr
        self._sock: socket.socket | None = None
        if self.address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, **fields: str | int) -> bool:
        """Send `KEY=value` lines, e.g. notify(READY=1, STATUS="running"); True if sent."""
        if self._sock is None:
            return False
        # STATUS is one line for systemctl status: newlines would start a new (bogus) field.
        msg = "\n".join(f"{k}={str(v).replace(chr(10), ' ')}" for k, v in fields.items())
        try:
            self._sock.sendto(msg.encode(), self.address)
        except OSError as exc:
            log.debug("sd_notify to %r failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(READY=1, STATUS=status)

    def status(self, status: str) -> bool:
        return self.notify(STATUS=status)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def stopping(self, status: str = "stopping") -> bool:
        return self.notify(STOPPING=1, STATUS=status)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval_s() -> float | None:
    """systemd's WatchdogSec for this process (from $WATCHDOG_USEC), or None when not enabled."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000
