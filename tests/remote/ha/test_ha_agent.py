"""Home Assistant discovery from a running agent: retained, valid, re-announced when Home Assistant
comes back, and availability follows the status topic (offline when the agent stops)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
from ha_schema import SCHEMA, expand

from edge_agent.agent import Agent
from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import LocalBroker
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.remote.ha import discovery_topic


def test_agent_announces_and_reannounces(
    mosquitto: LocalBroker, tmp_path: Path, orinet_path: Path, demo_video: Any, device_id: str
) -> None:
    cfg = AgentConfig.model_validate(
        {
            "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
            "mqtt": {"host": "127.0.0.1", "port": mosquitto.port},
            "fleet": {"home_assistant": {"enabled": True}},
            "pipelines": {
                "orient": {
                    "source": {"kind": "video", "path": str(demo_video[0]), "loop": True, "fps": 10},
                    "model": {"path": str(orinet_path)},
                    "postprocess": {"kind": "classification", "labels": ["a", "b", "c", "d"], "top_k": 1},
                }
            },
        }
    )
    agent = Agent(cfg)
    agent.start()
    ha = connect(BrokerOptions(port=mosquitto.port), role="ha")
    configs: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    cond = threading.Condition()

    def on_config(_c: object, _u: object, m: Any) -> None:
        with cond:
            configs.append(json.loads(m.payload))
            cond.notify_all()

    def on_status(_c: object, _u: object, m: Any) -> None:
        with cond:
            statuses.append(json.loads(m.payload))
            cond.notify_all()

    ha.message_callback_add(discovery_topic(device_id), on_config)
    ha.message_callback_add(f"edge/{device_id}/status", on_status)
    ha.subscribe([(discovery_topic(device_id), 1), (f"edge/{device_id}/status", 1)])
    try:
        with cond:
            assert cond.wait_for(lambda: configs, 10), "no discovery message"
        payload = configs[0]
        jsonschema.validate(expand(payload), SCHEMA)
        names = {c["name"] for c in payload["cmps"].values()}
        assert {"orient label", "orient fps", "orient latency", "CPU", "Temperature"} <= names
        ha.publish("homeassistant/status", b"online", qos=1).wait_for_publish(5)
        with cond:
            assert cond.wait_for(lambda: len(configs) >= 2, 10), "not re-announced"
    finally:
        agent.stop(drain_s=0.5)
    avail = payload["avty"][0]
    with cond:
        assert cond.wait_for(lambda: statuses and statuses[-1]["state"] == "offline", 10)
    rendered = jinja2.Environment().from_string(avail["val_tpl"]).render(value_json=statuses[-1])
    assert rendered == "offline"  # Home Assistant marks the device unavailable
    disconnect(ha)
