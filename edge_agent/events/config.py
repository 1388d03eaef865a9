"""Config models for event logic: thresholds with hysteresis, change-only, tracking, zones, rate limits.

Every pipeline may carry an `events:` block; each section is optional and they combine. The threshold
section's model (ThresholdConfig) is the bundle's (edge_agent.bundle.settings): a vad or anomaly
postprocess implies one.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from edge_agent.bundle.settings import ThresholdConfig
from edge_agent.strict import Strict


class ChangeConfig(Strict):
    """Change-only publishing: one `changed` event when a value (e.g. the top label) changes."""

    key: str = Field(min_length=1, description="Dotted path to the watched value, e.g. top.0.label.")
    min_stable_s: float = Field(
        default=0.0, ge=0, description="A new value must hold this long before it counts (debounce)."
    )


class TrackerConfig(Strict):
    """IoU tracker over detections: an object in view is one appeared/left pair, not one event per frame."""

    iou: float = Field(default=0.3, gt=0, le=1, description="Least IoU to match a box to a track.")
    min_hits: int = Field(
        default=2, ge=1, description="Frames a new object must be matched in before `appeared`."
    )
    max_missed: int = Field(
        default=5, ge=1, description="Inferred frames an object may be unseen before `left`."
    )
    min_score: float = Field(default=0.0, ge=0, le=1, description="Ignore detections scoring below this.")
    labels: list[str] | None = Field(default=None, description="Track only these labels; None: all.")


class ZoneConfig(Strict):
    """A polygon in normalised frame coordinates (0..1, x right, y down)."""

    name: str = Field(min_length=1, description="Zone name used in events.")
    polygon: list[tuple[float, float]] = Field(
        min_length=3, description="Vertices [[x, y], ...] in 0..1 of the frame, in order."
    )
    labels: list[str] | None = Field(default=None, description="Count only these labels; None: all.")
    anchor: str = Field(
        default="bottom",
        pattern="^(bottom|center)$",
        description="Point of a box tested against the zone: bottom (feet) or center.",
    )

    @field_validator("polygon")
    @classmethod
    def _unit(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for x, y in v:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"vertices are normalised 0..1, got ({x}, {y})")
        return v


class RateLimitConfig(Strict):
    """Token bucket on opening events (start, appeared, changed...); a suppressed opening's closing
    event is suppressed too, so pairs stay whole."""

    max_events: int = Field(default=10, ge=1, description="Burst size: events allowed at once.")
    per_s: float = Field(default=60.0, gt=0, description="...refilled over this many seconds.")


class EventsConfig(Strict):
    """The `events:` block of a pipeline. Sections combine; all are optional."""

    threshold: ThresholdConfig | None = Field(default=None, description="Start/end on a number.")
    change: ChangeConfig | None = Field(default=None, description="Publish only when a value changes.")
    track: TrackerConfig | None = Field(
        default=None, description="Detections: appeared/left per object (and zone entries if zones)."
    )
    zones: list[ZoneConfig] = Field(
        default_factory=list, description="Detections: zones for entered/exited events and counts."
    )
    counts: bool = Field(
        default=False, description="Detections: a `count` event when per-label counts (per zone) change."
    )
    rate_limit: RateLimitConfig | None = Field(default=None, description="Cap on events published.")

    @model_validator(mode="after")
    def _zones_need_tracks(self) -> EventsConfig:
        if self.zones and self.track is None:
            raise ValueError("zones need `track:` (zone entry is per tracked object)")
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError(f"zone names must be unique, got {names}")
        return self
