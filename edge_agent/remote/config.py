"""Device-side settings for the fleet features: commands, model updates, Home Assistant, /metrics.

Plain pydantic models with `extra="forbid"` and no import from edge_agent.config, so AgentConfig can hold
them as its `fleet:` block without an import cycle.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CommandsConfig(_Strict):
    enabled: bool = Field(default=True, description="Answer commands on <prefix>/<device>/cmd/<verb>.")
    trusted_keys: list[Path] = Field(
        default_factory=list, description="ed25519 public keys (PEM or hex) allowed to sign commands."
    )
    require_signed: bool = Field(
        default=False, description="Refuse unsigned commands (for brokers whose ACLs are not enough)."
    )
    max_skew_s: float = Field(default=120.0, gt=0, description="Signed commands: allowed clock difference.")


class UpdatesConfig(_Strict):
    enabled: bool = Field(default=True, description="Accept update-model (needs trusted_keys on the model).")
    health_window_s: float = Field(default=30.0, ge=0, description="Watch the new model this long.")
    max_failures: int = Field(default=0, ge=0, description="Inference failures tolerated in the window.")
    latency_budget_ms: float | None = Field(
        default=None, gt=0, description="Canary p50 budget; None: 3x the bundle's measured p95, if any."
    )
    require_golden: bool = Field(default=True, description="Refuse bundles without golden canary cases.")


class HomeAssistantConfig(_Strict):
    enabled: bool = Field(default=False, description="Publish retained Home Assistant device discovery.")
    discovery_prefix: str = Field(default="homeassistant", pattern=r"^[^#+]+$")


class MetricsConfig(_Strict):
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve Prometheus /metrics on this port (metrics extra)."
    )
    host: str = Field(default="127.0.0.1", description="Address to bind /metrics to.")


class FleetDeviceConfig(_Strict):
    """The `fleet:` block of the agent config."""

    commands: CommandsConfig = Field(default_factory=CommandsConfig)
    updates: UpdatesConfig = Field(default_factory=UpdatesConfig)
    home_assistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
