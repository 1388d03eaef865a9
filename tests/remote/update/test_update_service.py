"""Model updates with real bundles and ONNX Runtime: good, tampered, wrong key, canary fails (outputs or
latency), bad health -> rollback, chunked over MQTT-style uploads; each step reported."""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from bundle_factory import archive, make_bundle
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from model_control import ModelControl

from edge_agent.remote.commands.handler import CommandHandler
from edge_agent.remote.update import Slots, UpdatePolicy, UpdateService, resolve_model_path


def service(
    control: ModelControl, state: Path, reports: list[dict[str, Any]], **policy: Any
) -> UpdateService:
    return UpdateService(
        control,
        state,
        "dev1",
        model_config=lambda _p: control.cfg,
        report=reports.append,
        policy=UpdatePolicy(health_window_s=policy.pop("health_window_s", 0.3), **policy),
    )


SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "update-report.schema.json").read_text())


def steps(reports: list[dict[str, Any]]) -> list[tuple[str, str]]:
    for r in reports:
        jsonschema.validate(r, SCHEMA)  # every report is what docs/update-report.schema.json says
    return [(r["step"], r["state"]) for r in reports]


def test_good_update_by_url(tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl) -> None:
    reports: list[dict[str, Any]] = []
    svc = service(control, tmp_path / "state", reports)
    tgz, sha = archive(make_bundle(tmp_path / "v2", key, version="2.0", bias=5.0))
    final = svc.run("cam", {"url": tgz.as_uri(), "sha256": sha}, "u1")
    assert final["state"] == "ok", reports
    assert steps(reports) == [
        ("fetch", "running"),
        ("verify", "ok"),
        ("canary", "ok"),
        ("swap", "ok"),
        ("health", "running"),
        ("done", "ok"),
    ]
    assert reports[2]["cases"] == 1
    assert control.version == "2.0"
    slots = Slots(tmp_path / "state", "cam")
    assert slots.current is not None
    assert json.loads((slots.current / "manifest.json").read_text())["version"] == "2.0"
    assert resolve_model_path(tmp_path / "state", "cam", control.cfg.path) == slots.current
    assert not (tmp_path / "state/updates/u1").exists()


@pytest.mark.parametrize(
    "case", ["tampered", "wrong_key", "unsigned", "canary_output", "canary_latency", "sha"]
)
def test_refused_before_swap(
    tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl, case: str
) -> None:
    reports: list[dict[str, Any]] = []
    svc = service(
        control, tmp_path / "state", reports, latency_budget_ms=1e-6 if case == "canary_latency" else None
    )
    signer = Ed25519PrivateKey.generate() if case == "wrong_key" else None if case == "unsigned" else key
    b = make_bundle(
        tmp_path / "v2", signer, version="2.0", bias=5.0, golden_bias=9.0 if case == "canary_output" else None
    )
    if case == "tampered":
        (b / "model.onnx").write_bytes((b / "model.onnx").read_bytes() + b"\0")
    tgz, sha = archive(b)
    if case == "sha":
        sha = "0" * 64
    final = svc.run("cam", {"url": tgz.as_uri(), "sha256": sha}, "u2")
    expect = {
        "tampered": ("verify", "checksum mismatch"),
        "wrong_key": ("verify", "does not verify"),
        "unsigned": ("verify", "unsigned"),
        "canary_output": ("canary", "differs"),
        "canary_latency": ("canary", "exceeds the budget"),
        "sha": ("fetch", "sha256 mismatch"),
    }[case]
    assert (final["state"], final["failed_step"]) == ("failed", expect[0]), reports
    assert steps(reports)[-1] == ("done", "failed")
    assert expect[1] in final["reason"]
    assert control.version == "1.0"
    assert control.loaded == [control.cfg.path]  # the running model was never touched
    assert Slots(tmp_path / "state", "cam").current is None


