"""End to end: log lines → a text pipeline on the real SmolLM2 bundle → outbox → real Mosquitto → a
separate subscriber. classify and extract, a malformed line, an over-long line and a stuck generation.

The lines come from a file (the stand-in text_file source until h-textin's inputs merge); everything
after the source is the agent as it runs on a device. The only fake is the injected fault: a clock
that jumps while the engine works on the line marked STUCK.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from edge_agent.agent import Agent
from edge_agent.config.models import AgentConfig
from edge_agent.demo.broker import LocalBroker
from edge_agent.text.engine import Prompt, TextEngine
from tests.text.slm_bundle import TRIAGE_SCHEMA, public_key_file

ROOT = Path(__file__).resolve().parents[2]
LONG = "EXT4-fs error (device mmcblk0p2): inode bitmap corrupt " * 60
LINES: list[bytes] = [
    b"kernel: Under-voltage detected! (0x00050005)",
    b"systemd[1]: Started Daily apt upgrade and clean activities.",
    b"\xff\xfe broken \xc3\x28 bytes",  # not UTF-8
    LONG.encode(),
    b"eth0: Link is Up - 1Gbps/Full - flow control rx/tx",
]


def _config(
    tmp_path: Path, port: int, device_id: str, bundle: Path, pipelines: dict[str, Any]
) -> AgentConfig:
    key = public_key_file(tmp_path)
    for p in pipelines.values():
        p["model"] = {"path": str(bundle), "trusted_keys": [str(key)]}
    return AgentConfig.model_validate(
        {
            "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
            "mqtt": {"host": "127.0.0.1", "port": port},
            "outbox": {"commit_interval_ms": 20},
            "stats_interval_s": 1,
            "pipelines": pipelines,
        }
    )


def _run(agent: Agent, col: Any, expected: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Start, wait until every pipeline's file is done and its results arrived, stop; results by pipeline."""
    agent.start()
    try:
        assert agent.wait_finished(120), agent.status()

        def arrived(ms: list[Any]) -> bool:
            return all(sum(m.topic.endswith(f"/{n}/results") for m in ms) >= k for n, k in expected.items())

        assert col.wait_for(arrived, timeout=60), agent.status()
    finally:
        agent.stop()
    return {n: sorted(col.json(f"/{n}/results"), key=lambda r: r["frame"]) for n in expected}


