"""Config model for the motion gate (`gate:` in a video pipeline)."""

from __future__ import annotations

from pydantic import Field, field_validator

from edge_agent.strict import Strict


class MotionGateConfig(Strict):
    """Frame differencing on a small blurred grey copy; the model runs only on change or keyframes."""

    kind: str = Field(default="motion", pattern="^motion$", description="Gate kind (only motion).")
    width: int = Field(
        default=160, ge=16, le=1920, description="Frames are downscaled to this width before comparing."
    )
    blur: int = Field(default=5, ge=1, le=31, description="Gaussian blur kernel (odd), against sensor noise.")
    threshold: int = Field(
        default=25, ge=1, le=255, description="Grey-level difference that marks a pixel as changed."
    )
    min_area: float = Field(
        default=0.002,
        gt=0,
        le=1,
        description="Smallest changed region (share of the frame) that counts as motion.",
    )
    background_alpha: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Background update rate: 0 compares with the previous frame only; higher follows "
        "slow light changes faster.",
    )
    hold_s: float = Field(
        default=0.5,
        ge=0,
        description="Keep inferring this long after motion stops, so a tracker sees an object gone "
        "(at least its max_missed frames at the camera's frame rate).",
    )
    keyframe_interval_s: float | None = Field(
        default=10.0, gt=0, description="Infer at least this often even when nothing moves; None: never."
    )

    @field_validator("blur")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"blur must be odd, got {v}")
        return v
