"""A real OpenAI-compatible server for tests: llama-cpp-python's `llama_cpp.server` serving the shipped
SmolLM2 GGUF, plus a recording proxy to see exactly what the agent sent.

`llama_server()` starts `python -m llama_cpp.server` from .venv-slm on 127.0.0.1 and a free port
(1 thread, a small context), waits until `/v1/models` answers, and stops it by pid. It skips with
the reason when llama-cpp-python is not installed (scripts/llama-server-venv.sh installs it).
llama_cpp.server does not log request bodies, so `RecordingProxy` sits between the agent and the
server on 127.0.0.1 and keeps every request it forwarded (path, headers, body); `rewrite` lets a
test turn the server's answer into a fault (an answer outside the label set).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.slm_models import need_slm_env, shipped_gguf

MODEL_ALIAS = "smollm2"
START_TIMEOUT_S = 120.0  # a generous bound for a loaded CI box; a healthy start takes a few seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_llama_cpp() -> Path:
    """.venv-slm's python when it has llama-cpp-python's server, or skip with the reason."""
    py = need_slm_env()
    probe = subprocess.run(
        [str(py), "-c", "import llama_cpp, llama_cpp.server.app, uvicorn"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            "llama-cpp-python[server] is not installed in .venv-slm: run scripts/llama-server-venv.sh"
        )
    return py


@dataclass(frozen=True)
class LlamaServer:
    url: str  # base URL up to /v1
    port: int
    pid: int
    log: Path


def _models_answer(port: int, api_key: str | None) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@contextmanager
def llama_server(log_dir: Path, n_ctx: int = 1024, api_key: str | None = None) -> Iterator[LlamaServer]:
    """llama_cpp.server on 127.0.0.1 serving the shipped GGUF as model `smollm2`; with `api_key`, it
    refuses requests without that bearer key."""
    py = need_llama_cpp()
    gguf = shipped_gguf()
    port = free_port()
    log = log_dir / "llama-server.log"
    cmd = [
        str(py), "-m", "llama_cpp.server",
        "--model", str(gguf), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", "1", "--n_threads_batch", "1",
    ]  # fmt: skip
    if api_key:
        cmd += ["--api_key", api_key]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _models_answer(port, api_key):
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited {proc.returncode}:\n{log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama_cpp.server did not answer in {START_TIMEOUT_S} s:\n{log.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", port, proc.pid, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards to `upstream_port` and records every request."""

    def __init__(self, upstream_port: int, rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self.requests: list[Recorded] = []
        self.rewrite = rewrite
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                proxy.requests.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
                up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                    }
                    up.request(self.command, self.path, body=body or None, headers=headers)
                    resp = up.getresponse()
                    data = resp.read()
                    status = resp.status
                    ctype = resp.getheader("Content-Type", "application/json")
                finally:
                    up.close()
                if proxy.rewrite is not None and status == 200:
                    data = proxy.rewrite(data)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="recording-proxy", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: a server that hangs (the timeout fault)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        yield int(s.getsockname()[1])
    finally:
        s.close()
