"""Discovery payloads against Home Assistant's documented schema (abbreviations expanded), their templates
rendered with Jinja on real payload shapes, and re-announcement over a real Mosquitto."""

from __future__ import annotations

import json
import threading
from typing import Any

import jinja2
import jsonschema
import pytest
from ha_schema import SCHEMA, expand

from edge_agent.demo.broker import LocalBroker
from edge_agent.fleet.client import BrokerOptions, connect, disconnect
from edge_agent.remote.ha import DiscoveryAnnouncer, PipelineInfo, build_discovery, discovery_topic

PIPES = [
    PipelineInfo("door", "classification", labels=["open", "closed"]),
    PipelineInfo("yard", "detection", labels=["person", "car", "dog's"]),
    PipelineInfo("pump", "anomaly"),
    PipelineInfo("mic", "vad", events=["speech", "alarm"]),
]


def render(template: str, value: Any, state: str = "off") -> str:
    env = jinja2.Environment(autoescape=False)
    env.filters["tojson"] = json.dumps
    return env.from_string(template).render(value_json=value, this={"state": state}).strip()


def test_payload_matches_documented_schema() -> None:
    payload = build_discovery("pi-kitchen.1", PIPES, version="0.1.0")
    full = expand(payload)
    jsonschema.validate(full, SCHEMA)
    assert discovery_topic("pi-kitchen.1") == "homeassistant/device/pi-kitchen_1/config"
    comps = full["components"]
    assert len({c["unique_id"] for c in comps.values()}) == len(comps)
    platforms = sorted(c["platform"] for c in comps.values())
    assert platforms.count("binary_sensor") == 4  # throttled, pump anomaly, mic speech + alarm
    assert full["availability"] == [
        {"topic": "edge/pi-kitchen.1/status", "value_template": "{{ value_json.state }}"}
    ]


def test_schema_rejects_what_home_assistant_would() -> None:
    payload = expand(build_discovery("d1", PIPES))
    bad = json.loads(json.dumps(payload))
    next(iter(bad["components"].values()))["platform"] = "camera"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)
    bad = json.loads(json.dumps(payload))
    next(iter(bad["components"].values()))["stat_tx"] = "typo"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_templates_render_on_real_payload_shapes() -> None:
    comps = build_discovery("d1", PIPES)["cmps"]
    by_name = {c["name"]: c for c in comps.values()}
    cls = {"v": 1, "latency_ms": 4.5, "output": {"top": [{"label": "open", "score": 0.9}]}}
    assert render(by_name["door label"]["val_tpl"], cls) == "open"
    assert render(by_name["door label"]["val_tpl"], {"output": {"top": []}}) == "none"
    assert render(by_name["door latency"]["val_tpl"], cls) == "4.5"
    det = {"output": {"detections": [{"label": "person"}, {"label": "person"}], "counts": {"person": 2}}}
    assert render(by_name["yard objects"]["val_tpl"], det) == "2"
    assert render(by_name["yard person count"]["val_tpl"], det) == "2"
    assert render(by_name["yard car count"]["val_tpl"], det) == "0"
    assert render(by_name["yard dog's count"]["val_tpl"], det) == "0"
    speech = by_name["mic speech"]["val_tpl"]
    assert render(speech, {"event": "start", "name": "speech"}) == "ON"
    assert render(speech, {"event": "end", "name": "speech"}, state="on") == "OFF"
    assert render(speech, {"event": "start", "name": "alarm"}, state="on") == "ON"  # other events: no flip
    assert render(speech, {"event": "start", "name": "alarm"}, state="off") == "OFF"
    stats = {
        "cpu_percent": 12.5,
        "temperature_c_max": 61.2,
        "throttled": False,
        "pipelines": {"mic": {"fps": 31.2}},
    }
    assert render(by_name["CPU"]["val_tpl"], stats) == "12.5"
    assert render(by_name["mic fps"]["val_tpl"], stats) == "31.2"
    assert render(by_name["door fps"]["val_tpl"], stats) == "None"  # Home Assistant shows unknown
    assert render(by_name["Throttled"]["val_tpl"], stats) == "OFF"


def test_retained_and_reannounced_when_home_assistant_restarts(
    mosquitto: LocalBroker, device_id: str
) -> None:
    opts = BrokerOptions(port=mosquitto.port)
    dev = connect(opts, role="device")
    announcer = DiscoveryAnnouncer(
        lambda t, p, r: dev.publish(t, p, qos=1, retain=r), device_id, lambda: PIPES
    )
    dev.message_callback_add(announcer.status_topic, lambda _c, _u, m: announcer.on_ha_status(m.payload))
    dev.subscribe(announcer.status_topic, qos=1)
    announcer.announce()
    ha = connect(opts, role="ha")
    got: list[bytes] = []
    seen = threading.Event()

    def on_msg(_c: object, _u: object, m: Any) -> None:
        got.append(m.payload)
        seen.set()

    ha.message_callback_add(announcer.topic, on_msg)
    ha.subscribe(announcer.topic, qos=1)
    try:
        assert seen.wait(5), "retained discovery not delivered to a late subscriber"
        assert json.loads(got[0])["dev"]["name"] == device_id
        seen.clear()
        ha.publish("homeassistant/status", b"online", qos=1).wait_for_publish(5)
        assert seen.wait(5), "not re-announced after homeassistant/status online"
        assert announcer.announced == 2
        announcer.remove()
    finally:
        disconnect(ha)
        disconnect(dev)


def test_threshold_event_from_a_real_pipeline_config_becomes_a_binary_sensor() -> None:
    from edge_agent.config.models import PipelineConfig
    from edge_agent.remote.ha import info_from_config

    pipe = PipelineConfig.model_validate(
        {
            "source": {"kind": "video", "path": "a.mp4"},
            "model": {"path": "m.onnx"},
            "postprocess": {"kind": "classification"},
            "events": {"threshold": {"name": "hot", "key": "score", "on": 0.8}},
        }
    )
    info = info_from_config("oven", pipe)
    assert info.task == "classification"
    assert tuple(info.events) == ("hot",)
