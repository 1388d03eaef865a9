"""ed25519-signed commands: accepted when signed by a trusted key, refused with a reason otherwise."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from memory_control import MemoryControl

from edge_agent.remote.commands.handler import CommandHandler
from edge_agent.remote.commands.signing import CommandVerifier, sign_command

NOW = 1_800_000_000.0


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def handler(control: MemoryControl, key: Ed25519PrivateKey, required: bool = True) -> CommandHandler:
    verifier = CommandVerifier([key.public_key()], required=required, clock=lambda: NOW)
    return CommandHandler(control, "dev1", verifier=verifier)


def send(h: CommandHandler, verb: str, body: dict[str, object]) -> dict[str, object]:
    return h.handle(verb, json.dumps(body).encode())


def test_signed_command_accepted_once(control: MemoryControl, key: Ed25519PrivateKey) -> None:
    h = handler(control, key)
    body = sign_command(key, "dev1", "stop", {"pipeline": "cam"}, now=NOW)
    assert send(h, "stop", body)["ok"]
    assert control.running["cam"] is False
    replay = send(h, "stop", body)
    assert (replay["error"], replay["reason"]) == ("unauthorised", "replayed nonce")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b.pop("sig"), "only accepts signed"),
        (lambda b: b.update(pipeline="mic"), "does not verify"),
        (lambda b: b.update(ts=NOW - 3600), "more than 120s"),
        (lambda b: b.update(sig="***"), "not base64"),
        (lambda b: b.update(nonce=5), "string sig and nonce"),
        (lambda b: b.update(ts="now"), "numeric ts"),
    ],
)
def test_refusals(control: MemoryControl, key: Ed25519PrivateKey, mutate: object, reason: str) -> None:
    body = sign_command(key, "dev1", "stop", {"pipeline": "cam"}, now=NOW)
    mutate(body)  # type: ignore[operator]
    r = send(handler(control, key), "stop", body)
    assert r["error"] == "unauthorised"
    assert reason in str(r["reason"])
    assert control.running["cam"] is True


def test_wrong_key_other_device_other_verb(control: MemoryControl, key: Ed25519PrivateKey) -> None:
    h = handler(control, key)
    stranger = Ed25519PrivateKey.generate()
    assert (
        send(h, "stop", sign_command(stranger, "dev1", "stop", {"pipeline": "cam"}, now=NOW))["ok"] is False
    )
    for_b = sign_command(key, "dev2", "stop", {"pipeline": "cam"}, now=NOW)
    assert send(h, "stop", for_b)["ok"] is False
    as_start = sign_command(key, "dev1", "start", {"pipeline": "cam"}, now=NOW)
    assert send(h, "stop", as_start)["ok"] is False


def test_optional_signatures_still_verify_when_present(
    control: MemoryControl, key: Ed25519PrivateKey
) -> None:
    h = handler(control, key, required=False)
    assert send(h, "ping", {})["ok"]
    bad = sign_command(Ed25519PrivateKey.generate(), "dev1", "ping", {}, now=NOW)
    assert send(h, "ping", bad)["error"] == "unauthorised"
