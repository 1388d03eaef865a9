"""Escalation without a model: the `escalate:` block's refusals, what is selected to leave the
device, how answers are checked, and the faults (server down, server hanging, secret missing),
each counted with the local answer kept."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge_agent.errors import ConfigError
from edge_agent.text.escalate import (
    BundleEscalator,
    EscalationPolicy,
    EscalationSetupError,
    HttpEscalator,
    build_policy,
    select_fields,
)
from edge_agent.text.escalate_answer import EscalationError, label_prob, parse_label
from edge_agent.text.escalate_config import BundleTarget, EscalateConfig, HttpTarget
from edge_agent.yamlfile.reader import read_yaml_text
from edge_agent.yamlfile.validate import validate_doc
from tests.llama_server import free_port, silent_server

LABELS = ["ok", "warning", "fault"]


def cfg(**to: Any) -> EscalateConfig:
    return EscalateConfig.model_validate(
        {"below": 0.6, "to": {"url": "http://127.0.0.1:9/v1", "model": "m", **to}, "send_fields": ["text"]}
    )


# --- the config block ---------------------------------------------------------------------------------


def test_block_reads_both_targets() -> None:
    http = cfg()
    assert isinstance(http.to, HttpTarget)
    assert http.kind == "http"
    assert http.to.url == "http://127.0.0.1:9/v1"
    assert http.to.constrain == "auto"
    local = EscalateConfig.model_validate({"below": 0.5, "to": {"bundle": "big"}, "send_fields": ["text"]})
    assert isinstance(local.to, BundleTarget)
    assert local.to.bundle == Path("big")
    assert local.kind == "bundle"


@pytest.mark.parametrize(
    ("to", "fields", "expect"),
    [
        (
            {"url": "https://llm.example/v1", "model": "m", "api_key": "sk-1"},
            ["text"],
            "a secret never goes in the config",
        ),
        ({"url": "http://10.1.2.3:8080/v1", "model": "m"}, ["text"], "would send the text unencrypted"),
        ({"url": "https://me:pw@llm.example/v1", "model": "m"}, ["text"], "puts a secret in the config file"),
        ({"url": "ftp://llm.example/v1", "model": "m"}, ["text"], "expected an http:// or https:// URL"),
        (
            {"url": "http://127.0.0.1/v1", "model": "m", "ca_file": "ca.pem"},
            ["text"],
            "only used with an https",
        ),
        ({"url": "https://llm.example/v1", "model": "m"}, [], "at least 1 item"),
        ({"url": "https://llm.example/v1", "model": "m"}, ["text", "text"], "each field once"),
    ],
)
def test_block_refuses(to: dict[str, Any], fields: list[str], expect: str) -> None:
    with pytest.raises(ValidationError, match=expect):
        EscalateConfig.model_validate({"below": 0.6, "to": to, "send_fields": fields})


def test_send_fields_has_no_default() -> None:
    # Privacy first: what may leave the device is always written down, never assumed.
    with pytest.raises(ValidationError, match="send_fields"):
        EscalateConfig.model_validate({"below": 0.6, "to": {"bundle": "big"}})


def test_config_error_names_the_yaml_key_and_line() -> None:
    text = (
        "below: 0.6\nsend_fields: [text]\nto:\n  url: https://llm.example/v1\n  model: m\n  api_key: sk-1\n"
    )
    with pytest.raises(ConfigError) as info:
        validate_doc(EscalateConfig, read_yaml_text(text, "escalate.yaml"))
    issue = info.value.issues[0]
    assert issue.path == "to", issue
    assert issue.line == 3, issue
    assert "a secret never goes in the config file" in issue.message
    assert "sk-1" not in str(info.value)


# --- what leaves the device ---------------------------------------------------------------------------


def test_select_fields_takes_only_what_is_named() -> None:
    fields = {"unit": "ssh.service", "host": "cam-7.home", "user": "alice", "pid": 311}
    assert select_fields("Under-voltage detected!", fields, ["text"]) == {"text": "Under-voltage detected!"}
    assert select_fields("x", fields, ["text", "unit", "pid"]) == {
        "text": "x",
        "unit": "ssh.service",
        "pid": "311",
    }
    assert select_fields("x", fields, ["unit", "missing"]) == {"unit": "ssh.service"}
    assert select_fields("x", None, ["unit"]) == {}


def test_request_body_holds_the_sent_fields_only() -> None:
    esc = HttpEscalator(cfg().to, LABELS, label_field="severity", system="Triage.", template="Log:\n{input}")  # type: ignore[arg-type]
    body = esc.request_body({"text": "EXT4-fs error", "unit": "kernel"})
    user = body["messages"][1]["content"]
    assert user == 'Log:\n{"text": "EXT4-fs error", "unit": "kernel"}'
    assert body["messages"][0]["content"].startswith("Triage. Answer with JSON only")
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["severity"]["enum"] == LABELS
    assert schema["required"] == ["severity"]


# --- answers ------------------------------------------------------------------------------------------


def test_parse_label_accepts_the_label_set_only() -> None:
    assert parse_label('{"severity": "fault"}', "severity", LABELS) == "fault"
    assert parse_label(' "warning"\n', "severity", LABELS) == "warning"
    assert parse_label("OK.", "severity", LABELS) == "ok"
    for bad in ('{"severity": "critical"}', '{"level": "ok"}', "it looks fine", "[]"):
        with pytest.raises(EscalationError) as info:
            parse_label(bad, "severity", LABELS)
        assert info.value.reason == "invalid_answer"


def test_label_prob_is_the_label_share_where_it_begins() -> None:
    # As llama.cpp's server reports it: the chosen token and its top alternatives, before the grammar.
    content = '{ "severity": "ok"}'
    first = {"token": "ok", "logprob": -4.0, "top_logprobs": [
        {"token": "under", "logprob": -0.9}, {"token": "ok", "logprob": -4.0},
        {"token": "f", "logprob": -4.0}, {"token": "warn", "logprob": -5.0},
    ]}  # fmt: skip
    toks = [{"token": t, "logprob": -0.1} for t in ("{", ' "', "severity", '":', ' "')]
    lp = {"content": [*toks, first, {"token": '"}', "logprob": -0.2}]}
    e = math.exp(-1.0)  # warning is 1 nat below ok and fault
    assert label_prob(content, "ok", LABELS, lp) == pytest.approx(1 / (2 + e), abs=1e-4)
    assert label_prob(content, "ok", LABELS, None) is None
    assert label_prob(content, "ok", LABELS, {"content": [{"token": "{", "logprob": -1}]}) is None


def test_label_prob_strips_what_the_token_holds_before_the_label() -> None:
    content = '{"severity": "fault"}'
    tok = {"token": ' "fault', "logprob": -0.2, "top_logprobs": [{"token": ' "ok', "logprob": -1.8}]}
    lp = {"content": [{"token": '{"severity":', "logprob": 0.0}, tok, {"token": '"}', "logprob": 0.0}]}
    assert label_prob(content, "fault", LABELS, lp) == pytest.approx(1 / (1 + math.exp(-1.6)), abs=1e-4)


# --- faults: counted, the local answer kept -----------------------------------------------------------


def policy(target: dict[str, Any], fields: list[str] | None = None) -> EscalationPolicy:
    block = EscalateConfig.model_validate({"below": 0.6, "to": target, "send_fields": fields or ["text"]})
    return build_policy(block, LABELS, label_field="severity")


def test_confident_answer_does_not_escalate() -> None:
    p = policy({"url": f"http://127.0.0.1:{free_port()}/v1", "model": "m"})
    out = p.apply("ok", 0.9, "systemd[1]: Started ssh.service.")
    assert (out.label, out.prob, out.escalation) == ("ok", 0.9, None)
    assert p.stats()["attempted"] == 0


def test_server_down_is_counted_unreachable_and_keeps_the_local_answer() -> None:
    p = policy({"url": f"http://127.0.0.1:{free_port()}/v1", "model": "m", "timeout_s": 5})
    out = p.apply("warning", 0.41, "EXT4-fs error (device mmcblk0p2)")
    assert (out.label, out.prob) == ("warning", 0.41)
    assert out.escalation == {
        "to": "http", "local": {"label": "warning", "prob": 0.41},
        "answered": False, "failed": "unreachable", "kept": "local",
    }  # fmt: skip
    s = p.stats()
    assert (s["attempted"], s["answered"], s["failed"]["unreachable"]) == (1, 0, 1)


def test_hanging_server_is_counted_timeout() -> None:
    with silent_server() as port:
        p = policy({"url": f"http://127.0.0.1:{port}/v1", "model": "m", "timeout_s": 0.3})
        out = p.apply("fault", 0.2, "thermal throttling")
    assert out.label == "fault"
    assert out.escalation is not None
    assert out.escalation["failed"] == "timeout"
    assert p.stats()["failed"]["timeout"] == 1


def test_input_without_the_sent_fields_is_counted_no_fields() -> None:
    p = policy({"url": f"http://127.0.0.1:{free_port()}/v1", "model": "m"}, fields=["unit"])
    out = p.apply("ok", 0.3, "no unit here", {"host": "cam-7"})
    assert out.escalation is not None
    assert out.escalation["failed"] == "no_fields"
    assert p.stats()["failed"]["no_fields"] == 1


def test_named_key_variable_must_hold_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGE_AGENT_TEST_LLM_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(
        EscalationSetupError, match=r"api_key_env: \$EDGE_AGENT_TEST_LLM_KEY is empty or unset"
    ):
        policy({"url": "https://llm.example/v1", "model": "m", "api_key_env": "EDGE_AGENT_TEST_LLM_KEY"})


def test_missing_ca_file_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(EscalationSetupError, match="ca_file: file not found"):
        policy({"url": "https://llm.example/v1", "model": "m", "ca_file": str(tmp_path / "none.pem")})


def test_bundle_target_needs_the_engine() -> None:
    with pytest.raises(EscalationSetupError, match="cannot open a local bundle"):
        policy({"bundle": "big"})


class _Broken:
    """A fault: the local engine raising inside the worker thread."""

    def classify(self, text: str) -> tuple[str, float]:
        raise RuntimeError("engine crashed")


def test_engine_fault_is_counted_and_never_raised() -> None:
    block = EscalateConfig.model_validate({"below": 0.6, "to": {"bundle": "big"}, "send_fields": ["text"]})
    p = EscalationPolicy(block, BundleEscalator(_Broken(), LABELS))
    out = p.apply("ok", 0.5, "eth0: link down")
    assert out.label == "ok"
    assert out.escalation is not None
    assert out.escalation["failed"] == "error"
    assert p.stats()["failed"]["error"] == 1