def test_health_failure_rolls_back(tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl) -> None:
    reports: list[dict[str, Any]] = []
    svc = service(control, tmp_path / "state", reports)
    for v in ("2.0", "3.0"):
        tgz, sha = archive(make_bundle(tmp_path / f"v{v}", key, version=v, bias=float(v)))
        if v == "3.0":
            control.bad_versions.add("3.0")
        final = svc.run("cam", {"url": tgz.as_uri(), "sha256": sha}, f"u{v}")
    assert (final["state"], final["failed_step"]) == ("rolled_back", "health"), reports
    assert ("swap", "ok") in steps(reports)
    assert "inference failures" in final["reason"]
    assert control.version == "2.0"  # back on the previous bundle
    current = Slots(tmp_path / "state", "cam").current
    assert current is not None
    assert json.loads((current / "manifest.json").read_text())["version"] == "2.0"


def test_first_update_rolls_back_to_configured_model(
    tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl
) -> None:
    svc = service(control, tmp_path / "state", [])
    control.bad_versions.add("2.0")
    tgz, sha = archive(make_bundle(tmp_path / "v2", key, version="2.0"))
    assert svc.run("cam", {"url": tgz.as_uri(), "sha256": sha}, "u")["state"] == "rolled_back"
    assert control.loaded[-1] == control.cfg.path
    assert control.version == "1.0"
    assert Slots(tmp_path / "state", "cam").current is None


def test_chunked_upload_through_commands(
    tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl
) -> None:
    reports: list[dict[str, Any]] = []
    svc = service(control, tmp_path / "state", reports)
    handler = CommandHandler(control, "dev1", updates=svc)  # type: ignore[arg-type]
    tgz, sha = archive(make_bundle(tmp_path / "v2", key, version="2.0", bias=3.0))
    data = tgz.read_bytes()
    size = 700
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    for i, c in reversed(list(enumerate(chunks))):  # order does not matter
        body = {"transfer": "t1", "index": i, "count": len(chunks), "data": base64.b64encode(c).decode()}
        r = handler.handle("upload", json.dumps(body).encode())
        assert r["ok"], r
    assert r["result"]["complete"] is True
    r = handler.handle(
        "update-model", json.dumps({"pipeline": "cam", "transfer": "t1", "sha256": sha}).encode()
    )
    assert r["ok"], r
    final = svc.wait(r["result"]["update_id"], timeout=30)
    assert final is not None
    assert final["state"] == "ok", reports
    assert steps(reports)[-1] == ("done", "ok")
    assert control.version == "2.0"
    again = handler.handle("update-model", json.dumps({"pipeline": "cam", "transfer": "t1"}).encode())
    assert again["ok"]
    final = svc.wait(again["result"]["update_id"], timeout=30)
    assert final is not None
    assert (final["state"], final["failed_step"]) == ("failed", "fetch")  # chunks were consumed


def test_hostile_archive_refused(tmp_path: Path, control: ModelControl) -> None:
    evil = tmp_path / "evil.tgz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 0
        tar.addfile(info)
    final = service(control, tmp_path / "state", []).run(
        "cam", {"url": evil.as_uri(), "sha256": hashlib.sha256(evil.read_bytes()).hexdigest()}, "u"
    )
    assert (final["state"], final["failed_step"]) == ("failed", "unpack")
    assert not (tmp_path / "state/updates/escape.txt").exists()


def test_update_over_http(tmp_path: Path, key: Ed25519PrivateKey, control: ModelControl) -> None:
    import functools
    import http.server
    import threading

    tgz, sha = archive(make_bundle(tmp_path / "www" / "v2", key, version="2.0", bias=4.0))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tgz.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        svc = service(control, tmp_path / "state", [])
        assert svc.run("cam", {"url": f"{base}/{tgz.name}", "sha256": sha}, "h1")["state"] == "ok"
        assert control.version == "2.0"
        missing = svc.run("cam", {"url": f"{base}/nope.tgz", "sha256": sha}, "h2")
        assert (missing["state"], missing["failed_step"]) == ("failed", "fetch")
        assert "404" in missing["reason"]
    finally:
        server.shutdown()
        server.server_close()


def test_abandoned_chunk_transfers_are_dropped(tmp_path: Path) -> None:
    import os

    from edge_agent.remote.update.fetch import ChunkStore

    store = ChunkStore(tmp_path / "chunks", max_age_s=60)
    store.receive("old", 0, 2, b"half")
    stale = tmp_path / "chunks" / "old"
    os.utime(stale, (1.0, 1.0))  # idle since 1970
    store.receive("new", 0, 1, b"whole")
    assert not stale.exists()
    assert (tmp_path / "chunks" / "new").is_dir()
