"""The fleet side on a real Agent (real model, real video, real Mosquitto): commands, `set` with the
config file, and `fleet deploy` of a good bundle, then of a bad one that rolls back by itself."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.agent import Agent
from edge_agent.bundle.sign import public_pem
from edge_agent.cli.main import main
from edge_agent.config import load_config
from edge_agent.demo.broker import LocalBroker
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.fleet.deploy import deploy
from edge_agent.fleet.send import Requester
from tests.remote.update.bundle_factory import bundle_from_model, make_bundle

LABELS = ["upright", "rotated_90_cw", "rotated_180", "rotated_270_cw"]
PRE = {"resize": "letterbox", "pad_value": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


@pytest.fixture
def setup(tmp_path: Path, mosquitto: LocalBroker, orinet_path: Path, demo_video: Any, device_id: str) -> Any:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "release.pub").write_bytes(public_pem(key.public_key()))
    cfg = {
        "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
        "mqtt": {"host": "127.0.0.1", "port": mosquitto.port},
        "outbox": {"commit_interval_ms": 20},
        "stats_interval_s": 1,
        "fleet": {"updates": {"health_window_s": 1.0}},
        "pipelines": {
            "orient": {
                "source": {"kind": "video", "path": str(demo_video[0]), "loop": True, "fps": 20},
                "model": {"path": str(orinet_path), "trusted_keys": ["release.pub"]},
                "preprocess": PRE,
                "postprocess": {"kind": "classification", "labels": LABELS, "top_k": 2},
            }
        },
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, key


def test_commands_and_deploys_on_a_running_agent(
    setup: Any, mosquitto: LocalBroker, orinet_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path, key = setup
    tmp_path = cfg_path.parent
    agent = Agent(load_config(cfg_path), config_path=cfg_path)
    device_id = agent.device
    agent.start()
    client = connect(BrokerOptions(port=mosquitto.port), role="fleet")
    try:
        assert agent.publisher.wait_connected(10)
        req = Requester(client)
        assert req.wait_until_answering(device_id)["ok"]
        _commands(req, agent, device_id, cfg_path)
        _deploys(client, agent, key=key, tmp_path=tmp_path, orinet_path=orinet_path, capsys=capsys)
    finally:
        disconnect(client)
        agent.stop(drain_s=0.5)

    again = Agent(load_config(cfg_path), config_path=cfg_path)  # a restart runs the installed bundle
    again.start()
    try:
        assert again.pipelines["orient"].model is not None
        assert again.pipelines["orient"].model.model_id == "orinet@2.0"
    finally:
        again.stop(drain_s=0)


def _commands(req: Requester, agent: Agent, device_id: str, cfg_path: Path) -> None:
    status = req.request(device_id, "status")["result"]
    assert status["pipelines"]["orient"]["state"] == "running"
    assert req.request(device_id, "snapshot", {"pipeline": "orient"})["error"] == "refused"
    assert req.request(device_id, "stop", {"pipeline": "orient"})["ok"]
    assert agent.pipelines["orient"].state == "stopped"
    assert req.request(device_id, "start", {"pipeline": "orient"})["ok"]
    assert agent.pipelines["orient"].state == "running"

    r = req.request(device_id, "set", {"patch": {"stats_interval_s": 2}})
    assert r["ok"], r
    assert yaml.safe_load(cfg_path.read_text())["stats_interval_s"] == 2
    assert agent.cfg.stats_interval_s == 2
    cfg_path.write_text(cfg_path.read_text().replace("stats_interval_s: 2", "stats_interval_s: 3"))
    assert req.request(device_id, "reload")["ok"]
    assert agent.cfg.stats_interval_s == 3
    bad = req.request(device_id, "set", {"patch": {"pipelines": {"orient": {"source": {"fps": -1}}}}})
    assert bad["error"] == "invalid_args"
    assert "fps" in bad["reason"]
    stats = json.loads(json.dumps(agent.fleet.stats() if agent.fleet else {}))
    assert stats["pipelines"]["orient"]["state"] == "running"
    assert stats["rss_bytes"] > 0


def _deploys(
    client: Any,
    agent: Agent,
    *,
    key: Ed25519PrivateKey,
    tmp_path: Path,
    orinet_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    device_id = agent.device
    good = bundle_from_model(
        tmp_path / "b2",
        orinet_path,
        key,
        name="orinet",
        version="2.0",
        preprocess=PRE,
        postprocess={"kind": "classification", "labels": LABELS},
    )
    [outcome] = deploy(client, good, [device_id], "orient", timeout=60)
    assert (outcome.ok, outcome.state) == (True, "ok"), outcome
    assert agent.pipelines["orient"].model is not None
    assert agent.pipelines["orient"].model.model_id == "orinet@2.0"
    # a later `set` restarts the pipeline from the file, but the installed bundle keeps winning
    patch = {"patch": {"pipelines": {"orient": {"source": {"fps": 15}}}}}
    assert Requester(client).request(device_id, "set", patch)["result"]["restarted"] == ["orient"]
    assert agent.pipelines["orient"].model is not None
    assert agent.pipelines["orient"].model.model_id == "orinet@2.0"

    # a signed, self-consistent bundle that this pipeline cannot run: rolled back by itself
    wrong = make_bundle(tmp_path / "b3", key, version="3.0")
    [outcome] = deploy(client, wrong, [device_id], "orient", timeout=60, chunk_size=512)
    assert (outcome.ok, outcome.state, outcome.step) == (False, "rolled_back", "apply"), outcome
    assert agent.pipelines["orient"].state == "running"
    assert agent.pipelines["orient"].model is not None
    assert agent.pipelines["orient"].model.model_id == "orinet@2.0"

    stranger = bundle_from_model(
        tmp_path / "b4",
        orinet_path,
        Ed25519PrivateKey.generate(),
        name="orinet",
        version="4.0",
        preprocess=PRE,
    )
    rc = main(
        [
            "fleet",
            "deploy",
            "--port",
            str(client.port),
            str(stranger),
            "--pipeline",
            "orient",
            "--device",
            device_id,
            "--json",
            "--timeout",
            "60",
        ]
    )
    assert rc == 1
    [line] = capsys.readouterr().out.strip().splitlines()
    outcome_cli = json.loads(line)
    assert (outcome_cli["device"], outcome_cli["state"], outcome_cli["step"]) == (
        device_id,
        "failed",
        "verify",
    )
    assert "does not verify" in outcome_cli["reason"]


def test_snapshot_only_when_the_pipeline_opts_in(setup: Any, mosquitto: LocalBroker, device_id: str) -> None:
    import base64

    import cv2
    import numpy as np

    cfg_path, _key = setup
    cfg = load_config(cfg_path)
    cfg.pipelines["orient"].publish.include_frame = True
    agent = Agent(cfg)
    agent.start()
    client = connect(BrokerOptions(port=mosquitto.port), role="fleet")
    try:
        req = Requester(client)
        deadline = time.monotonic() + 15
        while agent.pipelines["orient"].last_frame is None and time.monotonic() < deadline:
            time.sleep(0.05)
        req.wait_until_answering(device_id)
        r = req.request(device_id, "snapshot", {"pipeline": "orient"})
        assert r["ok"], r
        jpeg = base64.b64decode(r["result"]["data_b64"])
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        frame = agent.pipelines["orient"].last_frame
        assert frame is not None
        assert img.shape == frame.data.shape
    finally:
        disconnect(client)
        agent.stop(drain_s=0)


def test_watch_sees_a_running_agent(setup: Any, mosquitto: LocalBroker) -> None:
    from edge_agent.fleet.watch import FleetView

    cfg_path, _key = setup
    agent = Agent(load_config(cfg_path))  # stats_interval_s: 1
    agent.start()
    client = connect(BrokerOptions(port=mosquitto.port), role="watch")
    view = FleetView(client)
    view.start()
    try:

        def ready(rows: list[Any]) -> bool:
            row = next((r for r in rows if r.device == agent.device), None)
            return bool(row and row.online and row.fps and row.latency_ms_p50 and row.cpu_percent is not None)

        assert view.wait_for(ready, timeout=15), view.rows()
        row = next(r for r in view.rows() if r.device == agent.device)
        assert 0 < row.fps <= 25  # the source is capped at 20 fps
        assert row.outbox_depth is not None
    finally:
        agent.stop(drain_s=0)
    try:
        assert view.wait_for(
            lambda rows: any(r.device == agent.device and r.online is False for r in rows), 10
        )
    finally:
        disconnect(client)


def test_agent_requiring_signed_commands(
    setup: Any, mosquitto: LocalBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge_agent.bundle.sign import write_keypair

    cfg_path, _key = setup
    key_file, pub_file = write_keypair(cfg_path.parent / "operator")
    data = yaml.safe_load(cfg_path.read_text())
    data["fleet"]["commands"] = {"trusted_keys": [str(pub_file)], "require_signed": True}
    cfg_path.write_text(yaml.safe_dump(data))
    agent = Agent(load_config(cfg_path), config_path=cfg_path)
    agent.start()
    client = connect(BrokerOptions(port=mosquitto.port), role="fleet")
    try:
        req = Requester(client)
        r = req.wait_until_answering(agent.device)  # an unsigned ping is answered too: with a refusal
        assert (r["error"], r["reason"]) == ("unauthorised", "this device only accepts signed commands")
        port = str(mosquitto.port)
        assert main(["fleet", "send", "--port", port, agent.device, "stop", '{"pipeline": "orient"}']) == 1
        assert agent.pipelines["orient"].state == "running"
        capsys.readouterr()
        argv = [
            "fleet",
            "send",
            "--port",
            port,
            "--sign-key",
            str(key_file),
            agent.device,
            "stop",
            '{"pipeline": "orient"}',
        ]
        assert main(argv) == 0, capsys.readouterr()
        assert agent.pipelines["orient"].state == "stopped"
    finally:
        disconnect(client)
        agent.stop(drain_s=0)
