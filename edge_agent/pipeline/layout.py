"""How a pipeline's inference uses the cores: how many workers share its session, and how many intra-op
threads each run gets (docs/pipelines.md, "Thread layout").

The budget is the hardware profile's `inference_threads` (auto: every core this process may run on),
never more than those cores, split fairly across the agent's enabled pipelines. Within its share a
pipeline whose frames are independent runs several workers of one intra-op thread each (a small model
scales better over whole runs than inside one); a pipeline whose model keeps state from frame to frame
(vad), votes over members (ensemble, cascade) or is not an ONNX Runtime session (text) runs one worker
and gets its share as intra-op threads, and so does every pipeline on a `low_memory` profile (each
run in flight holds its own activations). One core always means one worker of one thread: what the
agent did before layouts existed. The config overrides either number (`model.workers`,
`model.intra_op_threads`); a number of workers a pipeline cannot use is cut to one, and logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from edge_agent.config.models import PipelineConfig
from edge_agent.hardware.profile import HardwareProfile
from edge_agent.stages.types import JSON

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Layout:
    """One pipeline's inference threads: `workers` runs in flight, each with `intra_op_threads`."""

    cores: int  # this pipeline's share of the inference budget
    workers: int
    intra_op_threads: int
    why: str

    def as_json(self) -> JSON:
        return {
            "cores": self.cores,
            "workers": self.workers,
            "intra_op_threads": self.intra_op_threads,
            "why": self.why,
        }

    def describe(self) -> str:
        return (
            f"{self.workers} worker(s) x {self.intra_op_threads} intra-op thread(s) "
            f"of {self.cores} core(s): {self.why}"
        )


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, so a container's or taskset's limit counts)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def inference_budget(profile: HardwareProfile | None, cores: int | None = None) -> int:
    """The cores inference may use: the profile's `inference_threads`, at most the usable cores."""
    have = cores if cores is not None else usable_cores()
    wanted = profile.inference_threads if profile is not None else "auto"
    return max(1, have if wanted == "auto" else min(wanted, have))


def shares(
    pipelines: Mapping[str, PipelineConfig], profile: HardwareProfile | None, cores: int | None = None
) -> dict[str, int]:
    """Each enabled pipeline's share of the budget: equal parts, the remainder one core each to the
    first by name; at least one core each (more pipelines than cores then share cores)."""
    budget = inference_budget(profile, cores)
    names = sorted(n for n, p in pipelines.items() if p.enabled)
    if not names:
        return {}
    base, extra = divmod(budget, len(names))
    return {n: max(1, base + (1 if i < extra else 0)) for i, n in enumerate(names)}


def serial_reason(cfg: PipelineConfig) -> str | None:
    """Why this pipeline's frames must go through the model one at a time, as far as the config says
    (a bundle's manifest can still say vad: `settle` then cuts the workers once the model is open)."""
    post = cfg.postprocess.kind if cfg.postprocess is not None else None
    if post == "vad":
        return "recurrent state (vad) feeds the next frame"
    if post == "text":
        return "text generation (onnxruntime-genai)"
    if cfg.ensemble is not None or cfg.cascade is not None:
        return "ensemble/cascade members"
    return None


def plan(cfg: PipelineConfig, share: int, low_memory: bool = False) -> Layout:
    """The layout of one pipeline within its share of cores, the config's numbers first. On a
    low-memory profile `auto` keeps one run in flight (each run holds its own activations) and gives
    it the share as intra-op threads; a number in the config still wins."""
    model = cfg.model
    serial = serial_reason(cfg)
    workers_set = model.workers != "auto"
    intra_set = model.intra_op_threads != "auto"
    why = serial or "frames are independent"
    if model.workers != "auto":
        workers = model.workers
        if workers > 1 and serial is not None:
            log.warning("model.workers: %d cut to 1: %s", workers, serial)
            workers = 1
    elif serial is not None or model.intra_op_threads == 0:  # 0: ORT sizes its own pool to the machine
        workers = 1
    elif low_memory:
        workers, why = 1, "low-memory profile: one run in flight"
    elif model.intra_op_threads == "auto":
        workers = share
    else:
        workers = max(1, share // max(model.intra_op_threads, 1))
    intra = model.intra_op_threads if model.intra_op_threads != "auto" else max(1, share // workers)
    if workers_set or intra_set:
        why = f"{why}; config sets " + ", ".join(
            k for k, on in (("workers", workers_set), ("intra_op_threads", intra_set)) if on
        )
    return Layout(share, workers, intra, why)


def settle(layout: Layout, parallel: bool, provider: str) -> Layout:
    """The layout once the model is open: several workers only where the built stages allow them
    (`Stages.parallel`) and the session runs on the CPU EP (an accelerator queues runs anyway)."""
    if layout.workers == 1:
        return layout
    if not parallel:
        return replace(layout, workers=1, why="the model side runs frames one at a time (state or votes)")
    if provider != "CPUExecutionProvider":
        return replace(layout, workers=1, why=f"runs on {provider}: one run at a time")
    return layout


def with_threads(cfg: PipelineConfig, layout: Layout) -> PipelineConfig:
    """The pipeline config its kind builds the stages from: intra-op threads as the layout says."""
    model = cfg.model.model_copy(update={"intra_op_threads": layout.intra_op_threads})
    return cfg.model_copy(update={"model": model})
