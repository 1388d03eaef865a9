"""The classification gate's metric: top-1 agreement, and where the flips fall; the 8-bit input grid."""

from __future__ import annotations

import numpy as np

from exporters.metrics import NEAR_TIE, compare, round_inputs


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


def test_round_inputs_puts_float_inputs_on_the_calibrated_8bit_grid() -> None:
    rng = np.random.default_rng(1)
    calib = [
        {"x": rng.uniform(-2.0, 3.0, (1, 3, 8, 8)).astype(np.float32), "ids": np.arange(4)} for _ in range(4)
    ]
    lo = min(float(f["x"].min()) for f in calib)
    hi = max(float(f["x"].max()) for f in calib)
    step = (hi - lo) / 255
    held = [{"x": rng.uniform(-2.5, 3.5, (1, 3, 8, 8)).astype(np.float32), "ids": np.arange(4) + 7}]
    (out,) = round_inputs(held, calib)
    x, r = held[0]["x"], out["x"]
    assert r.dtype == np.float32
    np.testing.assert_array_equal(out["ids"], held[0]["ids"])  # integer inputs are left alone
    inside = (x >= lo) & (x <= hi)
    assert np.abs(r - x)[inside].max() <= step / 2 + 1e-6  # rounded to the nearest of 256 levels
    assert np.unique(np.round((r - lo) / step, 3)).size <= 256
    assert r.max() <= hi + step / 2  # values beyond the calibrated range clip, as a QuantizeLinear does
    assert r.min() >= lo - step / 2
    assert (r[x > hi] < x[x > hi]).all()


def test_round_inputs_is_exact_for_pixels_already_on_the_grid() -> None:
    pixels = [{"x": np.arange(256, dtype=np.float32).reshape(1, 1, 16, 16)}]
    (out,) = round_inputs(pixels, pixels)
    np.testing.assert_array_equal(out["x"], pixels[0]["x"])
