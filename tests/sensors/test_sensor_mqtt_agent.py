"""The `mqtt` sensor input rides the agent's own connection: TLS and a password the broker requires,
and the subscription comes back after the broker restarts (a real Mosquitto, a real ONNX model)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.agent import Agent
from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import free_port
from tests.tlsutil import make_pki

TOPIC = "sensors/pump-4/accel"


def _double_model(tmp_path: Path) -> Path:
    """y = 2x on a [1, 2] reading: each result tells which reading it came from."""
    import onnx
    from onnx import TensorProto, helper

    two = helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"])],
        "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        initializer=[two],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "double.onnx"
    onnx.save(model, path)
    return path


def _sender(port: int) -> mqtt.Client:
    """Another local device, on the broker's plain listener (the agent is on the TLS one)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _send_until(sender: mqtt.Client, results: Any, first_ts: float, timeout: float = 20.0) -> dict[str, Any]:
    """Publish one reading every 0.2 s, times from `first_ts` on, until the agent publishes a result for
    one of them (a subscription still on its way misses the first ones); that result."""
    ts, deadline = first_ts, time.monotonic() + timeout
    while time.monotonic() < deadline:
        sender.publish(TOPIC, json.dumps({"ts": ts, "x": ts, "y": 1}), qos=1).wait_for_publish(5)
        ts += 1.0
        if results.wait_for(lambda ms: any(json.loads(m.payload)["ts"] >= first_ts for m in ms), 0.2):
            return next(r for r in results.json() if r["ts"] >= first_ts)
    return {}


@pytest.mark.slow
def test_sensor_mqtt_input_through_tls_and_password_survives_a_broker_restart(
    tmp_path: Path,
    mosquitto_factory: Any,
    collector_factory: Any,
    device_id: str,
    monkeypatch: Any,
) -> None:
    pki = make_pki(tmp_path)
    pwfile = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "pump", "s3cret"], check=True)
    pwfile.chmod(0o644)
    tls_port, plain_port = free_port(), free_port()
    broker_conf = (
        f"per_listener_settings true\n"
        f"listener {tls_port} 127.0.0.1\ncafile {pki['ca']}\ncertfile {pki['server_crt']}\n"
        f"keyfile {pki['server_key']}\nallow_anonymous false\npassword_file {pwfile}\n"
        f"listener {plain_port} 127.0.0.1\nallow_anonymous true\n"
    )
    broker = mosquitto_factory(broker_conf, port=plain_port)
    monkeypatch.setenv("EDGE_AGENT_MQTT_PASSWORD", "s3cret")
    cfg = AgentConfig.model_validate(
        {
            "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
            "mqtt": {
                "host": "127.0.0.1",
                "port": tls_port,
                "username": "pump",
                "tls": {"ca_file": str(pki["ca"])},
                "reconnect_min_s": 1,
                "reconnect_max_s": 2,
            },
            "outbox": {"commit_interval_ms": 20},
            "pipelines": {
                "remote": {
                    "source": {"kind": "mqtt", "topic": TOPIC, "channels": ["x", "y"]},
                    "model": {"path": str(_double_model(tmp_path))},
                    "postprocess": {"kind": "raw"},
                }
            },
        }
    )
    results_topic = f"edge/{device_id}/remote/results"
    agent = Agent(cfg)
    agent.start()
    sender = _sender(plain_port)
    try:
        assert agent.publisher.wait_connected(10), agent.status()
        first = _send_until(sender, collector_factory(plain_port, [results_topic]), 1000.0)
        assert first, f"no reading came in through the TLS + password connection: {agent.status()}"
        assert first["output"]["outputs"][0]["values"] == [2 * first["ts"], 2.0]  # y = 2x of that reading

        sender.loop_stop()
        sender.disconnect()
        broker.stop()
        deadline = time.monotonic() + 10
        while agent.publisher.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not agent.publisher.connected
        broker = mosquitto_factory(broker_conf, port=plain_port)  # same ports, no saved sessions
        assert agent.publisher.wait_connected(15), agent.status()
        sender = _sender(plain_port)
        again = _send_until(sender, collector_factory(plain_port, [results_topic]), 5000.0)
        assert again, f"no reading after the broker restart (subscription not renewed): {agent.status()}"
        assert again["output"]["outputs"][0]["values"] == [2 * again["ts"], 2.0]
        assert agent.publisher.stats.connects >= 2
    finally:
        sender.loop_stop()
        sender.disconnect()
        agent.stop(drain_s=1)
