"""The classification gate's metric: top-1 agreement, and where the flips fall."""

from __future__ import annotations

import numpy as np

from exporters.metrics import NEAR_TIE, compare


def _outs(rows: np.ndarray) -> list[dict[str, np.ndarray]]:
    return [{"logits": r.reshape(1, -1).astype(np.float32)} for r in rows]


def test_flips_on_fp32_near_ties_are_counted_apart() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 3, (40, 10))
    ref[:, 0] += 20  # class 0 wins clearly ...
    ref[:4, 1] = ref[:4, 0] - NEAR_TIE * ref.std() / 4  # ... except four near-ties with class 1
    cand = ref.copy()
    cand[:3, 1] = cand[:3, 0] + 0.01  # three near-ties flip
    cand[10, 2] = cand[10, 0] + 1.0  # and one decisive sample flips
    m = compare("classification", _outs(ref), _outs(cand))
    assert m["metric"] == "top1_agreement"
    assert m["value"] == 36 / 40
    assert (m["flips"], m["near_ties"], m["flips_at_near_ties"]) == (4, 4, 3)
    assert m["decisive_agreement"] == 35 / 36
    assert m["top5_containment"] == 1.0


def test_identical_outputs_agree_fully() -> None:
    ref = np.random.default_rng(1).normal(size=(8, 5))
    m = compare("classification", _outs(ref), _outs(ref))
    assert (m["value"], m["flips"], m["flips_at_near_ties"], m["decisive_agreement"]) == (1.0, 0, 0, 1.0)
