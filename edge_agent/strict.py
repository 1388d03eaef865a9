"""The pydantic base every config block builds on: unknown keys are errors, values are checked on
assignment too, inf/nan are refused.

A leaf module (imports nothing of the project): each domain owns its block in `<domain>/config.py`
on this base, and edge_agent.config composes them into the whole file.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base: unknown keys are errors, values are checked on assignment too."""

    # inf/nan are no setting's value: `stats_interval_s: .inf` would pass `ge=1` and never report.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Tagged(Protocol):
    """What a tagged union's members share: the `kind` they are told apart by (a pipeline's `source:`
    and `postprocess:` blocks; a kind registered in edge_agent.config.kinds may add members)."""

    @property
    def kind(self) -> str: ...
