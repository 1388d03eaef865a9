"""End to end: real video → real model → outbox → real Mosquitto → a separate subscriber."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from edge_agent.agent import Agent
from edge_agent.demo.broker import LocalBroker
from tests.tlsutil import make_pki

RESULT_FIELDS = {"v", "device", "pipeline", "seq", "ts", "model", "latency_ms", "frame", "output"}


def run_to_end(agent: Agent, timeout: float = 60.0) -> None:
    agent.start()
    assert agent.wait_finished(timeout), agent.status()
    deadline = time.monotonic() + timeout
    while agent.outbox.depth and time.monotonic() < deadline:
        time.sleep(0.05)


def test_every_frame_arrives_once_with_documented_fields(
    mosquitto: LocalBroker, collector_factory: Any, make_config: Any, demo_video: Any, device_id: str
) -> None:
    truth = demo_video[1]
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/#"])
    agent = Agent(make_config(mosquitto.port))
    run_to_end(agent)
    assert col.wait_for(lambda ms: sum(m.topic.endswith("/results") for m in ms) >= len(truth))
    agent.stop()
    results = col.json("/orient/results")
    assert len(results) == len(truth)
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "result.schema.json").read_text())
    for r in results:
        jsonschema.validate(r, schema)
        assert set(r) == RESULT_FIELDS
        assert r["device"] == device_id
        assert r["pipeline"] == "orient"
        assert r["v"] == 1
        assert r["model"] == "orientation_orinet_fp32"
        assert r["latency_ms"] > 0
    assert [r["seq"] for r in results] == list(range(1, len(truth) + 1))
    right = sum(r["output"]["top"][0]["label"] == truth[r["frame"]] for r in results)
    assert right >= 0.9 * len(truth)  # the real model really reads the images
    statuses = [json.loads(m.payload) for m in col.messages if m.topic.endswith("/status")]
    assert statuses[0]["state"] == "online"
    assert statuses[0]["pipelines"]["orient"]["model"]
    assert statuses[-1]["state"] == "offline"
    assert max(len(m.payload) for m in col.messages if m.topic.endswith("/results")) < 640 * 480 * 3 / 1000


def test_sequence_numbers_survive_a_restart(
    mosquitto: LocalBroker, collector_factory: Any, make_config: Any
) -> None:
    cfg = make_config(mosquitto.port)
    n = len(cfg.pipelines) and 0
    for _ in range(2):
        agent = Agent(cfg)
        run_to_end(agent)
        agent.stop()
        n += agent.pipelines["orient"].inferred
    again = Agent(cfg)
    assert again.outbox.stats.last_seq["orient"] == n
    again.outbox.close()


def test_tls_and_password(
    tmp_path: Path, mosquitto_factory: Any, collector_factory: Any, make_config: Any, monkeypatch: Any
) -> None:
    pki = make_pki(tmp_path)
    pwfile = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "cam", "s3cret"], check=True)
    pwfile.chmod(0o644)
    from edge_agent.demo.broker import free_port

    tls_port, plain_port = free_port(), free_port()
    broker = mosquitto_factory(
        f"per_listener_settings true\n"
        f"listener {tls_port} 127.0.0.1\ncafile {pki['ca']}\ncertfile {pki['server_crt']}\n"
        f"keyfile {pki['server_key']}\nallow_anonymous false\npassword_file {pwfile}\n"
        f"listener {plain_port} 127.0.0.1\nallow_anonymous true\n",
        port=plain_port,
    )
    col = collector_factory(broker.port, ["edge/+/orient/results"])
    monkeypatch.setenv("EDGE_AGENT_MQTT_PASSWORD", "s3cret")
    cfg = make_config(tls_port, {"username": "cam", "tls": {"ca_file": str(pki["ca"])}})
    agent = Agent(cfg)
    run_to_end(agent)
    agent.stop()
    assert agent.publisher.stats.connects >= 1
    assert col.wait_for(lambda ms: len(ms) >= agent.pipelines["orient"].inferred)

    # Wrong password: refused, retried with backoff, nothing lost, clear status.
    monkeypatch.setenv("EDGE_AGENT_MQTT_PASSWORD", "wrong")
    cfg2 = make_config(
        tls_port, {"username": "cam", "tls": {"ca_file": str(pki["ca"])}, "reconnect_min_s": 1}
    )
    cfg2.device.state_dir = tmp_path / "state2"
    bad = Agent(cfg2)
    bad.start()
    time.sleep(2.5)
    status = bad.status()
    bad.stop(drain_s=0)
    assert not status["mqtt"]["connected"]
    assert "refused" in (status["mqtt"]["last_error"] or "")
    assert bad.outbox.depth == bad.pipelines["orient"].inferred > 0  # kept for later, not lost


def test_acl_denied_publish_is_counted_as_not_delivered(
    tmp_path: Path, mosquitto_factory: Any, make_config: Any, device_id: str
) -> None:
    acl = tmp_path / "acl"
    acl.write_text(f"topic readwrite edge/{device_id}/status\n")  # results topic not allowed
    acl.chmod(0o644)
    broker = mosquitto_factory(f"acl_file {acl}\n")
    agent = Agent(make_config(broker.port))
    agent.start()
    assert agent.wait_finished(30)
    deadline = time.monotonic() + 20
    while agent.outbox.stats.rejected < agent.pipelines["orient"].inferred and time.monotonic() < deadline:
        time.sleep(0.05)
    agent.stop(drain_s=0)
    n = agent.pipelines["orient"].inferred
    assert agent.outbox.stats.rejected == n > 0
    assert agent.outbox.stats.delivered == 0
    assert agent.publisher.stats.refused == n


def test_sigterm_stops_cleanly_within_5s(
    tmp_path: Path, mosquitto: LocalBroker, collector_factory: Any, make_config: Any, device_id: str
) -> None:
    cfg = make_config(mosquitto.port)
    data = cfg.model_dump(mode="json", exclude_none=True)
    data["pipelines"]["orient"]["source"]["loop"] = True
    data["pipelines"]["orient"]["source"]["fps"] = 20
    cfg_file = tmp_path / "agent.yaml"
    cfg_file.write_text(yaml.safe_dump(data))
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/#"])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli.main", "run", "-c", str(cfg_file)],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        assert col.wait_for(lambda ms: sum(m.topic.endswith("/results") for m in ms) >= 5, timeout=30)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)  # a hard wait only: the promise is checked on the agent's own clock below
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert rc == 0, err
    took = re.search(r"stop took ([\d.]+) s", err)
    assert took is not None, err
    assert float(took.group(1)) <= 5.0  # SIGTERM handled -> outbox closed, measured by the agent
    assert col.wait_for(
        lambda ms: json.loads(ms[-1].payload).get("state") == "offline" if ms else False, 5
    ) or any(
        m.topic.endswith("/status") and json.loads(m.payload)["state"] == "offline" for m in col.messages
    )


def test_bad_pipeline_is_refused_while_the_good_one_runs(
    tmp_path: Path, mosquitto: LocalBroker, collector_factory: Any, make_config: Any, orinet_path: Path
) -> None:
    from edge_agent.config.models import PipelineConfig

    cfg = make_config(mosquitto.port)
    garbage = tmp_path / "broken.onnx"
    garbage.write_bytes(b"\x08\x01garbage")
    good = cfg.pipelines["orient"]
    cfg.pipelines["broken"] = PipelineConfig.model_validate(
        {**good.model_dump(), "model": {"path": str(garbage)}}
    )
    cfg.pipelines["needs_gpu"] = PipelineConfig.model_validate(
        {
            **good.model_dump(),
            "model": {
                "path": str(orinet_path),
                "providers": ["CUDAExecutionProvider"],
                "require_accelerator": True,
            },
        }
    )
    agent = Agent(cfg)
    run_to_end(agent)
    agent.stop()
    st = agent.status()["pipelines"]
    assert st["orient"]["inferred"] > 0
    assert st["broken"]["state"] == "failed"
    assert "cannot load" in st["broken"]["error"]
    assert st["needs_gpu"]["state"] == "failed"
    assert "CUDAExecutionProvider" in st["needs_gpu"]["error"]
