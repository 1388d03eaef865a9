"""Fine-tune a small causal LM for one task on the CPU, and hand the merged model to `build`
(`edge-export finetune`, docs/slm.md, "Fine-tuning"). Runs in .venv-slm (torch, transformers 5, peft).

Full fine-tuning or LoRA (peft, merged into the weights before saving), AdamW with a short warm-up
and a linear decay, a step budget and a time budget (whichever ends first; the decay is re-aimed at
the steps the time budget allows once the first steps are timed), optionally early stopping on
whole training families held out as validation (the best validated weights are the ones saved). The
loss is taken on the answer only (`--loss answer`, the label weighted) or on the label's tokens alone
(`--loss label`); `--task logtriage --breadth N` adds compositional training families. Before and
after training it measures the held-out label accuracy exactly as the text pipeline's `classify`
scores (exporters.slm.label_scoring), and writes to OUT:

- the merged Hugging Face folder (config, safetensors, the tokenizer with its chat template),
- prompt_spec.json: the PromptSpec (edge_agent.bundle.manifest) for `build`,
- finetune_report.json: the figures, the settings and the training's wall and CPU time,
- heldout_scores.jsonl: each held-out line with its gold label and the tuned model's probability of
  every label (what benchmarks/slm_vote.py combines across models).

Usage (in .venv-slm): python -m exporters.slm.finetune --base GGUF|HF_DIR|shipped --task logtriage
--out DIR [--steps N] [--time-budget-s S] [--lora] ...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from edge_agent.bundle import rewrite
from exporters.errors import UsageError
from exporters.slm.finetune_data import (
    Encoder,
    Example,
    examples,
    holdout,
    prompt_for,
    read_jsonl,
    validation_split,
)
from exporters.slm.label_scoring import Accuracy, score

PROMPT_SPEC = "prompt_spec.json"
REPORT = "finetune_report.json"
SCORES = "heldout_scores.jsonl"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """The finetune options; `edge-export finetune` takes them as a parent parser."""
    p = argparse.ArgumentParser(
        prog="edge-export finetune", description=__doc__.split("\n\n")[0], add_help=add_help
    )
    p.add_argument("--base", required=True, help="GGUF file, Hugging Face causal-LM folder, or 'shipped'")
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--train", type=Path, help="JSONL of {input, output} rows")
    data.add_argument("--task", choices=["logtriage"], help="a built-in task with generated data")
    p.add_argument("--eval", type=Path, help="held-out JSONL (default: held-out families or a tenth)")
    p.add_argument("--out", type=Path, required=True, help="folder for the tuned model")
    p.add_argument("--steps", type=int, default=150, help="optimizer steps at most (default 150)")
    p.add_argument("--time-budget-s", type=float, help="stop training after this many seconds")
    p.add_argument(
        "--budget-clock", choices=["wall", "cpu"], default="wall",
        help="what --time-budget-s counts: wall seconds, or CPU seconds of this process (a shared CPU)",
    )  # fmt: skip
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (peft), merged at the end")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--top-layers", type=int, default=8, help="train the top N decoder layers (0: all)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-4 full, 1e-3 LoRA)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument(
        "--autocast", choices=["auto", "bf16", "off"], default="off",
        help="bfloat16 autocast of the training passes (auto: where the CPU has AVX512-BF16 or AMX)",
    )  # fmt: skip
    p.add_argument("--label-weight", type=float, default=4.0, help="loss weight of the label's tokens")
    p.add_argument(
        "--loss", choices=["answer", "label"], default="answer",
        help="answer: the whole answer, the label weighted; label: the label's tokens only (classify)",
    )  # fmt: skip
    p.add_argument(
        "--breadth", type=int, default=0,
        help="--task logtriage: add this many lines from the compositional training families",
    )  # fmt: skip
    p.add_argument(
        "--retag", type=float, default=0.0,
        help="--task logtriage: give this share of the task's training lines another program's tag",
    )  # fmt: skip
    p.add_argument(
        "--level-markers", type=float, default=0.0,
        help="--task logtriage: a level marker (INFO, W!, [error], ...) before this share of breadth lines",
    )  # fmt: skip
    p.add_argument(
        "--rewrite", nargs=2, action="append", default=[], metavar=("PATTERN", "REPLACEMENT"),
        help="one more input_rewrite rule (re.sub) after the prompt's own: training, scoring, the bundle",
    )  # fmt: skip
    p.add_argument(
        "--no-share-prefix", dest="share_prefix", action="store_false",
        help="run every example's whole prompt (default: the prompt before the input runs once a batch)",
    )  # fmt: skip
    p.add_argument("--max-input-tokens", type=int, default=96, help="longer inputs are cut (default 96)")
    p.add_argument("--seed", type=int, default=0, help="the split's and the data order's seed (default 0)")
    p.add_argument(
        "--order-seed", type=int,
        help="the training order's seed instead of --seed (models of one split that differ, e.g. to vote)",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--n-train", type=int, default=1200, help="--task: generated training lines")
    p.add_argument("--n-heldout", type=int, default=300, help="--task: generated held-out lines")
    p.add_argument("--eval-limit", type=int, help="score at most this many held-out rows")
    p.add_argument("--train-eval", type=int, default=0, help="also score this many training rows")
    p.add_argument(
        "--val-families", type=int, default=0,
        help="early stopping: hold this many training families per label out as validation (0: off)",
    )  # fmt: skip
    p.add_argument("--val-lines", type=int, default=48, help="validation lines scored (default 48)")
    p.add_argument("--eval-every", type=int, default=10, help="validate every N steps (default 10)")
    p.add_argument("--patience", type=int, default=0, help="stop after N validations without gain (0: off)")
    p.add_argument("--system", help="the system prompt (--task: instead of the task's)")
    p.add_argument("--template", default="{input}", help="--train: the user turn, with {input}")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


Data = tuple[list[Example], list[Example], list[Example], dict[str, Any], dict[str, Any]]


def load_data(args: argparse.Namespace) -> Data:
    """(train, validation, held-out, PromptSpec fields, what the data was) from --task or
    --train/--eval; validation (--val-families) is whole training families, never held-out ones."""
    if args.task == "logtriage":
        from exporters.slm.tasks import logtriage

        sp = logtriage.split(
            args.seed, args.n_train, args.n_heldout, n_breadth=args.breadth,
            retag=args.retag, markers=args.level_markers,
        )  # fmt: skip
        prompt = logtriage.prompt_spec()
        if args.system is not None:
            prompt["system"] = args.system
        train_rows, held_rows = sp.train, sp.heldout
        about: dict[str, Any] = {
            "task": "logtriage",
            "train_families": sp.train_families,
            "heldout_families": sp.heldout_families,
            "breadth_lines": sp.breadth,
            "retag": args.retag,
            "level_markers": args.level_markers,
        }
    else:
        rows = read_jsonl(args.train)
        train_rows, held_rows = (rows, read_jsonl(args.eval)) if args.eval else holdout(rows, args.seed)
        prompt = prompt_for(train_rows, args.system, args.template)
        about = {"train_file": str(args.train), "eval_file": str(args.eval) if args.eval else None}
    if args.rewrite:
        about["rewrite"] = check_rewrites(args.rewrite)
        prompt["input_rewrite"] = [*(prompt.get("input_rewrite") or []), *about["rewrite"]]
    field = prompt["label_field"]
    train, held = examples(train_rows, field), examples(held_rows, field)
    if args.eval_limit:
        held = held[: args.eval_limit]
    train, val = validation_split(train, args.val_families, args.seed)
    val = val[: args.val_lines]
    val_fams = sorted({e.family for e in val if e.family is not None})
    about.update(train_lines=len(train), heldout_lines=len(held), val_lines=len(val), val_families=val_fams)
    if val_fams and "train_families" in about:
        about["train_families"] = [f for f in about["train_families"] if f not in val_fams]
    return train, val, held, prompt, about


def check_rewrites(rules: list[list[str]]) -> list[list[str]]:
    """The --rewrite rules as input_rewrite pairs; one that does not compile is a UsageError naming it
    (checked in the main venv too, before the SLM environment starts)."""
    out = []
    for i, rule in enumerate(rules, 1):
        try:
            out += [list(r) for r in rewrite.check([rule])]
        except ValueError as exc:
            why = str(exc).split(": ", 1)[-1]
            raise UsageError(f"--rewrite #{i}: {why}") from None
    return out


def resolve_base(base: str, scratch: Path) -> Path:
    """An HF folder for `base`: itself, or a GGUF (or 'shipped') dequantized into `scratch`."""
    from exporters.slm.gguf import gguf_to_hf, shipped_gguf

    path = shipped_gguf() if base == "shipped" else Path(base)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UsageError(f"--base {path}: expected a Hugging Face folder with config.json")
        return path
    if path.suffix == ".gguf" and path.is_file():
        return gguf_to_hf(path, scratch)
    raise UsageError(f"--base {base}: expected a .gguf file, a Hugging Face folder or 'shipped'")


Pair = tuple[list[int], int, int, int]  # (ids, where the loss starts, the label's first and end)


def _batch(pairs: list[Pair], pad: int, label_weight: float) -> dict[str, Any]:
    import torch

    width = max(len(p[0]) for p in pairs)
    ids = torch.full((len(pairs), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    weights = torch.ones((len(pairs), width))
    for i, (seq, start, first, end) in enumerate(pairs):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, start : len(seq)] = ids[i, start : len(seq)]
        weights[i, first:end] = label_weight
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "weights": weights}


def freeze_below(model: Any, top_layers: int) -> int:
    """Train only the top `top_layers` decoder layers and the final norm (0: every layer); returns
    the trainable parameter count. The embedding stays frozen: it is tied to the output head in
    models like SmolLM2 (a third of the weights), and a task this narrow needs no new vocabulary.
    Frozen lower layers cost no backward pass, which is what makes CPU training fit minutes."""
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = core.get_decoder()
    layers = list(decoder.layers)
    keep = layers if top_layers <= 0 else layers[-top_layers:]
    for p in core.parameters():
        p.requires_grad_(False)
    for layer in keep:
        for name, p in layer.named_parameters():
            # with LoRA only the adapters train; peft froze the base weights
            p.requires_grad_("lora_" in name or not hasattr(model, "get_base_model"))
    if not hasattr(model, "get_base_model"):
        for p in decoder.norm.parameters():
            p.requires_grad_(True)
    return sum(p.numel() for p in core.parameters() if p.requires_grad)


def shared_prefix(seqs: list[list[int]]) -> int:
    """How many leading tokens every sequence shares (the chat template, the system turn and the
    template up to the input), leaving each at least its last token and never reaching the answer:
    those tokens run once per batch instead of once per example (`answer_loss`)."""
    if not seqs:
        return 0
    k, shortest = 0, min(len(s) for s in seqs) - 1
    while k < shortest and len({s[k] for s in seqs}) == 1:
        k += 1
    return k


def answer_loss(model: Any, batch: dict[str, Any], prefix: Any = None) -> Any:
    """Cross-entropy on the answer tokens, the label's weighted (`classify` reads that one token;
    the rest teaches `extract` the JSON), the output head run at those positions only (the
    prompt's positions would cost the 49k-wide head for nothing).

    With `prefix` (1 x K ids every sequence of the batch starts with, `batch` holding the rest), the
    prefix runs once and its keys and values are shared by the batch's rows: the same loss and the
    same gradients (tests/exporters/slm/test_finetune_prefix.py), for a third to a half fewer
    tokens a step on the log-triage prompt."""
    import torch

    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = core.get_decoder()
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if prefix is None:
        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state
    else:
        cache = decoder(input_ids=prefix, use_cache=True).past_key_values
        cache.batch_repeat_interleave(ids.shape[0])
        k = prefix.shape[1]
        full = torch.cat([torch.ones((ids.shape[0], k), dtype=mask.dtype), mask], dim=1)
        pos = torch.arange(k, k + ids.shape[1]).unsqueeze(0).expand(ids.shape[0], -1)
        hidden = decoder(
            input_ids=ids, attention_mask=full, position_ids=pos, past_key_values=cache, use_cache=True
        ).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != -100
    logits = core.get_output_embeddings()(hidden[:, :-1][keep])
    losses = torch.nn.functional.cross_entropy(logits.float(), targets[keep], reduction="none")
    weights = batch["weights"][:, 1:][keep]
    return (losses * weights).sum() / weights.sum()


class BestCheckpoint:
    """Early stopping on the validation families: scores them every --eval-every steps and keeps a
    copy of the trainable weights at the best score (accuracy, then the right label's mean
    probability), which `restore` puts back. A run that goes on to memorise its training families
    still ends with the weights that judged unseen families best."""

    def __init__(self, model: Any, enc: Encoder, val: list[Example], labels: list[str]) -> None:
        self.model, self.enc, self.val, self.labels = model, enc, val, labels
        self.best: tuple[float, float] = (-1.0, -1.0)
        self.best_step = 0
        self.since_best = 0
        self.saved: dict[str, Any] = {}
        self.curve: list[dict[str, float]] = []

    def check(self, step: int) -> None:
        acc = score(self.model, self.enc, self.val, self.labels)
        key = (acc.accuracy, acc.mean_gold_probability)
        self.curve.append({"step": step, "accuracy": round(key[0], 4), "gold_p": round(key[1], 4)})
        if key > self.best:
            self.best, self.best_step, self.since_best = key, step, 0
            self.saved = {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}
        else:
            self.since_best += 1

    def stop_after(self, step: int, every: int, patience: int) -> bool:
        """Validate at every `every`-th step; True when `patience` (> 0) checks brought no gain."""
        if step % every:
            return False
        self.check(step)
        self.model.train()
        return bool(patience) and self.since_best >= patience

    def finish(self, step: int) -> None:
        """Validate the last step too, then put the best weights back."""
        if not self.curve or self.curve[-1]["step"] != step:
            self.check(step)
        params = dict(self.model.named_parameters())
        for n, saved in self.saved.items():
            params[n].data.copy_(saved)


def bf16_ok() -> bool:
    """True where this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX): autocast then about
    halves a training step's CPU time; elsewhere bf16 is emulated and slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast(mode: str) -> Any:
    """The context of one training pass: bfloat16 autocast (matmuls in bf16, weights, optimizer state
    and the loss in float32) per --autocast, else nothing."""
    import contextlib

    import torch

    if mode == "bf16" or (mode == "auto" and bf16_ok()):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepared(enc: Encoder, exs: list[Example], args: argparse.Namespace) -> tuple[list[Pair], Any]:
    """The training pairs (`Encoder.training_pair` or `label_pair`) and, with --share-prefix (the
    default), the 1 x K prefix they all start with, cut off them: it never reaches a position the
    loss reads (K < every answer's start)."""
    import torch

    pairs = [enc.label_pair(ex) if args.loss == "label" else enc.training_pair(ex) for ex in exs]
    k = min(shared_prefix([p[0] for p in pairs]), *(p[1] - 1 for p in pairs)) if args.share_prefix else 0
    if k <= 0:
        return pairs, None
    return [(seq[k:], start - k, first - k, end - k) for seq, start, first, end in pairs], torch.tensor(
        [pairs[0][0][:k]]
    )


