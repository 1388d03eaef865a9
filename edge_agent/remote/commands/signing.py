"""Optional ed25519-signed commands, for brokers whose ACLs are not enough (shared broker, many operators).

The signature covers the canonical JSON (sorted keys, no spaces) of the command object without `sig`,
plus the target device and verb, so a signed `stop` for device A cannot be replayed as a `stop` for B or
as a `start`. `ts` (Unix seconds) must be within `max_skew_s` and `nonce` unseen in that window.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from edge_agent.bundle.keys import Ed25519Key, key_id, signature_ok
from edge_agent.errors import CommandError

if TYPE_CHECKING:  # cryptography (~7 MB of RSS) is the operator's, for signing: never loaded on the device
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def signed_bytes(device: str, verb: str, body: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in body.items() if k != "sig"}
    return json.dumps(
        {"device": device, "verb": verb, "body": unsigned}, sort_keys=True, separators=(",", ":")
    ).encode()


def sign_command(
    private: Ed25519PrivateKey, device: str, verb: str, body: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """Return `body` with ts, nonce, key and sig added (the operator's side: `fleet send --sign-key`)."""
    out = dict(body)
    out["ts"] = round(time.time() if now is None else now, 3)
    out["nonce"] = secrets.token_hex(12)
    out["key"] = key_id(private.public_key())
    out["sig"] = base64.b64encode(private.sign(signed_bytes(device, verb, out))).decode()
    return out


class CommandVerifier:
    """Checks signatures against trusted keys; remembers nonces to refuse replays."""

    def __init__(
        self,
        trusted: Sequence[Ed25519Key],
        *,
        required: bool = True,
        max_skew_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = {key_id(k): k for k in trusted}
        self.required = required
        self.max_skew_s = max_skew_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, device: str, verb: str, body: dict[str, Any]) -> str | None:
        """Return the signing key id, None for an accepted unsigned command; raise CommandError otherwise."""
        if "sig" not in body:
            if self.required:
                raise CommandError("unauthorised", "this device only accepts signed commands")
            return None
        sig, kid, ts, nonce = body.get("sig"), body.get("key"), body.get("ts"), body.get("nonce")
        if not isinstance(sig, str) or not isinstance(nonce, str) or not nonce:
            raise CommandError("unauthorised", "a signed command needs string sig and nonce")
        if not isinstance(ts, (int, float)) or isinstance(ts, bool):
            raise CommandError("unauthorised", "a signed command needs a numeric ts")
        now = self._clock()
        if abs(now - ts) > self.max_skew_s:
            raise CommandError("unauthorised", f"timestamp {ts} is more than {self.max_skew_s:g}s from now")
        try:
            raw = base64.b64decode(sig, validate=True)
        except ValueError:
            raise CommandError("unauthorised", "sig is not base64") from None
        keys = [self.keys[kid]] if isinstance(kid, str) and kid in self.keys else list(self.keys.values())
        message = signed_bytes(device, verb, body)
        for key in keys:
            if signature_ok(key, raw, message):
                self._remember(nonce, now)
                return key_id(key)
        raise CommandError("unauthorised", "signature does not verify with any trusted key")

    def _remember(self, nonce: str, now: float) -> None:
        with self._lock:
            if nonce in self._seen:
                raise CommandError("unauthorised", "replayed nonce")
            self._seen[nonce] = now
            horizon = now - 2 * self.max_skew_s
            while self._seen and next(iter(self._seen.values())) < horizon:
                self._seen.popitem(last=False)
