"""Command verbs and their arguments: pydantic models with `extra="forbid"`, so every malformed command
gets a precise reason. Reserved envelope keys (id, reply_to, expires_at, ts, nonce, key, sig) sit beside
the args.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.topics import NAME_RE

# Keys that belong to the envelope, not to a verb's arguments.
ENVELOPE_KEYS = frozenset({"id", "reply_to", "expires_at", "ts", "nonce", "key", "sig"})
MAX_PAYLOAD = 1 << 20  # bytes; an upload chunk is the largest legitimate command
MAX_SMALL_PAYLOAD = 64 * 1024


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoArgs(_Args):
    pass


class SetArgs(_Args):
    patch: dict[str, Any] = Field(min_length=1, description="JSON merge patch (RFC 7396) of the config.")


class PipelineArgs(_Args):
    pipeline: str = Field(pattern=NAME_RE)


class UpdateArgs(_Args):
    pipeline: str = Field(pattern=NAME_RE)
    url: str | None = Field(default=None, max_length=2048, description="http(s):// or file:// bundle archive")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    transfer: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    health_window_s: float | None = Field(default=None, ge=0, le=3600)
    latency_budget_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> UpdateArgs:
        if (self.url is None) == (self.transfer is None):
            raise ValueError("give exactly one of url (with sha256) or transfer (chunks sent before)")
        if self.url is not None and self.sha256 is None:
            raise ValueError("url needs sha256")
        if self.url is not None and not self.url.startswith(("http://", "https://", "file://")):
            raise ValueError("url must be http://, https:// or file://")
        return self


class UploadArgs(_Args):
    transfer: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    index: int = Field(ge=0, le=100_000)
    count: int = Field(ge=1, le=100_000)
    data: str = Field(description="base64 of this chunk")

    @model_validator(mode="after")
    def _in_range(self) -> UploadArgs:
        if self.index >= self.count:
            raise ValueError(f"index {self.index} is not below count {self.count}")
        return self


ARGS: dict[str, type[_Args]] = {
    "ping": NoArgs,
    "status": NoArgs,
    "reload": NoArgs,
    "set": SetArgs,
    "start": PipelineArgs,
    "stop": PipelineArgs,
    "snapshot": PipelineArgs,
    "update-model": UpdateArgs,
    "upload": UploadArgs,
}
VERBS = tuple(ARGS)
