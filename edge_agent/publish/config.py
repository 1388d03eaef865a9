"""The publish domain's config blocks: the broker connection (`mqtt:`, with `tls:`) and what a pipeline
publishes (`publish:`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.strict import Strict
from edge_agent.topics import prefix_problem


class TLSConfig(Strict):
    ca_file: Path | None = Field(default=None, description="CA certificate (PEM) to verify the broker.")
    cert_file: Path | None = Field(default=None, description="Client certificate (PEM) for mTLS.")
    key_file: Path | None = Field(
        default=None, description="Client key (PEM) for mTLS; may be a file in $CREDENTIALS_DIRECTORY."
    )
    insecure: bool = Field(default=False, description="Skip host-name verification (tests only).")

    @model_validator(mode="after")
    def _pair(self) -> TLSConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together for mTLS: give both or neither")
        return self


class MqttConfig(Strict):
    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 is usual for TLS).")
    protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version.")

    @field_validator("protocol", mode="before")
    @classmethod
    def _proto_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    prefix: str = Field(
        default="edge",
        description="First topic level(s), before the device id: no +, #, NUL or control characters, "
        "no empty level, not starting with $.",
    )

    @field_validator("prefix")
    @classmethod
    def _topic_prefix(cls, v: str) -> str:
        problem = prefix_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    client_id: str | None = Field(default=None, description="Client id; defaults to edge-agent-<device id>.")
    username: str | None = Field(default=None, description="User name, if the broker requires one.")
    password_env: str = Field(
        default="EDGE_AGENT_MQTT_PASSWORD",
        description="Environment variable holding the password. The password is also read from "
        "$CREDENTIALS_DIRECTORY/mqtt-password (systemd LoadCredential). Never put it in this file.",
    )
    tls: TLSConfig | None = Field(default=None, description="TLS settings; absent means plain TCP.")
    keepalive: int = Field(default=30, ge=5, le=3600, description="Keep-alive in seconds.")
    max_inflight: int = Field(
        default=64, ge=1, le=65535, description="QoS 1 messages awaiting PUBACK at once."
    )
    reconnect_min_s: float = Field(default=1.0, gt=0, description="First reconnect delay, seconds.")
    reconnect_max_s: float = Field(default=60.0, gt=0, description="Longest reconnect delay, seconds.")
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description="MQTT 5 session expiry: the broker keeps the session this long across reconnects.",
    )

    @model_validator(mode="after")
    def _delays(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class PublishConfig(Strict):
    results: bool = Field(default=True, description="Publish one result per inference.")
    include_frame: bool = Field(
        default=False, description="Opt in to sending pixels (snapshots). Off: raw frames never leave."
    )
    include_input: bool = Field(
        default=False, description="Text pipelines: put the input text in each result. Off: it never leaves."
    )
