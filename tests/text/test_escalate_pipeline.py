"""Escalation end to end in the agent: JSONL log records → a text pipeline on the real SmolLM2 bundle,
escalating every answer (below 1.0) to the real llama_cpp.server behind a recording proxy → results
over a real Mosquitto. Proves the pipeline wiring: only `send_fields` leave, the result says what
was escalated, and the stats count it. Skips when llama-cpp-python is absent (scripts/test installs it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import LocalBroker
from tests.llama_server import MODEL_ALIAS, LlamaServer, RecordingProxy, llama_server
from tests.text.slm_bundle import public_key_file

RECORDS = [
    {"text": "kernel: Under-voltage detected! (0x00050005)", "host": "cam-7.private.lan", "user": "alice"},
    {"text": "eth0: Link is Up - 1Gbps/Full", "host": "cam-7.private.lan", "user": "alice"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with llama_server(tmp_path_factory.mktemp("llama")) as s:
        yield s


def test_a_text_pipeline_escalates_only_its_send_fields(  # noqa: PLR0917 (fixtures)
    tmp_path: Path,
    mosquitto: LocalBroker,
    collector_factory: Any,
    device_id: str,
    triage_bundle: Path,
    server: LlamaServer,
) -> None:
    proxy = RecordingProxy(server.port)
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    key = public_key_file(tmp_path)
    cfg = AgentConfig.model_validate(
        {
            "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
            "mqtt": {"host": "127.0.0.1", "port": mosquitto.port},
            "outbox": {"commit_interval_ms": 20},
            "stats_interval_s": 1,
            "pipelines": {
                "triage": {
                    "source": {"kind": "text_file", "path": str(records), "format": "jsonl"},
                    "model": {"path": str(triage_bundle), "trusted_keys": [str(key)]},
                    "postprocess": {
                        "kind": "text",
                        "task": "classify",
                        "escalate": {
                            "below": 1.0,  # every answer (a probability is < 1): the wiring is under test
                            "to": {"url": proxy.url, "model": MODEL_ALIAS, "timeout_s": 120},
                            "send_fields": ["text"],
                        },
                    },
                }
            },
        }
    )
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/triage/results"])
    agent = Agent(cfg)
    agent.start()
    try:
        assert agent.wait_finished(300), agent.status()
        assert col.wait_for(lambda ms: len(ms) >= len(RECORDS), timeout=60), agent.status()
        stats = agent.status()["pipelines"]["triage"]
    finally:
        agent.stop()
        proxy.close()
    outputs = [r["output"] for r in col.json()]
    for out in outputs:
        assert out["outcome"] == "ok"
        assert out["label"] in ("ok", "warning", "fault")
        esc = out["escalation"]
        assert esc["sent"] == ["text"]
        assert "local" in esc
    assert stats["escalations"]["attempted"] == len(RECORDS)
    bodies = [r.body.decode() for r in proxy.requests]
    assert bodies, "nothing reached the server"
    for body in bodies:  # what left the device: the line, never the other fields of the record
        assert "cam-7.private.lan" not in body
        assert "alice" not in body
    assert any("Under-voltage" in b for b in bodies)
