"""Every verb, and every way a command can be wrong, answered with a reason."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from memory_control import MemoryControl

from edge_agent.remote.commands.handler import ERROR_CODES, CommandHandler


def call(h: CommandHandler, verb: str, body: Any = None, raw: bytes | None = None) -> dict[str, Any]:
    payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    reply = h.handle(verb, payload)
    json.dumps(reply)  # always serialisable
    assert reply["device"] == "dev1"
    assert reply["verb"] == verb
    if not reply["ok"]:
        assert reply["error"] in ERROR_CODES
        assert reply["reason"]
    return reply


@pytest.fixture
def h(control: MemoryControl) -> CommandHandler:
    return CommandHandler(control, "dev1", clock=lambda: 1000.0)


def test_ping_status_reload(h: CommandHandler, control: MemoryControl) -> None:
    assert call(h, "ping", {"id": "a1"}) == {
        "v": 1,
        "device": "dev1",
        "verb": "ping",
        "id": "a1",
        "ok": True,
        "result": {"pong": True, "ts": 1000.0},
    }
    assert call(h, "status")["result"]["pipelines"]["cam"] == {"running": True}
    assert call(h, "reload")["ok"]
    assert control.reloads == 1


def test_start_stop_and_unknown_pipeline(h: CommandHandler, control: MemoryControl) -> None:
    assert call(h, "start", {"pipeline": "mic"})["result"] == {"pipeline": "mic", "running": True}
    assert control.running["mic"]
    assert call(h, "stop", {"pipeline": "cam"})["ok"]
    assert not control.running["cam"]
    r = call(h, "stop", {"pipeline": "nope"})
    assert (r["error"], r["reason"]) == ("not_found", "no pipeline named 'nope'")


def test_snapshot_only_when_opted_in(h: CommandHandler) -> None:
    r = call(h, "snapshot", {"pipeline": "cam"})
    assert base64.b64decode(r["result"]["data_b64"]).startswith(b"\xff\xd8")
    r = call(h, "snapshot", {"pipeline": "mic"})
    assert r["error"] == "refused"
    assert "opted in" in r["reason"]


@pytest.mark.parametrize(
    ("verb", "raw", "code", "words"),
    [
        ("ping", b"\xff\xfe", "bad_payload", "UTF-8"),
        ("ping", b"{not json", "bad_payload", "not JSON"),
        ("ping", b"[1,2]", "bad_payload", "got list"),
        ("ping", b"[" * 5000 + b"]" * 5000, "bad_payload", "JSON"),
        ("ping", b"{}" + b" " * 70000, "bad_payload", "limit"),
        ("explode", b"{}", "unknown_verb", "known: ping"),
        ("ping", b'{"extra": 1}', "invalid_args", "extra: Extra inputs"),
        ("start", b"{}", "invalid_args", "pipeline: Field required"),
        ("start", b'{"pipeline": 3}', "invalid_args", "pipeline"),
        ("start", b'{"pipeline": "../etc"}', "invalid_args", "pattern"),
        ("set", b'{"patch": {}}', "invalid_args", "patch"),
        ("update-model", b'{"pipeline": "cam"}', "invalid_args", "exactly one of url"),
        ("update-model", b'{"pipeline": "cam", "url": "file:///x"}', "invalid_args", "url needs sha256"),
        ("update-model", b'{"pipeline": "cam", "transfer": "t1"}', "refused", "not enabled"),
        ("upload", b'{"transfer": "t", "index": 3, "count": 2, "data": ""}', "invalid_args", "not below"),
    ],
)
def test_malformed(h: CommandHandler, verb: str, raw: bytes, code: str, words: str) -> None:
    r = call(h, verb, raw=raw)
    assert r["error"] == code
    assert words in r["reason"]


def test_agent_bug_is_answered_not_raised(h: CommandHandler) -> None:
    r = call(h, "set", {"patch": {"boom": 1}, "id": 7})
    assert (r["error"], r["reason"], r["id"]) == ("failed", "internal error: RuntimeError", 7)


def test_set_passes_patch(h: CommandHandler, control: MemoryControl) -> None:
    r = call(h, "set", {"patch": {"stats_interval_s": 10}})
    assert r["ok"]
    assert control.patches == [{"stats_interval_s": 10}]
