"""What a fine-tuning step costs on the CPU (docs/slm.md, "Fine-tuning"): CPU seconds per step of 8
log-triage lines (label-only loss, top 8 layers, AdamW, 1 thread) with the task's input rewrite off
and on, and with the shared prompt prefix off and on, and the tokens each step runs. One run, every
figure from it; CPU seconds (the process's own), so other jobs on the machine inflate them less
than wall seconds.

    .venv/bin/python benchmarks/finetune_step.py [--steps 5]

The timing runs in .venv-slm (torch, transformers 5, as `edge-export finetune` does); this script
prints the table and saves benchmarks/out/finetune_step.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "out"
SLM_PYTHON = ROOT / ".venv-slm" / "bin" / "python"
CONFIGS = ((False, False), (True, False), (False, True), (True, True))  # (rewrite, shared prefix)


def worker(steps: int) -> list[dict[str, Any]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from exporters.slm.finetune import _batch, answer_loss, freeze_below, prepared, resolve_base
    from exporters.slm.finetune_data import Encoder, examples
    from exporters.slm.tasks import logtriage

    torch.set_num_threads(1)
    torch.manual_seed(0)
    base = resolve_base("shipped", OUT / "finetune-step-hf")
    tok: Any = AutoTokenizer.from_pretrained(base)
    model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    freeze_below(model, 8)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    exs = examples(logtriage.split(0, 8 * (steps + 1), 8, n_breadth=8 * (steps + 1)).train, "severity")
    rows = []
    for rewrite, share in CONFIGS:
        spec = logtriage.prompt_spec()
        if not rewrite:
            spec["input_rewrite"] = []
        enc = Encoder(tok, spec, 96)
        pairs, prefix = prepared(enc, exs, argparse.Namespace(loss="label", share_prefix=share))
        k = 0 if prefix is None else int(prefix.shape[1])
        tokens, cpu = 0, 0.0
        for i in [steps, *range(steps)]:  # the first a warm-up, on lines the timed steps do not use
            chunk = pairs[i * 8 : (i + 1) * 8]
            c0 = time.process_time()
            loss = answer_loss(model, _batch(chunk, enc.eos, 1.0), prefix)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if i != steps:
                cpu += (time.process_time() - c0) / steps
                tokens += k + sum(len(p[0]) for p in chunk)
        rows.append({"rewrite": rewrite, "shared_prefix": share, "cpu_s": cpu, "tokens": tokens / steps})
    return rows


def plot(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(exist_ok=True)
    names = [f"rewrite {'on' if r['rewrite'] else 'off'}\n"
             f"prefix {'shared' if r['shared_prefix'] else 'whole'}" for r in rows]  # fmt: skip
    f, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(names, [r["cpu_s"] for r in rows], color=["#888", "#5b9", "#5b9", "#2a7"])
    ax.set_ylabel("CPU s per step of 8 lines")
    ax.set_title("SmolLM2-135M fine-tuning step, top 8 layers, 1 thread")
    f.tight_layout()
    f.savefig(OUT / "finetune_step.png", dpi=100)
    print(f"\nplot: {OUT / 'finetune_step.png'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per configuration (default 5)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.steps)))
        return
    if not SLM_PYTHON.is_file():
        raise SystemExit(f"{SLM_PYTHON} is missing: run scripts/slm-venv.sh")
    load0 = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(SLM_PYTHON), __file__, "--worker", "--steps", str(args.steps)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"worker failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    rows: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    first = rows[0]["cpu_s"]
    load1 = os.getloadavg()[0]
    print(f"load average {load0:.2f} before / {load1:.2f} after (1 min); {args.steps} steps each")
    head = f"| {'input rewrite':<13} | {'prompt prefix':<13} | {'tokens/step':>11} | {'CPU s/step':>10} |"
    print(head + " speed-up |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {'on' if r['rewrite'] else 'off':<13} | {'shared' if r['shared_prefix'] else 'whole':<13} "
            f"| {r['tokens']:11.0f} | {r['cpu_s']:10.2f} | {first / r['cpu_s']:.2f}x |"
        )
    plot(rows)


if __name__ == "__main__":
    sys.exit(main())