def test_classify_and_extract_over_mqtt(
    tmp_path: Path, mosquitto: LocalBroker, collector_factory: Any, device_id: str, triage_bundle: Path
) -> None:
    lines = tmp_path / "device.log"
    lines.write_bytes(b"\n".join(LINES) + b"\n")
    source = {"kind": "text_file", "path": str(lines)}
    cfg = _config(
        tmp_path,
        mosquitto.port,
        device_id,
        triage_bundle,
        {
            "triage": {
                "source": source,
                "postprocess": {"kind": "text", "task": "classify", "max_input_tokens": 64},
                "accounting": {"enabled": True},
            },
            "fields": {
                "source": source,
                "postprocess": {
                    "kind": "text",
                    "task": "extract",
                    "max_input_tokens": 64,
                    "max_new_tokens": 96,
                },
                "publish": {"include_input": True},
            },
        },
    )
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/#"])
    agent = Agent(cfg)
    got = _run(agent, col, {"triage": len(LINES) - 1, "fields": len(LINES) - 1})  # the bad line: refused
    schema = json.loads((ROOT / "docs" / "result.schema.json").read_text())

    triage, fields = got["triage"], got["fields"]
    assert len(triage) == len(LINES) - 1
    for r in triage + fields:
        jsonschema.validate(r, schema)  # a text result is a result like every other
        assert r["model"] == "smollm2-triage@0.1.0"
    outcomes = [r["output"]["outcome"] for r in triage]
    assert outcomes == ["ok"] * 4  # the line that is not UTF-8 never reached the model (see `input`)
    for r in (t["output"] for t in triage):
        assert r["label"] in ("ok", "warning", "fault")
        assert 0.0 < r["prob"] <= 1.0
        assert r["tokens_in"] > 0
        assert r["tokens_out"] == 0
        assert r["ms"] > 0
        assert r["cpu_s"] > 0
        assert r["energy_j_estimate"] > 0
        assert "input" not in r  # the raw line never leaves without publish.include_input
        assert set(r) <= {"task", "outcome", "input_id", "label", "prob", "tokens_in", "tokens_out", "ms",
                          "tokens_per_s", "truncated", "cpu_s", "energy_j_estimate"}  # fmt: skip
    assert [r["output"]["truncated"] for r in triage] == [False, False, True, False]
    assert [r["output"]["input_id"] for r in triage] == [f"device.log:{i}" for i in (1, 2, 4, 5)]
    sizes = [len(m.payload) for m in col.messages if m.topic.endswith("/triage/results")]
    assert max(sizes) < 512 < len(LONG)  # compact: a few hundred bytes whatever the line's length

    for r in fields:
        out = r["output"]
        if out["outcome"] == "ok":  # every published object is valid against the schema
            jsonschema.validate(out["object"], TRIAGE_SCHEMA)
        else:
            assert "object" not in out
    assert [r["output"]["outcome"] for r in fields].count("ok") >= 3
    assert fields[0]["output"]["input"] == LINES[0].decode()  # opted in

    stats = agent.status()["pipelines"]
    assert stats["triage"]["text"] == {
        "requests": 4,
        "outcomes": {"ok": 4, "timeout": 0, "invalid": 0, "bad_input": 0, "error": 0},
        "truncated": 1,
        "tokens_in": sum(r["output"]["tokens_in"] for r in triage),
        "tokens_out": 0,
    }
    assert stats["triage"]["failures"] == 0
    assert stats["triage"]["inferred"] == 4
    assert stats["triage"]["cpu"]["results"] == 4
    assert stats["triage"]["input"]["refused"] == {"bad_encoding": 1}  # counted at the boundary
    assert stats["fields"]["text"]["truncated"] == 1
    reports = [json.loads(m.payload) for m in col.messages if m.topic.endswith("/stats")]
    assert any("text" in s["pipelines"]["triage"] for s in reports)  # the counters reach the stats topic


def test_a_stuck_generation_times_out_and_the_pipeline_goes_on(  # noqa: PLR0917 (fixtures)
    tmp_path: Path,
    mosquitto: LocalBroker,
    collector_factory: Any,
    device_id: str,
    triage_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stuck = {"now": False}
    render = TextEngine.render

    def marking(self: TextEngine, text: str, prompt: Prompt) -> str:
        stuck["now"] = "STUCK" in text  # the engine is working on the marked line
        return render(self, text, prompt)

    # Fault: while the marked line is generated, time runs an hour ahead at every look.
    monkeypatch.setattr(TextEngine, "render", marking)
    monkeypatch.setattr(TextEngine, "clock", staticmethod(lambda: time.monotonic() + 3600 * stuck["now"]))
    lines = tmp_path / "notes.log"
    lines.write_text("fan: speed 3000 rpm\nSTUCK: this one never ends\nthermal: CPU at 45C\n")
    cfg = _config(
        tmp_path,
        mosquitto.port,
        device_id,
        triage_bundle,
        {
            "notes": {
                "source": {"kind": "text_file", "path": str(lines)},
                "postprocess": {"kind": "text", "task": "generate", "max_new_tokens": 6, "timeout_s": 5},
            }
        },
    )
    col = collector_factory(mosquitto.port, [f"edge/{device_id}/#"])
    agent = Agent(cfg)
    got = _run(agent, col, {"notes": 3})["notes"]
    outs = [r["output"] for r in got]
    assert [o["outcome"] for o in outs] == ["ok", "timeout", "ok"]
    assert outs[1]["detail"] == "over timeout_s 5.0"
    assert "text" not in outs[1]
    assert all(len(o["text"]) > 0 and o["tokens_out"] <= 6 for o in (outs[0], outs[2]))
    counted = agent.status()["pipelines"]["notes"]
    assert counted["text"]["outcomes"]["timeout"] == 1
    assert counted["text"]["outcomes"]["ok"] == 2
    assert counted["failures"] == 0
    assert counted["state"] in ("finished", "stopped")
