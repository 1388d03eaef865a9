"""Config model for CPU/energy accounting (`accounting:` in a pipeline)."""

from __future__ import annotations

from pydantic import Field

from edge_agent.strict import Strict


class AccountingConfig(Strict):
    """Per-stage CPU time of the worker thread, and joules per result estimated from it."""

    enabled: bool = Field(default=True, description="Measure CPU time per stage (costs ~1 us per stage).")
    watts_per_busy_core: float | None = Field(
        default=None,
        gt=0,
        description="Power of one fully busy core above idle, W; None: the hardware profile's value.",
    )
