"""Prometheus /metrics from a real agent run (real model, real video): names per the naming guide and
histogram counts that match the pipeline's own counters."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import LocalBroker, free_port

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus-client is in the metrics extra")


def scrape(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def test_metrics_endpoint(
    mosquitto: LocalBroker, tmp_path: Path, orinet_path: Path, demo_video: Any, device_id: str
) -> None:
    port = free_port()
    cfg = AgentConfig.model_validate(
        {
            "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
            "mqtt": {"host": "127.0.0.1", "port": mosquitto.port},
            "fleet": {"metrics": {"port": port}},
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
        assert agent.wait_finished(60)
        inferred = agent.pipelines["orient"].inferred
        assert inferred > 0
        deadline = time.monotonic() + 10
        while True:
            families = scrape(port)
            hist = families["edge_agent_inference_seconds"]
            count = next((s.value for s in hist.samples if s.name.endswith("_count")), 0)
            if count == inferred or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert count == inferred
        assert hist.type == "histogram"
        results = families["edge_agent_results"]
        assert results.type == "counter"
        assert next(s.value for s in results.samples if s.name == "edge_agent_results_total") == inferred
        build = families["edge_agent_build_info"]  # an Info metric: a gauge of 1 carrying the version label
        assert build.samples[0].value == 1
        assert build.samples[0].labels["version"]
        assert "process_resident_memory_bytes" in families
        for name, fam in families.items():
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
            if fam.type == "counter":
                assert all(s.name.endswith("_total") for s in fam.samples), name
        assert families["edge_agent_mqtt_connected"].samples[0].value == 1
    finally:
        agent.stop(drain_s=0.5)
    with pytest.raises(urllib.error.URLError):
        scrape(port)  # the endpoint goes away with the agent
