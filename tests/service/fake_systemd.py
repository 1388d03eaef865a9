"""A stand-in for systemd's end of $NOTIFY_SOCKET: a real Unix datagram socket that records messages."""

from __future__ import annotations

import socket
import threading
import time


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET, as systemd binds it (a path or an abstract name)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._recv, daemon=True)
        self._thread.start()

    def _recv(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    def count(self, key: str) -> int:
        return sum(key in m for m in list(self.messages))

    def wait_for(self, key: str, n: int = 1, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.count(key) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.count(key) >= n

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
