"""`fleet deploy`: a bundle to one device or a group, with a per-device outcome.

Per device, in parallel: either `update-model {url, sha256}` (the device downloads), or the archive in
`upload` chunks followed by `update-model {transfer, sha256}`; then wait for the device's final step
report on `<prefix>/<device>/update` (done: ok / failed / rolled_back).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.bundle.archive import pack
from edge_agent.errors import FleetError
from edge_agent.fleet.send import Requester
from edge_agent.topics import device_filter


@dataclass(slots=True)
class Outcome:
    device: str
    ok: bool
    state: str  # ok | failed | rolled_back | refused | timeout
    step: str | None = None
    reason: str | None = None
    update_id: str | None = None


class UpdateWatcher:
    """Collects the final `update` report of each update id."""

    def __init__(self, client: mqtt.Client, prefix: str) -> None:
        self._final: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.filter = device_filter(prefix, "update")
        client.message_callback_add(self.filter, self._on_message)
        done = threading.Event()
        client.on_subscribe = lambda *_a: done.set()
        client.subscribe(self.filter, qos=1)
        if not done.wait(10):
            raise FleetError("subscription to update reports was not acknowledged")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError):
            return
        if isinstance(body, dict) and body.get("final") and isinstance(body.get("update_id"), str):
            with self._cond:
                self._final[body["update_id"]] = body
                self._cond.notify_all()

    def wait(self, update_id: str, timeout: float) -> dict[str, Any] | None:
        with self._cond:
            self._cond.wait_for(lambda: update_id in self._final, timeout)
            return self._final.get(update_id)


def archive_of(bundle: Path, workdir: Path) -> Path:
    """A bundle directory is packed; an archive file is used as is."""
    if bundle.is_dir():
        return pack(bundle, workdir / f"{bundle.name}.bundle.tgz")
    if bundle.is_file():
        return bundle
    raise FleetError(f"{bundle}: no such bundle directory or archive")


def deploy_one(
    req: Requester,
    watcher: UpdateWatcher,
    device: str,
    *,
    pipeline: str,
    data: bytes,
    sha: str,
    url: str | None,
    chunk_size: int,
    timeout: float,
) -> Outcome:
    try:
        if url is None:
            transfer = uuid.uuid4().hex[:16]
            count = max(1, -(-len(data) // chunk_size))
            for i in range(count):
                piece = base64.b64encode(data[i * chunk_size : (i + 1) * chunk_size]).decode()
                r = req.request(
                    device, "upload", {"transfer": transfer, "index": i, "count": count, "data": piece}
                )
                if not r.get("ok"):
                    return Outcome(device, False, "refused", "upload", str(r.get("reason")))
            args: dict[str, Any] = {"pipeline": pipeline, "transfer": transfer, "sha256": sha}
        else:
            args = {"pipeline": pipeline, "url": url, "sha256": sha}
        r = req.request(device, "update-model", args)
    except FleetError as exc:
        return Outcome(device, False, "timeout", None, str(exc))
    if not r.get("ok"):
        return Outcome(device, False, "refused", "update-model", str(r.get("reason")))
    uid = r["result"]["update_id"]
    final = watcher.wait(uid, timeout)
    if final is None:
        return Outcome(device, False, "timeout", None, f"no final report within {timeout:g}s", uid)
    state = str(final.get("state"))
    return Outcome(device, state == "ok", state, final.get("failed_step"), final.get("reason"), uid)


def deploy(
    client: mqtt.Client,
    bundle: Path,
    devices: list[str],
    pipeline: str,
    *,
    prefix: str = "edge",
    url: str | None = None,
    chunk_size: int = 256 * 1024,
    timeout: float = 300.0,
    parallel: int = 8,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="edge-deploy-") as tmp:
        data = archive_of(bundle, Path(tmp)).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    req = Requester(client, prefix)
    watcher = UpdateWatcher(client, prefix)

    def one(device: str) -> Outcome:
        out = deploy_one(
            req,
            watcher,
            device,
            pipeline=pipeline,
            data=data,
            sha=sha,
            url=url,
            chunk_size=chunk_size,
            timeout=timeout,
        )
        if on_outcome is not None:
            on_outcome(out)
        return out

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, devices))


def read_group(path: Path) -> list[str]:
    """One device id per line; blank lines and # comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FleetError(f"cannot read group file {path}: {exc.strerror}") from exc
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]
