"""Training benchmark: per example task, training time on this CPU, held-out accuracy (or top-1
agreement with the teacher), parameters, size and latency of the fp32 / int8 / pruned / distilled
variants, in one table, and a plot in benchmarks/out/train.png.

Tasks, each run with the same code as its command:

- `distill` (`edge-export distill`): ImageNet MobileNetV2 restricted to the 5 classes it most often
  predicts on 240 crops of the scikit-image / scikit-learn photos, taught to a `cnn:24` student at
  96 px; held-out: 96 other crops of the same photos. Rows: teacher fp32, student fp32, student int8.
- `prune` (`edge-export prune`): the same restricted MobileNetV2 at 96 px, channel-pruned at 0, 25,
  50 and 75 % and fine-tuned to the unpruned model's outputs; one row per sparsity (fp32) and the
  bundle of the smallest variant within the agreement budget.
- every `edge-export train` modality that has example data (`exporters.train.cli.TRAINERS`, paired
  with `exporters.train.examples.EXAMPLES` by `EXAMPLE_FOR`): fp32 and int8 rows; a modality added
  later shows up by itself once its example is named there.

    .venv/bin/python benchmarks/train.py [--quick]     # needs scripts/install-test-models.sh

Latency: exporters.measure, one ORT thread, own process; the machine is shared, so compare rows of
one run, never a single figure across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "exporters"))

from export_images import CALIB_PHOTOS, HOLDOUT_PHOTOS, write_crops  # noqa: E402

from edge_agent.bundle.sign import write_keypair  # noqa: E402
from exporters.compress.distill import DistillOptions, distill  # noqa: E402
from exporters.compress.kd import FitSettings  # noqa: E402
from exporters.compress.prune import PruneOptions, prune  # noqa: E402
from exporters.train.images import default_weights  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
TEACHER = f"{ROOT / 'exporters' / 'models' / 'mobilenet_v2.py'}:mobilenet_v2"
PHOTOS = CALIB_PHOTOS + HOLDOUT_PHOTOS
# The trainers' modality -> the example data it trains on (exporters/train/examples).
EXAMPLE_FOR = {"images": "photos", "sensor": "vibration", "audio": "keywords", "keywords": "keywords"}


def _row(  # noqa: PLR0917 - one table row, its columns in order
    task: str, variant: str, train_s: float | None, metric: str, value: float, m: dict[str, Any]
) -> dict[str, Any]:
    return {
        "task": task,
        "variant": variant,
        "train_s": train_s,
        "metric": metric,
        "value": value,
        "params": m.get("params"),
        "kb": m["size_bytes"] / 1024,
        "p50_ms": m["p50_ms"],
    }


def distill_rows(work: Path, key: Path, fit: FitSettings, n: tuple[int, int]) -> list[dict[str, Any]]:
    res = distill(
        DistillOptions(
            teacher=TEACHER,
            teacher_weights=default_weights(),
            data=work / "train",
            holdout=work / "held",
            out=work / "student",
            fit=fit,
            key=key,
            max_drop=0.05,
        )
    )
    c, f = res.report["compare"], res.report["fit"]
    agree = "agreement"
    return [
        _row(
            "distill",
            "teacher fp32 (MobileNetV2, 224 px)",
            None,
            agree,
            c["teacher"]["top1_agreement_with_teacher"],
            c["teacher"],
        ),
        _row(
            "distill",
            "distilled fp32 (cnn:24, 96 px)",
            f["seconds"],
            agree,
            c["student_fp32"]["top1_agreement_with_teacher"],
            c["student_fp32"],
        ),
        _row(
            "distill",
            f"distilled {res.report['bundle']['quantization']}",
            f["seconds"],
            agree,
            c["student_bundle"]["top1_agreement_with_teacher"],
            c["student_bundle"],
        ),
    ]


def prune_rows(
    work: Path, key: Path, fit: FitSettings, sparsities: list[float]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    res = prune(
        PruneOptions(
            source=TEACHER,
            weights=default_weights(),
            data=work / "train",
            holdout=work / "held",
            out=work / "pruned",
            sparsities=sparsities,
            input_size=96,
            min_agreement=0.9,
            fit=fit,
            key=key,
            max_drop=0.05,
        )
    )
    curve = res.report["curve"]
    rows = [
        _row(
            "prune",
            f"pruned {int(r['sparsity'] * 100)} % fp32",
            r["fit_seconds"],
            "agreement",
            r["top1_agreement"],
            r,
        )
        for r in curve
    ]
    bench = res.build.report["benchmark"]
    mode = res.build.bundle.manifest.quantization.mode
    chosen = res.report["chosen"]
    rows.append(
        _row(
            "prune",
            f"pruned {int(chosen['sparsity'] * 100)} % {mode} (chosen)",
            None,
            "int8 vs fp32",
            res.build.report["gate"]["value"],
            {"params": chosen["params"], **bench.get(mode, bench["fp32"])},
        )
    )
    return rows, curve


def trainer_rows(work: Path, key: Path, epochs: int) -> list[dict[str, Any]]:
    from exporters.cli import main
    from exporters.train.cli import TRAINERS
    from exporters.train.examples import EXAMPLES
    from exporters.train.kws.cli import EXAMPLE as KWS_EXAMPLE  # the keyword trainer makes its own

    rows = []
    for modality in TRAINERS:
        example = EXAMPLE_FOR.get(modality)
        if example not in EXAMPLES and example != KWS_EXAMPLE:
            print(f"({modality}: no example data, skipped)")
            continue
        buf = io.StringIO()
        args = [
            "train",
            modality,
            "--example",
            example,
            "-o",
            str(work / modality),
            "--key",
            str(key),
            "--epochs",
            str(epochs),
            "--runs",
            "30",
            "--json",
        ]
        with contextlib.redirect_stdout(buf):
            code = main(args)
        if code != 0:
            print(f"({modality}: edge-export {' '.join(args)} exited {code})")
            continue
        rep = json.loads(buf.getvalue())
        t, bench, mode = rep["training"], rep["benchmark"], rep["quantization"]
        task = f"train {modality}"
        rows.append(_row(task, "fp32", t["seconds"], "accuracy", t["holdout_accuracy_fp32"], bench["fp32"]))
        if mode in bench:
            rows.append(_row(task, mode, t["seconds"], "accuracy", t["holdout_accuracy_bundle"], bench[mode]))
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'task':<14} {'variant':<38} {'train s':>7} {'metric':<12} {'value':>6} {'params':>9} "
        f"{'KB':>8} {'p50 ms':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        train = f"{r['train_s']:.0f}" if r["train_s"] is not None else "-"
        print(
            f"{r['task']:<14} {r['variant']:<38} {train:>7} {r['metric']:<12} {r['value']:>6.3f} "
            f"{r['params'] if r['params'] is not None else '-'!s:>9} {r['kb']:>8.1f} {r['p50_ms']:>7.3f}"
        )


def _plot(rows: list[dict[str, Any]], curve: list[dict[str, Any]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for r in rows:
        a.scatter(r["kb"], r["p50_ms"], s=30)
        a.annotate(f"{r['task']}: {r['variant']}", (r["kb"], r["p50_ms"]), fontsize=6)
    a.set(
        xscale="log",
        yscale="log",
        xlabel="model file, KB",
        ylabel="p50 latency, ms (1 thread)",
        title="variants",
    )
    s = [r["sparsity"] * 100 for r in curve]
    b.plot(s, [r["params"] / 1e6 for r in curve], "o-", label="parameters, M")
    b.plot(s, [r["p50_ms"] for r in curve], "s-", label="p50 ms")
    b.set(xlabel="channels pruned, %", title="pruning MobileNetV2 (5 classes, 96 px)")
    b2 = b.twinx()
    b2.plot(s, [r["top1_agreement"] for r in curve], "^--", color="k", label="agreement with unpruned")
    b2.set(ylim=(0, 1.05), ylabel="top-1 agreement")
    b.legend(loc="lower left", fontsize=7)
    b2.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "train.png", dpi=130)
    return OUT / "train.png"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a minute-scale smoke run: fewer crops and epochs")
    ap.add_argument("--skip-trainers", action="store_true", help="only distillation and pruning")
    args = ap.parse_args()
    n = (64, 32) if args.quick else (240, 96)
    fit = FitSettings(max_epochs=4 if args.quick else 30, budget_s=60 if args.quick else 300)
    prune_fit = FitSettings(max_epochs=2 if args.quick else 8, budget_s=30 if args.quick else 120, lr=1e-3)
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        work = Path(tmp)
        write_crops(work / "train", PHOTOS, n[0], seed=0)
        write_crops(work / "held", PHOTOS, n[1], seed=1)
        key, _ = write_keypair(work / "keys" / "bench")
        t0 = time.perf_counter()
        rows = distill_rows(work, key, fit, n)
        prows, curve = prune_rows(work, key, prune_fit, [0.0, 0.25, 0.5, 0.75])
        rows += prows
        if not args.skip_trainers:
            rows += trainer_rows(work, key, epochs=5 if args.quick else 30)
        total = time.perf_counter() - t0
    _print(rows)
    print(f"\n{len(rows)} rows in {total:.0f} s; plot: {_plot(rows, curve)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