def train(
    model: Any, enc: Encoder, exs: list[Example], args: argparse.Namespace, best: BestCheckpoint | None = None
) -> dict[str, Any]:
    """The training loop; returns its figures (steps, losses, wall and CPU seconds). With `best`,
    it validates every --eval-every steps, stops after --patience validations without gain, and
    ends on the best validated weights."""
    import torch
    from tqdm import tqdm

    pairs, prefix = prepared(enc, exs, args)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed if args.order_seed is None else args.order_seed)
    order: list[int] = []
    planned = args.steps
    warmup = max(1, planned // 10)
    losses: list[float] = []
    model.train()
    t0, c0 = time.monotonic(), time.process_time()
    clock, b0 = (time.process_time, c0) if args.budget_clock == "cpu" else (time.monotonic, t0)
    bar = tqdm(total=planned, desc="finetune", unit="step", disable=args.no_progress, file=sys.stderr)
    step = 0
    while step < planned:
        if args.time_budget_s is not None and clock() - b0 >= args.time_budget_s:
            break
        decay = 1 - max(0, step - warmup) / max(1, planned - warmup)
        lr = args.lr * min(1.0, (step + 1) / warmup) * max(0.05, decay)
        for g in opt.param_groups:
            g["lr"] = lr
        if len(order) < args.batch_size:
            extra = list(range(len(pairs)))
            rng.shuffle(extra)
            order += extra
        picked, order = order[: args.batch_size], order[args.batch_size :]
        with autocast(args.autocast):
            loss = answer_loss(model, _batch([pairs[i] for i in picked], enc.eos, args.label_weight), prefix)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        step += 1
        if args.time_budget_s is not None and (step == 3 or (step > 3 and step % 10 == 0)):
            # Aim the decay at the steps the budget allows, so a time-bound run still ends low;
            # re-aimed every 10 steps, as the first steps are slower and a shared CPU's speed moves.
            per_step = (clock() - b0) / step
            planned = max(step + 1, min(args.steps, int(args.time_budget_s / per_step)))
            if step == 3:
                warmup = max(1, planned // 10)
            bar.total = planned
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{lr:.1e}")
        if best is not None and best.stop_after(step, args.eval_every, args.patience):
            break
    bar.close()
    if best is not None:
        best.finish(step)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    k = max(1, min(10, len(losses) // 5))
    return {
        "steps": step,
        "shared_prefix_tokens": 0 if prefix is None else int(prefix.shape[1]),
        "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu, 1),
        "s_per_step": round(wall / max(1, step), 2),
        "loss_first": round(sum(losses[:k]) / k, 4) if losses else None,
        "loss_last": round(sum(losses[-k:]) / k, 4) if losses else None,
        "losses": [round(v, 4) for v in losses],
        "best_step": best.best_step if best is not None else step,
        "validation": best.curve if best is not None else [],
    }


def _show(name: str, acc: Accuracy) -> str:
    labels = " ".join(f"{k} {v:.0%}" for k, v in acc.per_label.items())
    return f"{name}: {acc.accuracy:.1%} of {acc.n} ({labels}; predicted {acc.predicted})"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Tune, measure before and after, write OUT; returns the report."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.lr = args.lr or (1e-3 if args.lora else 1e-4)
    train_ex, val_ex, held_ex, prompt, about = load_data(args)
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = args.out / ".base-hf"
    base = resolve_base(args.base, scratch)
    auto_tok: Any = AutoTokenizer  # Any: transformers 5 here, the main venv's 4.x for mypy
    auto_model: Any = AutoModelForCausalLM
    tok = auto_tok.from_pretrained(base)
    model = auto_model.from_pretrained(base, dtype=torch.float32)
    enc = Encoder(tok, prompt, args.max_input_tokens)
    labels = list(prompt["labels"])
    report: dict[str, Any] = {"base": str(args.base), **about, "labels": labels, "threads": args.threads}
    train_slice = train_ex[: args.train_eval]

    t = time.monotonic()
    before = score(model, enc, held_ex, labels)
    report["eval_s"] = round(time.monotonic() - t, 1)
    print(_show("held-out before (zero-shot)", before), file=sys.stderr)
    before_train = score(model, enc, train_slice, labels) if train_slice else None

    if args.lora:
        from peft import LoraConfig, get_peft_model  # type: ignore[import-not-found]  # .venv-slm only

        n = len(model.get_decoder().layers)
        top = list(range(n - args.top_layers, n)) if 0 < args.top_layers < n else None
        cfg = LoraConfig(
            r=args.lora_rank,
            lora_alpha=2 * args.lora_rank,
            lora_dropout=0.0,
            target_modules=LORA_TARGETS,
            layers_to_transform=top,
        )
        model = get_peft_model(model, cfg)
    report["trainable_params"] = freeze_below(model, args.top_layers)
    best = BestCheckpoint(model, enc, val_ex, labels) if val_ex else None
    figures = train(model, enc, train_ex, args, best)
    if args.lora:
        model = model.merge_and_unload()
    after = score(model, enc, held_ex, labels)
    print(_show("held-out after (tuned)  ", after), file=sys.stderr)
    after_train = score(model, enc, train_slice, labels) if train_slice else None

    model.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    shutil.rmtree(scratch, ignore_errors=True)
    (args.out / PROMPT_SPEC).write_text(json.dumps(prompt, indent=2, ensure_ascii=False), encoding="utf-8")
    report.update(
        method="lora" if args.lora else "full",
        lora_rank=args.lora_rank if args.lora else None,
        top_layers=args.top_layers,
        lr=args.lr,
        batch_size=args.batch_size,
        autocast="bf16" if args.autocast == "bf16" or (args.autocast == "auto" and bf16_ok()) else "off",
        label_weight=args.label_weight if args.loss == "answer" else None,
        loss=args.loss,
        max_input_tokens=args.max_input_tokens,
        seed=args.seed,
        order_seed=args.order_seed,
        step_budget=args.steps,
        time_budget_s=args.time_budget_s,
        budget_clock=args.budget_clock,
        eval_every=args.eval_every if val_ex else None,
        patience=args.patience or None,
        **figures,
        heldout_before=before.as_dict(),
        heldout_after=after.as_dict(),
        train_before=before_train.as_dict() if before_train else None,
        train_after=after_train.as_dict() if after_train else None,
        torch=torch.__version__,
    )
    (args.out / REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
    rows = after.rows(held_ex, labels)
    (args.out / SCORES).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    print(
        f"held-out {prompt['label_field'] or 'label'} accuracy: zero-shot {before.accuracy:.1%} "
        f"→ tuned {after.accuracy:.1%} "
        f"({after.n} lines); {figures['steps']} steps in {figures['train_wall_s']} s wall, "
        f"{figures['train_cpu_s']} s CPU; wrote {args.out}"
    )
    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except UsageError as exc:
        print(f"edge-export finetune: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
