"""Small helpers several test packages share: polling with a deadline, a real HTTP video server."""

from __future__ import annotations

import functools
import http.server
import socketserver
import threading
import time
from collections.abc import Callable
from pathlib import Path


def wait(pred: Callable[[], object], timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll `pred` until it is true or `timeout` seconds pass; return its last value as a bool."""
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(step)
    return bool(pred())


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(directory: Path, port: int) -> socketserver.ThreadingTCPServer:
    """A real HTTP server for a video file: OpenCV's FFmpeg reader streams it like an IP camera."""
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(
        ("127.0.0.1", port), functools.partial(_Quiet, directory=str(directory))
    )
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
