"""The hostile command corpus (tests/remote/commands/hostile_corpus.py) against a real agent on a real
Mosquitto.

For every case: it is refused with a reason (or answered `ok` where that is right) on the topic the rules
say, or dropped and counted; nothing is run that should not be (the pipeline keeps running, the config
file stays byte for byte); no reply reason names a file path; and afterwards the device still answers a
ping, its command thread is alive and new results keep arriving. Retained commands are not run either
when the agent starts again (MQTT 5 and 3.1.1).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from agent_device import Device, Inbox, write_config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostile_corpus import PIPE, Case, corpus
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.agent import Agent
from edge_agent.bundle.sign import public_pem
from edge_agent.config import load_config
from edge_agent.demo.broker import LocalBroker
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.fleet.send import Requester


@pytest.fixture
def device(
    tmp_path: Path, mosquitto: LocalBroker, tiny_model: Path, video_2000: Path, device_id: str
) -> Iterator[Device]:
    dev = Device(write_config(tmp_path, device_id, mosquitto.port, tiny_model, video_2000), mosquitto.port)
    try:
        assert dev.agent.publisher.wait_connected(20)
        yield dev
    finally:
        dev.stop()


def _send(client: mqtt.Client, port: int, topic: str, case: Case) -> None:
    if case.send == "broker_refuses":
        # a client of its own: the broker drops it for this publish
        rogue = connect(BrokerOptions(port=port), role="rogue")
        gone = threading.Event()
        rogue.on_disconnect = lambda *_a: gone.set()
        props = None
        if case.response_topic is not None:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = case.response_topic
        rogue.publish(case.topic or topic, case.payload, qos=1, properties=props)
        assert gone.wait(20), f"{case.name}: the broker accepted what it should refuse"
        rogue.loop_stop()
        return
    props = None
    if case.send == "v5":
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = case.response_topic
        props.CorrelationData = case.name.encode()[:100]
    info = client.publish(topic, case.payload, qos=1, retain=case.send == "retained", properties=props)
    info.wait_for_publish(20)


def _check_reply(case: Case, reply: dict[str, Any] | None, secrets: list[str]) -> None:
    assert reply is not None, f"{case.name}: no reply"
    assert reply["device"]
    assert reply["verb"] == case.verb[:64] or reply["verb"] == case.verb, case.name
    if case.expect == "ok":
        assert reply["ok"] is True, (case.name, reply)
        return
    assert reply["ok"] is False, (case.name, reply)
    assert reply["error"] == case.expect, (case.name, reply)
    reason = reply["reason"]
    assert isinstance(reason, str)
    assert reason
    assert all(w in reason for w in case.words.split("|")), (case.name, reason)
    for secret in secrets:
        assert secret not in reason, f"{case.name}: the reason names a configured path: {reason}"


def _run_case(
    device: Device, case: Case, *, client: mqtt.Client, req: Requester, inbox: Inbox, secrets: list[str]
) -> None:
    """Send one case, check its outcome, then that the device still answers, runs and delivers."""
    agent = device.agent
    dev = agent.device
    before = device.stats
    inbox.clear()
    _send(client, device.port, f"edge/{dev}/cmd/{case.verb}", case)
    if case.expect == "none":
        assert req.request(dev, "ping", timeout=20)["ok"], case.name  # in order after the case
        assert inbox.messages == [], f"{case.name}: answered, but should have been dropped"
    else:
        where = f"edge/{dev}/reply/{case.verb}" if case.where == "default" else case.where
        _check_reply(case, inbox.wait(where), [] if case.expect == "ok" else secrets)
        assert req.request(dev, "ping", timeout=20)["ok"], case.name
    after = device.stats
    if case.counter is not None:
        assert after[case.counter] == before[case.counter] + 1, (case.name, before, after)
    assert (after["errors"], after["restarts"], after["alive"]) == (0, 0, True), (case.name, after)
    assert agent.pipelines[PIPE].state == "running", f"{case.name} stopped the pipeline"
    assert device.still_delivering(), f"results stopped after {case.name}"


@pytest.mark.slow
def test_hostile_corpus_on_a_running_agent(device: Device, tmp_path: Path) -> None:
    agent = device.agent
    dev = agent.device
    client = connect(BrokerOptions(port=device.port), role="fleet")
    req = Requester(client)
    inbox = Inbox(client, [f"edge/{dev}/reply/#", "ctl/#"])
    retained_topics: list[str] = []
    try:
        assert req.wait_until_answering(dev, timeout=30)["ok"]
        # the attacker's public key, uploaded as a chunk: it is data and must never become a trusted key
        attacker = public_pem(Ed25519PrivateKey.generate().public_key())
        up = req.request(
            dev,
            "upload",
            {"transfer": "evil", "index": 0, "count": 2, "data": base64.b64encode(attacker).decode()},
        )
        assert up["ok"], up
        chunk = tmp_path / "state-agent" / "updates" / "chunks" / "evil" / "000000.part"
        assert chunk.read_bytes() == attacker

        cases = corpus(dev, time.time(), str(chunk))
        assert len(cases) >= 300
        config_before = device.cfg_path.read_bytes()
        secrets = [str(tmp_path), str(chunk), "release.pub", "/tmp"]
        device.still_delivering()
        outcomes: dict[str, int] = {}
        for case in cases:
            _run_case(device, case, client=client, req=req, inbox=inbox, secrets=secrets)
            if case.send == "retained":
                retained_topics.append(f"edge/{dev}/cmd/{case.verb}")
            assert agent.cfg.stats_interval_s == 30, f"{case.name} changed the config"
            assert device.cfg_path.read_bytes() == config_before, f"{case.name} rewrote the config file"
            outcomes[case.expect] = outcomes.get(case.expect, 0) + 1
        print(f"hostile corpus: {len(cases)} cases, outcomes {outcomes}")
        assert agent.publisher.stats.disconnects == 0  # no case took the device off the network

        # nothing but results ever reached the results topic
        results = device.results.json()
        assert results
        assert all(r.get("pipeline") == PIPE and "seq" in r for r in results)

        # the signing bypass of issue 12: the uploaded key never became a trusted key
        assert agent.cfg.pipelines[PIPE].model.trusted_keys == [tmp_path / "release.pub"]
        assert agent.cfg.fleet.commands.trusted_keys == []

        # and a remote `set` that is allowed keeps the operator's comments and layout
        r = req.request(dev, "set", {"patch": {"stats_interval_s": 29}})
        assert r["ok"], r
        expected = config_before.decode().replace("stats_interval_s: 30 ", "stats_interval_s: 29 ")
        assert device.cfg_path.read_text() == expected
        assert agent.cfg.stats_interval_s == 29
    finally:
        req.close()
        disconnect(client)
    _retained_not_run_at_start(device, tmp_path, sorted(set(retained_topics)))


def _retained_not_run_at_start(device: Device, tmp_path: Path, retained: list[str]) -> None:
    """The retained commands left on the broker are not run by the next start, on MQTT 5 or 3.1.1."""
    assert retained
    device.stop()
    agent = device.agent
    model, video = agent.cfg.pipelines[PIPE].model.path, agent.cfg.pipelines[PIPE].source.path
    client = connect(BrokerOptions(port=device.port), role="fleet")
    try:
        for protocol in ("5", "3.1.1"):
            name = "v5" if protocol == "5" else "v311"
            cfg_path = write_config(
                tmp_path, agent.device, device.port, model, Path(video), protocol=protocol, name=name
            )
            again = Agent(load_config(cfg_path), config_path=cfg_path)
            again.start()
            asker = connect(BrokerOptions(port=device.port, protocol=protocol), role="fleet")
            try:
                req = Requester(asker)
                assert req.wait_until_answering(again.device, timeout=30)["ok"]  # retained ones come first
                req.close()
                assert again.pipelines[PIPE].state == "running"
                assert again.cfg.stats_interval_s == 30
                assert again.fleet is not None
                dropped = again.fleet.stats()["commands"]["retained_dropped"]
                # MQTT 5: the broker never sends them (retain handling 2); 3.1.1: they come flagged, dropped
                assert dropped == (0 if protocol == "5" else len(retained)), (protocol, dropped)
            finally:
                disconnect(asker)
                again.stop(drain_s=0)
    finally:
        for topic in retained:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)  # clear them
        disconnect(client)
