"""The SLM ladder: build a rung, gate it against the source model, climb (int4 → int8 → fp32) until
one meets the budget (runs in .venv-slm; exporters.slm.export calls it).

One process loads the source model once and compares every rung with the same reference side, so
a climb costs one build and one candidate pass per rung. Every rung tried is recorded with its
figures and why it missed; a built folder is reused when its stamp (source, max_length, EP)
matches, so a second export from the same work folder does not rebuild.

Usage: python -m exporters.slm.ladder --reference HF_DIR --work DIR --rungs int4,int8,fp32
       --max-length 512 --stamp TEXT --out RESULT.json [--min-top1 X] [--max-kl X]
       [--min-accuracy X] [--max-accuracy-drop X] [gate inputs: see exporters.slm.gate]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, cast

from exporters.errors import ExportError
from exporters.slm.builder import Precision, build_cached, folder_size
from exporters.slm.gate import Candidate, ReferenceSide, add_eval_arguments, compare, prepare
from exporters.slm.gguf import REFUSED


def misses(result: dict[str, Any], budget: dict[str, float | None]) -> list[str]:
    """Why a rung's gate result misses the budget (empty: it passes)."""
    out = []
    if budget["min_top1"] is not None and result["top1"] < budget["min_top1"]:
        out.append(f"top-1 agreement {result['top1']:.4f} < {budget['min_top1']}")
    if budget["max_kl"] is not None and result["kl"] > budget["max_kl"]:
        out.append(f"mean KL {result['kl']:.4f} > {budget['max_kl']}")
    task = result.get("task")
    if budget["min_accuracy"] is not None and task is not None and task["accuracy"] < budget["min_accuracy"]:
        out.append(f"task accuracy {task['accuracy']:.4f} < {budget['min_accuracy']}")
    drop = budget["max_accuracy_drop"]
    if drop is not None and task is not None and task["reference_accuracy"] - task["accuracy"] > drop + 1e-9:
        out.append(
            f"task accuracy {task['accuracy']:.4f} is {task['reference_accuracy'] - task['accuracy']:.4f} "
            f"below the source model's {task['reference_accuracy']:.4f} (max drop {drop})"
        )
    return out


def climb(
    side: ReferenceSide,
    hf_dir: Path,
    rungs: list[str],
    work: Path,
    *,
    max_length: int,
    stamp: str,
    budget: dict[str, float | None],
) -> dict[str, Any]:
    """Try each rung in order until one passes; the record of every rung tried and the one chosen."""
    tried: list[dict[str, Any]] = []
    for precision in rungs:
        t0 = time.perf_counter()
        folder = build_cached(hf_dir, work, cast(Precision, precision), max_length, stamp=stamp)
        t1 = time.perf_counter()
        result = compare(Candidate(folder, threads=1), side)
        why = misses(result, budget)
        tried.append(
            {
                "rung": precision,
                **result,
                "size_bytes": folder_size(folder),
                "passed": not why,
                "missed": why,
                "build_s": round(t1 - t0, 2),
                "gate_s": round(time.perf_counter() - t1, 2),
            }
        )
        print(json.dumps(tried[-1]), flush=True)
        if not why:
            return {"rungs": tried, "chosen": precision, "folder": str(folder), "budget": budget}
    return {"rungs": tried, "chosen": None, "folder": None, "budget": budget}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exporters.slm.ladder")
    add_eval_arguments(p)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--rungs", required=True, help="comma-separated precisions, in climbing order")
    p.add_argument("--max-length", type=int, required=True)
    p.add_argument("--stamp", required=True, help="what identifies the source (reuse a build only if equal)")
    p.add_argument("--min-top1", type=float)
    p.add_argument("--max-kl", type=float)
    p.add_argument("--min-accuracy", type=float)
    p.add_argument("--max-accuracy-drop", type=float)
    args = p.parse_args(argv)
    budget: dict[str, float | None] = {
        "min_top1": args.min_top1,
        "max_kl": args.max_kl,
        "min_accuracy": args.min_accuracy,
        "max_accuracy_drop": args.max_accuracy_drop,
    }
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        side = prepare(args)
        reference_s = round(time.perf_counter() - t0, 2)
        result = climb(
            side,
            args.reference,
            args.rungs.split(","),
            args.work,
            max_length=args.max_length,
            stamp=args.stamp,
            budget=budget,
        )
    except (ValueError, ExportError) as exc:
        print(f"{REFUSED} {exc}".replace("\n", " | "), flush=True)
        return 3
    result["reference_s"] = reference_s
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
