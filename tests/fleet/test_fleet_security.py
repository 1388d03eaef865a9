"""mTLS + ACL on a real Mosquitto: each device is its certificate's CN and may only use its own prefix.
A device publishing or commanding under another device's prefix is refused; the sender learns it from
the PUBACK reason code, and an agent counts it in its status."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.agent import Agent
from edge_agent.bundle.sign import public_pem
from edge_agent.config import load_config
from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import free_port
from edge_agent.errors import FleetError
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.fleet.deploy import deploy
from edge_agent.fleet.send import Requester
from edge_agent.remote.commands.handler import CommandHandler
from edge_agent.remote.commands.mqtt import CommandServer
from tests.remote.update.bundle_factory import make_bundle
from tests.tlsutil import deploy_broker_conf, issue_client, make_pki

# The broker config and ACL shipped in deploy/mosquitto/ (operators: CN ops-fleet; devices: CN = device id).


class Control:
    def __init__(self) -> None:
        self.stopped: list[str] = []

    def status(self) -> dict[str, Any]:
        return {"state": "online"}

    def pipelines(self) -> list[str]:
        return ["cam"]

    def stop_pipeline(self, name: str) -> None:
        self.stopped.append(name)


@pytest.fixture
def secure(tmp_path: Path, mosquitto_factory: Any) -> Any:
    pki = make_pki(tmp_path, client_cn="ops-fleet")
    certs = {"fleet": (pki["client_crt"], pki["client_key"])}
    for cn in ("devA", "devB"):
        certs[cn] = issue_client(pki, cn, tmp_path)
    port = free_port()
    conf = deploy_broker_conf(tmp_path, pki, port)
    broker = mosquitto_factory(conf, port=port)

    def opts(cn: str) -> BrokerOptions:
        return BrokerOptions(
            port=broker.port, ca_file=pki["ca"], cert_file=certs[cn][0], key_file=certs[cn][1]
        )

    return broker, opts


def test_device_cannot_command_or_publish_as_another(secure: Any) -> None:
    _broker, opts = secure
    control = Control()
    dev_a = connect(opts("devA"), role="device")
    server = CommandServer(dev_a, CommandHandler(control, "devA"))  # type: ignore[arg-type]
    server.start()
    server.attach()
    fleet = connect(opts("fleet"), role="fleet")
    dev_b = connect(opts("devB"), role="device")
    spy: list[str] = []
    got = threading.Event()
    dev_b.message_callback_add("edge/devA/cmd/#", lambda _c, _u, m: (spy.append(m.topic), got.set()))
    dev_b.subscribe("edge/devA/cmd/#", qos=1)  # granted by the broker, but never delivers
    seen_results: list[str] = []
    fleet.message_callback_add("edge/devA/cam/results", lambda _c, _u, m: seen_results.append(m.payload))
    fleet.subscribe("edge/devA/cam/results", qos=1)
    try:
        operator = Requester(fleet)
        operator.wait_until_answering("devA")  # devA's subscription is in place
        assert operator.request("devA", "stop", {"pipeline": "cam"})["ok"]  # the operator may
        assert control.stopped == ["cam"]

        rogue = Requester(dev_b)
        reply = rogue.request("devA", "stop", {"pipeline": "cam"}, timeout=60)
        assert reply["error"] == "unauthorised"  # told by the PUBACK's reason code, not by a timeout
        assert "Not authorized" in reply["reason"]
        assert control.stopped == ["cam"]

        codes: list[str] = []
        done = threading.Event()
        dev_b.on_publish = lambda _c, _u, _mid, rc, _p: (codes.append(str(rc)), done.set())
        body = {"v": 1, "device": "devA", "pipeline": "cam", "seq": 1, "ts": time.time(), "output": {}}
        dev_b.publish("edge/devA/cam/results", json.dumps(body), qos=1)
        assert done.wait(60)
        assert codes == ["Not authorized"]
        time.sleep(0.5)
        assert seen_results == []
        assert spy == []  # devB never saw devA's commands
    finally:
        server.stop()
        for c in (fleet, dev_a, dev_b):
            disconnect(c)


def test_no_certificate_no_connection(secure: Any) -> None:
    _broker, opts = secure
    anonymous = opts("fleet")
    anonymous.cert_file = anonymous.key_file = None
    with pytest.raises((FleetError, ssl.SSLError, OSError)):
        connect(anonymous, timeout=3)


def test_agent_impersonating_another_device_is_refused_and_reports_it(
    secure: Any, tmp_path: Path, orinet_path: Path, demo_video: Any
) -> None:
    _broker, opts = secure
    o = opts("devB")
    cfg = AgentConfig.model_validate(
        {
            "device": {"id": "devA", "state_dir": str(tmp_path / "state")},  # claims to be devA
            "mqtt": {
                "host": "127.0.0.1",
                "port": o.port,
                "client_id": "impostor",
                "tls": {
                    "ca_file": str(o.ca_file),
                    "cert_file": str(o.cert_file),
                    "key_file": str(o.key_file),
                },
            },
            "outbox": {"commit_interval_ms": 20},
            "pipelines": {
                "orient": {
                    "source": {"kind": "video", "path": str(demo_video[0])},
                    "model": {"path": str(orinet_path)},
                    "postprocess": {"kind": "classification", "top_k": 1},
                }
            },
        }
    )
    agent = Agent(cfg)
    agent.start()
    try:
        assert agent.wait_finished(30)
        deadline = time.monotonic() + 20
        while (
            agent.outbox.stats.rejected < agent.pipelines["orient"].inferred and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        status = agent.status()
        assert status["mqtt"]["refused"] >= agent.pipelines["orient"].inferred > 0
        assert agent.outbox.stats.delivered == 0
    finally:
        agent.stop(drain_s=0)


def _attack_setup(
    tmp_path: Path, port: int, device_id: str, *, video: Path, model: Path, keys: list[str]
) -> Path:
    cfg = {
        "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "outbox": {"commit_interval_ms": 20},
        "fleet": {"updates": {"health_window_s": 0.5}},
        "pipelines": {
            "orient": {
                "source": {"kind": "video", "path": str(video), "loop": True, "fps": 20},
                "model": {"path": str(model), "trusted_keys": keys},
                "postprocess": {"kind": "classification", "top_k": 1},
            }
        },
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("key_in_upload_area", [False, True])
def test_an_uploaded_key_never_verifies_a_bundle(
    tmp_path: Path,
    mosquitto: Any,
    key_in_upload_area: bool,
    *,
    orinet_path: Path,
    demo_video: Any,
    device_id: str,
) -> None:
    """Issue 12's signing bypass: upload your own public key as a chunk, name it in `trusted_keys` with a
    remote `set`, then deploy a bundle you signed. The `set` is refused (trusted_keys is not remotely
    settable, and the reply names no path); and even a config that names a file in the upload area (as
    the old deny-list allowed) does not let the attacker's bundle verify."""
    release = Ed25519PrivateKey.generate()
    (tmp_path / "release.pub").write_bytes(public_pem(release.public_key()))
    chunk = tmp_path / "state" / "updates" / "chunks" / "k" / "000000.part"
    keys = [str(chunk)] if key_in_upload_area else [str(tmp_path / "release.pub")]
    cfg_path = _attack_setup(
        tmp_path, mosquitto.port, device_id, video=demo_video[0], model=orinet_path, keys=keys
    )
    before = cfg_path.read_text()
    agent = Agent(load_config(cfg_path), config_path=cfg_path)
    agent.start()
    client = connect(BrokerOptions(port=mosquitto.port), role="fleet")
    try:
        req = Requester(client)
        req.wait_until_answering(device_id, timeout=30)
        attacker = Ed25519PrivateKey.generate()
        data = base64.b64encode(public_pem(attacker.public_key())).decode()
        assert req.request(device_id, "upload", {"transfer": "k", "index": 0, "count": 2, "data": data})["ok"]
        assert chunk.read_bytes() == public_pem(attacker.public_key())
        for patch in (
            {"pipelines": {"orient": {"model": {"trusted_keys": [str(chunk)]}}}},
            {"fleet": {"commands": {"trusted_keys": [str(chunk)], "require_signed": False}}},
        ):
            r = req.request(device_id, "set", {"patch": patch})
            assert r["error"] == "refused", r
            assert "trusted_keys" in r["reason"]
            assert "cannot be changed remotely" in r["reason"]
            assert str(tmp_path) not in r["reason"]
        assert cfg_path.read_text() == before

        evil = make_bundle(tmp_path / "evil", attacker, version="6.6.6")
        [outcome] = deploy(client, evil, [device_id], "orient", timeout=60, chunk_size=4096)
        assert (outcome.ok, outcome.step) == (False, "verify"), outcome
        words = "uploaded files are data" if key_in_upload_area else "does not verify"
        assert words in (outcome.reason or ""), outcome
        assert str(tmp_path) not in (outcome.reason or ""), outcome  # the report names no device path
        assert agent.pipelines["orient"].state == "running"
        assert agent.pipelines["orient"].model is not None
        assert "6.6.6" not in agent.pipelines["orient"].model.model_id
    finally:
        disconnect(client)
        agent.stop(drain_s=0)
