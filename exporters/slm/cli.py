"""The SLM branch of `edge-export build`: its flags, and the command when SOURCE is a .gguf file or a
Hugging Face causal-LM folder (exporters.cli routes there; the other flags keep their meaning).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from exporters.errors import GateFailedError, UsageError
from exporters.slm.export import (
    DEFAULT_MAX_ACCURACY_DROP,
    DEFAULT_MAX_KL,
    DEFAULT_MAX_LENGTH,
    DEFAULT_MIN_TOP1,
    SlmOptions,
    export_slm,
    format_report,
)


def _budget(text: str) -> float | None:
    """A budget figure, or `none` to leave that criterion out."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def add_slm_arguments(b: argparse.ArgumentParser) -> None:
    g = b.add_argument_group("small language models (SOURCE is a .gguf file or a *ForCausalLM folder)")
    g.add_argument(
        "--max-length",
        type=int,
        default=DEFAULT_MAX_LENGTH,
        help=f"KV-cache tokens (prompt + answer) set in genai_config.json (default {DEFAULT_MAX_LENGTH})",
    )
    g.add_argument(
        "--precision",
        choices=["int4", "int8", "fp16", "fp32"],
        help="first rung of the ladder (default: the target profile's slm.ladder)",
    )
    g.add_argument("--prompt-spec", type=Path, help="PromptSpec JSON (e.g. written by edge-export finetune)")
    g.add_argument("--eval-text", type=Path, help="held-out text for the gate, one sample per line")
    g.add_argument("--eval-set", type=Path, help="labelled JSONL for task accuracy (needs --prompt-spec)")
    g.add_argument("--eval-limit", type=int, help="use only the first N lines / records")
    g.add_argument(
        "--min-top1",
        type=_budget,
        default=DEFAULT_MIN_TOP1,
        help=f"smallest teacher-forced top-1 agreement ('none': no limit; default {DEFAULT_MIN_TOP1})",
    )
    g.add_argument(
        "--max-kl",
        type=_budget,
        default=DEFAULT_MAX_KL,
        help=f"largest mean KL per position, nats ('none': no limit; default {DEFAULT_MAX_KL})",
    )
    g.add_argument("--min-accuracy", type=_budget, help="smallest task accuracy on --eval-set")
    g.add_argument(
        "--max-accuracy-drop",
        type=_budget,
        default=DEFAULT_MAX_ACCURACY_DROP,
        help="largest task-accuracy drop on --eval-set below the source model's "
        f"('none': no limit; default {DEFAULT_MAX_ACCURACY_DROP})",
    )
    g.add_argument("--no-gate", dest="gate", action="store_false", help="ship the first rung ungated")
    g.add_argument("--work", type=Path, help="keep the dequantized source and the builds here (reused)")
    g.add_argument("--new-tokens", type=int, default=32, help="tokens decoded for the report's speed figures")


# Flags of the image/tabular exporter that mean nothing for a language model: refused, not ignored.
_NOT_FOR_SLM = ("task", "weights", "input_shape", "calib", "holdout", "preprocess", "resize", "pad_value",
                "labels", "max_drop", "min_speedup", "quantize")  # fmt: skip


def cmd_slm_build(args: argparse.Namespace) -> int:
    given = [f"--{n.replace('_', '-')}" for n in _NOT_FOR_SLM if getattr(args, n, None) is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: not used when SOURCE is a language model (see docs/slm.md)")
    opts = SlmOptions(
        source=Path(args.source),
        out=args.out,
        target=args.target,
        name=args.name,
        version=args.model_version,
        precision=args.precision,
        max_length=args.max_length,
        prompt_spec=args.prompt_spec,
        eval_text=args.eval_text,
        eval_set=args.eval_set,
        eval_limit=args.eval_limit,
        min_top1=args.min_top1,
        max_kl=args.max_kl,
        min_accuracy=args.min_accuracy,
        max_accuracy_drop=args.max_accuracy_drop,
        gate=args.gate,
        ladder=args.ladder,
        key=args.key,
        archive=args.archive,
        force=args.force,
        work=args.work,
        measure=args.measure,
        threads=args.threads,
        new_tokens=args.new_tokens,
    )
    try:
        result = export_slm(opts)
    except GateFailedError as exc:
        print(json.dumps(exc.report, indent=2) if args.json else "\n".join(format_report(exc.report)))
        raise
    if args.json:
        out = {"bundle": str(result.bundle.root), "signed_by": result.bundle.signed_by, **result.report}
        print(json.dumps(out, indent=2, default=str))
        return 0
    print("\n".join(format_report(result.report)))
    signed = f"signed by {result.bundle.signed_by}" if result.bundle.signed_by else "unsigned (no --key)"
    print(f"bundle: {result.bundle.root} ({result.report['precision']}, {signed})")
    if result.archive:
        print(f"archive: {result.archive}")
    return 0
