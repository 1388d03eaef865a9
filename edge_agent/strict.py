"""The pydantic base every config block builds on: unknown keys are errors, values are checked on
assignment too, inf/nan are refused.

A leaf module (imports nothing of the project): each domain owns its block in `<domain>/config.py`
on this base, and edge_agent.config composes them into the whole file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base: unknown keys are errors, values are checked on assignment too."""

    # inf/nan are no setting's value: `stats_interval_s: .inf` would pass `ge=1` and never report.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def auto_or_int(lo: int, hi: int) -> Callable[[object], object]:
    """Before-validator of a setting that takes "auto" or a whole number in [lo, hi] (threads,
    workers): one clear message instead of one per member of the `int | "auto"` union."""

    def check(value: object) -> object:
        if value == "auto":
            return value
        try:
            number = int(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not lo <= number <= hi:
            raise ValueError(f"expected 'auto' or a valid integer from {lo} to {hi}")
        return number

    return check


class Tagged(Protocol):
    """What a tagged union's members share: the `kind` they are told apart by (a pipeline's `source:`
    and `postprocess:` blocks; a kind registered in edge_agent.config.kinds may add members)."""

    @property
    def kind(self) -> str: ...
