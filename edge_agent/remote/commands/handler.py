"""Command parsing, validation, authorisation and dispatch: bytes in, one reply dict out, never a crash.

Every reply is `{"v":1, "ok":..., "device", "verb", "id"?, "result"? | "error", "reason"}`. Error codes:
bad_payload, unknown_verb, invalid_args, unauthorised, not_found, refused, failed. The MQTT glue
(edge_agent.remote.commands.mqtt) sends the reply to the request's response topic with its correlation data.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from edge_agent.errors import CommandError, EdgeAgentError
from edge_agent.remote.commands.control import AgentControl, UpdateService
from edge_agent.remote.commands.schema import ARGS, ENVELOPE_KEYS, MAX_PAYLOAD, MAX_SMALL_PAYLOAD, VERBS
from edge_agent.remote.commands.signing import CommandVerifier
from edge_agent.topics import command_topic

log = logging.getLogger(__name__)
REPLY_VERSION = 1
ERROR_CODES = (
    "bad_payload",
    "unknown_verb",
    "invalid_args",
    "unauthorised",
    "not_found",
    "refused",
    "failed",
)


@dataclass(slots=True)
class RequestMeta:
    """What the transport knows about a request (MQTT 5 properties, or the 3.1.1 envelope)."""

    response_topic: str | None = None
    correlation_data: bytes | None = None
    signed_by: str | None = None


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "<args>"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


class CommandHandler:
    """Turns `<prefix>/<device>/cmd/<verb>` messages into calls on an `AgentControl`."""

    def __init__(
        self,
        control: AgentControl,
        device_id: str,
        prefix: str = "edge",
        *,
        verifier: CommandVerifier | None = None,
        updates: UpdateService | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.control = control
        self.device = device_id
        self.prefix = prefix
        self.verifier = verifier
        self.updates = updates
        self._clock = clock

    @property
    def subscription(self) -> str:
        return command_topic(self.prefix, self.device, "+")

    def _reply(self, verb: str, ident: Any, **fields: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"v": REPLY_VERSION, "device": self.device, "verb": verb}
        if isinstance(ident, (str, int)) and not isinstance(ident, bool):
            out["id"] = ident
        out.update(fields)
        return out

    def error(self, verb: str, code: str, reason: str, ident: Any = None) -> dict[str, Any]:
        return self._reply(verb, ident, ok=False, error=code, reason=reason)

    def parse(self, verb: str, payload: bytes) -> dict[str, Any]:
        """The command object (possibly empty); raise CommandError('bad_payload', ...) when it is not one."""
        limit = MAX_PAYLOAD if verb == "upload" else MAX_SMALL_PAYLOAD
        if len(payload) > limit:
            raise CommandError("bad_payload", f"payload is {len(payload)} bytes, limit {limit}")
        if not payload.strip():
            return {}
        try:
            body = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError:
            raise CommandError("bad_payload", "payload is not UTF-8") from None
        except (ValueError, RecursionError) as exc:
            raise CommandError("bad_payload", f"payload is not JSON ({str(exc)[:80]})") from None
        if not isinstance(body, dict):
            raise CommandError("bad_payload", f"expected a JSON object, got {type(body).__name__}")
        return body

    def handle(self, verb: str, payload: bytes, meta: RequestMeta | None = None) -> dict[str, Any]:
        """Answer one command. Never raises: every failure becomes an error reply with a reason."""
        ident: Any = None
        try:
            body = self.parse(verb, payload)
            ident = body.get("id")
            if verb not in ARGS:
                raise CommandError("unknown_verb", f"unknown verb {verb[:64]!r}; known: {', '.join(VERBS)}")
            self._check_expiry(body)
            if self.verifier is not None:
                signer = self.verifier.check(self.device, verb, body)
                if meta is not None:
                    meta.signed_by = signer
            args_raw = {k: v for k, v in body.items() if k not in ENVELOPE_KEYS}
            try:
                args = ARGS[verb].model_validate(args_raw).model_dump()
            except ValidationError as exc:
                raise CommandError("invalid_args", _describe_validation(exc)) from None
            result = self._dispatch(verb, args)
            return self._reply(verb, ident, ok=True, result=result)
        except CommandError as exc:
            return self.error(verb, exc.code, exc.reason, ident)
        except KeyError as exc:
            return self.error(verb, "not_found", f"not found: {exc.args[0] if exc.args else ''}", ident)
        except (EdgeAgentError, ValueError) as exc:
            return self.error(verb, "failed", str(exc)[:500] or type(exc).__name__, ident)
        except Exception as exc:  # a bug in the agent must still be answered, not kill the network loop
            log.exception("command %s failed unexpectedly", verb)
            return self.error(verb, "failed", f"internal error: {type(exc).__name__}", ident)

    def _check_expiry(self, body: dict[str, Any]) -> None:
        """`expires_at` (Unix seconds, optional): a command delivered after it is refused, not run."""
        if "expires_at" not in body or body["expires_at"] is None:
            return
        raw = body["expires_at"]
        try:
            at = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else math.nan
        except OverflowError:  # an integer beyond any float
            at = math.nan
        if not math.isfinite(at):
            raise CommandError("invalid_args", "expires_at: expected Unix seconds (a finite number)")
        late = self._clock() - at
        if late >= 0:
            raise CommandError(
                "refused", f"expired: expires_at was {late:.4g} s ago, the command was not run"
            )

    def _pipeline(self, name: str) -> str:
        if name not in self.control.pipelines():
            raise CommandError("not_found", f"no pipeline named {name!r}")
        return name

    def _dispatch(self, verb: str, args: dict[str, Any]) -> dict[str, Any]:
        c = self.control
        if verb == "ping":
            return {"pong": True, "ts": round(self._clock(), 3)}
        if verb == "status":
            return c.status()
        if verb == "reload":
            c.reload()
            return {"reloaded": True}
        if verb == "set":
            return c.apply_config_patch(args["patch"])
        if verb in ("start", "stop"):
            name = self._pipeline(args["pipeline"])
            (c.start_pipeline if verb == "start" else c.stop_pipeline)(name)
            return {"pipeline": name, "running": verb == "start"}
        if verb == "snapshot":
            name = self._pipeline(args["pipeline"])
            jpeg = c.snapshot(name)
            if jpeg is None:
                raise CommandError("refused", f"pipeline {name!r} has not opted in to snapshots")
            return {
                "pipeline": name,
                "content_type": "image/jpeg",
                "data_b64": base64.b64encode(jpeg).decode(),
            }
        if self.updates is None:
            raise CommandError("refused", "model updates are not enabled on this device")
        if verb == "upload":
            try:
                data = base64.b64decode(args["data"], validate=True)
            except (binascii.Error, ValueError):
                raise CommandError("invalid_args", "data: not base64") from None
            return self.updates.receive_chunk(args["transfer"], args["index"], args["count"], data)
        # update-model
        name = self._pipeline(args["pipeline"])
        source = {k: v for k, v in args.items() if k != "pipeline" and v is not None}
        return {"accepted": True, "pipeline": name, "update_id": self.updates.start(name, source)}
