"""The canary: run a new bundle's golden inputs on this device, on the EP chain the pipeline will use,
compare with the golden outputs (the manifest's atol/rtol), and check latency against a budget.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge_agent.bundle.verify import Bundle
from edge_agent.errors import UpdateError
from edge_agent.inference.session import ModelSession


@dataclass(slots=True)
class CanaryReport:
    cases: int
    max_abs_err: float
    latency_ms_p50: float
    budget_ms: float | None
    provider: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load_npz(bundle: Bundle, rel: str) -> dict[str, np.ndarray[Any, Any]]:
    try:
        with np.load(bundle.root / rel, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise UpdateError("canary", f"cannot read golden file {rel}: {exc}") from exc


def budget_from(bundle: Bundle, explicit_ms: float | None, factor: float) -> float | None:
    """An explicit budget wins; else the manifest's measured p95 times `factor` (the device may be slower)."""
    if explicit_ms is not None:
        return explicit_ms
    report = bundle.manifest.report
    for key in ("latency_budget_ms", "latency_ms_p95", "p95_ms"):
        value = report.get(key)
        if isinstance(value, (int, float)) and value > 0:
            return float(value) * (1.0 if key == "latency_budget_ms" else factor)
    return None


def run_canary(
    model: ModelSession,
    bundle: Bundle,
    *,
    latency_budget_ms: float | None = None,
    budget_factor: float = 3.0,
    timing_runs: int = 10,
    require_golden: bool = True,
) -> CanaryReport:
    """Raise UpdateError('canary', reason) when an output or the latency is off; else return the report."""
    cases = bundle.manifest.golden
    if not cases and require_golden:
        raise UpdateError("canary", "the bundle has no golden cases; this device requires a canary")
    input_names = [i.name for i in model.session.get_inputs()]
    output_names = [o.name for o in model.session.get_outputs()]
    worst = 0.0
    first_feeds: dict[str, np.ndarray[Any, Any]] | None = None
    for n, case in enumerate(cases):
        feeds = _load_npz(bundle, case.inputs)
        missing = [name for name in input_names if name not in feeds]
        if missing:
            raise UpdateError("canary", f"golden case {n}: inputs lack {missing}")
        first_feeds = first_feeds or feeds
        got = model.run({k: feeds[k] for k in input_names})
        expected = _load_npz(bundle, case.outputs)
        for i, name in enumerate(output_names):
            want = expected.get(name, expected.get(f"output_{i}"))
            if want is None:
                continue
            out = np.asarray(got[i])
            if out.shape != want.shape:
                raise UpdateError(
                    "canary", f"golden case {n}: output {name} shape {out.shape} != {want.shape}"
                )
            err = float(np.max(np.abs(out.astype(np.float64) - want.astype(np.float64)))) if out.size else 0.0
            worst = max(worst, err)
            if not np.allclose(out, want, atol=case.atol, rtol=case.rtol):
                raise UpdateError(
                    "canary",
                    f"golden case {n}: output {name} differs (max abs error {err:.3g}, atol {case.atol}, "
                    f"rtol {case.rtol})",
                )
    budget = budget_from(bundle, latency_budget_ms, budget_factor)
    times: list[float] = []
    if first_feeds is not None:
        feeds = {k: first_feeds[k] for k in input_names}
        model.run(feeds)  # warm-up: first run allocates
        for _ in range(timing_runs):
            t0 = time.perf_counter()
            model.run(feeds)
            times.append((time.perf_counter() - t0) * 1000)
    p50 = statistics.median(times) if times else 0.0
    if budget is not None and p50 > budget:
        raise UpdateError("canary", f"latency p50 {p50:.2f} ms exceeds the budget of {budget:.2f} ms")
    return CanaryReport(len(cases), worst, round(p50, 3), budget, model.providers[0])
