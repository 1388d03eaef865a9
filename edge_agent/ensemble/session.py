"""Builds a pipeline's ensemble or cascade from config around its already-open main model."""

from __future__ import annotations

from edge_agent.ensemble.config import CascadeConfig, EnsembleConfig, MemberConfig
from edge_agent.ensemble.models import Cascade, Ensemble, Member, RunFn
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.inference.session import open_model
from edge_agent.inference.stopper import RunStopper


def _member(cfg: MemberConfig, profile: HardwareProfile | None, stopper: RunStopper | None) -> Member:
    model = open_model(cfg.model, profile)
    if stopper is not None:  # the pipeline's stop cancels the member's in-flight run too
        model.stopper = stopper
    return Member(model.run, weight=cfg.weight, output=cfg.output, name=model.model_id)


def build_combination(
    main: RunFn,
    main_id: str,
    ensemble: EnsembleConfig | None,
    cascade: CascadeConfig | None,
    profile: HardwareProfile | None = None,
    *,
    stopper: RunStopper | None = None,
) -> Ensemble | Cascade | None:
    """The ensemble or cascade whose first / small member is the pipeline's model; None if neither.

    `stopper`: the pipeline's RunStopper, shared by the members so a stop cancels whichever runs."""
    if ensemble is not None:
        first = Member(main, weight=ensemble.weight, output=ensemble.output, name=main_id)
        return Ensemble([first, *(_member(m, profile, stopper) for m in ensemble.members)], ensemble.voting)
    if cascade is not None:
        small = Member(main, output=cascade.output, name=main_id)
        return Cascade(small, _member(cascade.large, profile, stopper), cascade.band)
    return None
