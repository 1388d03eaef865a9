"""Escalation against a real OpenAI-compatible server: llama-cpp-python's `llama_cpp.server` serving
the shipped SmolLM2 GGUF, behind a recording proxy that shows exactly what left the device.

Skips with the reason when llama-cpp-python is not installed in .venv-slm (scripts/llama-server-venv.sh).
The server is started once for the module, with an API key, so the key's path is real too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.text.escalate import EscalationPolicy, build_policy
from edge_agent.text.escalate_config import EscalateConfig
from tests.llama_server import MODEL_ALIAS, LlamaServer, RecordingProxy, llama_server

LABELS = ["ok", "warning", "fault"]
KEY = "sk-edge-agent-test-7f3a"
SYSTEM = "You triage device log lines."
TEMPLATE = "Triage this device log line:\n{input}"
LINE = "Dec  2 00:41:07 cam-7 kernel: [ 8812.113240] EXT4-fs error (device mmcblk0p2): ext4_lookup: inode 13"
THROTTLE = "Dec  2 00:42:11 cam-7 kernel: cpu0: thermal throttling"
# Fields of the same input that must never leave the device unless named in send_fields.
PRIVATE = {"host": "cam-7.private.lan", "user": "alice.operator", "unit": "kernel"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with llama_server(tmp_path_factory.mktemp("llama"), api_key=KEY) as s:
        yield s


@pytest.fixture
def proxy(server: LlamaServer) -> Iterator[RecordingProxy]:
    p = RecordingProxy(server.port)
    yield p
    p.close()


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EDGE_AGENT_TEST_LLM_KEY", KEY)
    return "EDGE_AGENT_TEST_LLM_KEY"


def make(url: str, send_fields: list[str], **to: Any) -> EscalationPolicy:
    block = EscalateConfig.model_validate(
        {
            "below": 0.6,
            "to": {"url": url, "model": MODEL_ALIAS, "timeout_s": 120, **to},
            "send_fields": send_fields,
        }
    )
    return build_policy(block, LABELS, label_field="severity", system=SYSTEM, template=TEMPLATE)


def test_escalates_with_exactly_the_send_fields(proxy: RecordingProxy, key_env: str) -> None:
    policy = make(proxy.url, ["text", "unit"], api_key_env=key_env)
    out = policy.apply("ok", 0.34, LINE, PRIVATE)

    assert out.escalation is not None
    assert out.escalation["answered"] is True, out.escalation
    assert out.label in LABELS  # the real model's answer, constrained to the label set
    assert out.escalation["local"] == {"label": "ok", "prob": 0.34}
    assert out.escalation["sent"] == ["text", "unit"]
    assert out.escalation["tokens_in"] > 0
    assert out.prob is not None  # llama.cpp returns log-probabilities: the label's share among the labels
    assert 0 < out.prob <= 1

    # llama.cpp's server refuses the OpenAI json_schema form; `auto` steps down to its json_object form.
    first, second = proxy.requests
    assert first.json()["response_format"]["type"] == "json_schema"
    assert second.json()["response_format"] == {
        "type": "json_object",
        "schema": {
            "type": "object",
            "properties": {"severity": {"type": "string", "enum": LABELS}},
            "required": ["severity"],
            "additionalProperties": False,
        },
    }
    keys = {
        "model",
        "messages",
        "max_tokens",
        "temperature",
        "logprobs",
        "top_logprobs",
        "stream",
        "response_format",
    }
    for req in (first, second):
        assert req.path == "/v1/chat/completions"
        assert req.headers["Authorization"] == f"Bearer {KEY}"
        body = req.json()
        assert set(body) == keys
        user = body["messages"][1]["content"]
        assert user == TEMPLATE.replace("{input}", json.dumps({"text": LINE, "unit": "kernel"}))
        for secret in (PRIVATE["host"], PRIVATE["user"]):
            assert secret.encode() not in req.body  # not in any part of the request
    # Stepped down once for this target: the next input takes one request.
    policy.apply("ok", 0.2, LINE, PRIVATE)
    assert len(proxy.requests) == 3

    s = policy.stats()
    assert (s["to"], s["attempted"], s["answered"]) == ("http", 2, 2)
    assert sum(s["failed"].values()) == 0


def test_text_only_sends_the_text_alone(proxy: RecordingProxy, key_env: str) -> None:
    policy = make(proxy.url, ["text"], api_key_env=key_env, constrain="json_object")
    out = policy.apply("warning", 0.5, THROTTLE, PRIVATE)
    assert out.escalation is not None
    assert out.escalation["answered"] is True, out.escalation
    [req] = proxy.requests  # an explicit constraint is used as given: no step-down
    assert req.json()["messages"][1]["content"] == TEMPLATE.replace("{input}", THROTTLE)
    for secret in (PRIVATE["host"], PRIVATE["user"]):
        assert secret.encode() not in req.body


def test_key_from_credentials_directory(
    proxy: RecordingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "llm-api-key").write_text(KEY + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    out = make(proxy.url, ["text"]).apply("ok", 0.2, LINE)
    assert out.escalation is not None
    assert out.escalation["answered"] is True, out.escalation
    assert proxy.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_wrong_key_is_counted_and_keeps_the_local_answer(
    server: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EDGE_AGENT_TEST_LLM_KEY", "sk-wrong")
    policy = make(server.url, ["text"], api_key_env="EDGE_AGENT_TEST_LLM_KEY")
    out = policy.apply("fault", 0.45, LINE)
    assert (out.label, out.prob) == ("fault", 0.45)
    assert out.escalation is not None
    assert out.escalation["failed"] == "http_error"
    assert policy.stats()["failed"]["http_error"] == 1


def test_answer_outside_the_label_set_is_refused(server: LlamaServer, key_env: str) -> None:
    def outside(raw: bytes) -> bytes:  # the fault: a server that ignores the constraint
        reply = json.loads(raw)
        reply["choices"][0]["message"]["content"] = '{"severity": "critical"}'
        return json.dumps(reply).encode()

    p = RecordingProxy(server.port, rewrite=outside)
    try:
        policy = make(p.url, ["text"], api_key_env=key_env)
        out = policy.apply("warning", 0.3, LINE)
    finally:
        p.close()
    assert out.label == "warning"
    assert out.escalation is not None
    assert out.escalation["failed"] == "invalid_answer"
    assert policy.stats()["failed"]["invalid_answer"] == 1
