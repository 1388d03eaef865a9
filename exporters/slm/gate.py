"""The SLM gate: how closely a built genai model follows its source model (runs in .venv-slm).

Both models read the same token ids (teacher forcing: every position sees the true prefix, never
the model's own guesses). Per position it compares the next-token distributions: top-1 agreement
(the argmaxes are equal) and KL(source || built) in nats, both averaged over every position of
every text. With a labelled JSONL and a PromptSpec it also scores the task as the agent's
`classify` does: each label's continuation `answer_prefix + label + label_suffix` after the
chat-templated prompt, log-probabilities summed over its tokens, the highest wins.

The source model runs in torch (fp32, the reference); the built model runs in onnxruntime-genai,
the runtime the device uses, its logits read for every position of one prefill.

Usage: python -m exporters.slm.gate --reference HF_DIR --candidate GENAI_DIR --out RESULT.json
       [--eval-text FILE] [--eval-set FILE.jsonl --prompt-spec PROMPT.json] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.bundle import rewrite
from exporters.slm.gguf import REFUSED

# Held-out text the builder never saw: device-log-like lines (the agent's main use) and general
# sentences, short so a gate run stays a few seconds per rung.
BUILTIN_TEXT = [
    "kernel: [ 1234.567890] Under-voltage detected! (0x00050005)",
    "systemd[1]: Started Daily apt download activities.",
    "EXT4-fs error (device mmcblk0p2): ext4_lookup:1700: inode #131074: comm find: deleted inode referenced",
    "brcmfmac: brcmf_cfg80211_set_power_mgmt: power save enabled",
    "CPU0: Core temperature above threshold, cpu clock throttled (total events = 1)",
    "sshd[812]: Accepted publickey for pi from 192.168.1.20 port 52144 ssh2",
    "usb 1-1.3: new high-speed USB device number 4 using xhci_hcd",
    "The weather today is sunny with a light breeze from the west.",
    "She opened the window and listened to the birds in the garden.",
    "A small model that runs locally keeps the raw text on the device.",
    "Please restart the service after the configuration file has been updated.",
    "The train to the city leaves every twenty minutes on weekdays.",
]


MAX_TEXT_TOKENS = 128


def log_softmax(x: np.ndarray) -> np.ndarray:
    z = np.asarray(x, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return np.asarray(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)))


class Reference:
    """The source HF model in torch, fp32, with its tokenizer (the gate's token ids come from it)."""

    def __init__(self, hf_dir: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # Typed as Any: transformers 5 in .venv-slm, while mypy sees the main venv's 4.x.
        auto_model: Any = AutoModelForCausalLM
        auto_tok: Any = AutoTokenizer
        self.torch = torch
        self.tok: Any = auto_tok.from_pretrained(hf_dir)
        self.model: Any = auto_model.from_pretrained(hf_dir, dtype=torch.float32).eval()

    def logits(self, ids: list[int]) -> np.ndarray:
        with self.torch.inference_mode():
            out = self.model(input_ids=self.torch.tensor([ids]), attention_mask=self.torch.ones(1, len(ids)))
        return np.asarray(out.logits[0].float().numpy())


class Candidate:
    """The built genai model: one prefill of all ids, logits read for every position."""

    def __init__(self, genai_dir: Path, threads: int) -> None:
        import onnxruntime_genai as og

        self.og = og
        cfg = og.Config(str(genai_dir))
        opts = {"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}
        cfg.overlay(json.dumps(opts))
        self.model = og.Model(cfg)

    def logits(self, ids: list[int]) -> np.ndarray:
        params = self.og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(ids) + 1)
        gen = self.og.Generator(self.model, params)
        gen.append_tokens(np.asarray(ids, dtype=np.int32))
        return np.asarray(gen.get_output("logits")[0], dtype=np.float32)


@dataclass
class ReferenceSide:
    """What the source model says, computed once and compared with every rung of the ladder."""

    ids: list[list[int]] = field(default_factory=list)  # per held-out text
    logprobs: list[np.ndarray] = field(default_factory=list)  # per text: [positions, vocab]
    heads: list[list[int]] = field(default_factory=list)  # per labelled record: its prompt's ids
    conts: list[list[int]] = field(default_factory=list)  # per label: its continuation's ids
    wants: list[int] = field(default_factory=list)  # per record: the right label's index
    picks: list[int] = field(default_factory=list)  # per record: the source model's label


def reference_side(
    ref: Reference, texts: list[str], records: list[dict[str, Any]], prompt: dict[str, Any] | None
) -> ReferenceSide:
    """Tokenize the held-out text and the labelled records and run the source model on them."""
    side = ReferenceSide()
    for text in texts:
        # A long line is cut: the gate compares distributions, and [positions, vocab] float64
        # log-probabilities cost 0.4 MB per position for a 49k vocabulary.
        ids = list(ref.tok.encode(text, add_special_tokens=False))[:MAX_TEXT_TOKENS]
        if len(ids) >= 2:
            side.ids.append(ids)
            side.logprobs.append(log_softmax(ref.logits(ids)))
    if not side.ids:
        raise ValueError("the held-out text has no line of two tokens or more")
    if records:
        if prompt is None:
            raise ValueError("--eval-set needs --prompt-spec (the prompt and label set to score with)")
        labels = list(prompt.get("labels") or [])
        if not labels:
            raise ValueError("prompt spec: `labels` is empty; task accuracy needs the label set")
        key = str(prompt.get("label_field") or "label")
        prefix, suffix = prompt.get("answer_prefix", ""), prompt.get("label_suffix", "")
        side.conts = [list(ref.tok.encode(prefix + lb + suffix, add_special_tokens=False)) for lb in labels]
        for i, rec in enumerate(records):
            line, want = rec.get("text"), rec.get(key)
            if not isinstance(line, str) or want not in labels:
                raise ValueError(
                    f"eval set record {i + 1}: expected 'text' and '{key}' one of {labels}, got {rec!r:.120}"
                )
            side.heads.append(prompt_ids(ref, prompt, line))
            side.wants.append(labels.index(want))
            side.picks.append(score_labels(ref.logits, side.heads[-1], side.conts))
    return side


def compare(cand: Candidate, side: ReferenceSide) -> dict[str, Any]:
    """Teacher-forced top-1 agreement and mean KL(source || built) per position; task accuracy of
    both models when the reference side has labelled records."""
    agree, kls, positions = 0, 0.0, 0
    for ids, lp_ref in zip(side.ids, side.logprobs, strict=True):
        lp_cand = log_softmax(cand.logits(ids))
        agree += int((lp_ref.argmax(-1) == lp_cand.argmax(-1)).sum())
        kls += float((np.exp(lp_ref) * (lp_ref - lp_cand)).sum())
        positions += len(ids)
    out: dict[str, Any] = {
        "texts": len(side.ids),
        "positions": positions,
        "top1": round(agree / positions, 4),
        "kl": round(kls / positions, 4),
    }
    if side.heads:
        picks = [score_labels(cand.logits, head, side.conts) for head in side.heads]
        right = sum(p == w for p, w in zip(picks, side.wants, strict=True))
        right_ref = sum(p == w for p, w in zip(side.picks, side.wants, strict=True))
        n = len(side.heads)
        out["task"] = {
            "n": n,
            "right": right,
            "accuracy": round(right / n, 4),
            "reference_right": right_ref,
            "reference_accuracy": round(right_ref / n, 4),
        }
    return out


def prompt_ids(ref: Reference, prompt: dict[str, Any], text: str) -> list[int]:
    """The chat-templated prompt for `text` (rewritten by the prompt's `input_rewrite`, as the text
    pipeline and the finetune rewrite it), ending where the assistant's answer begins."""
    text = rewrite.apply(prompt.get("input_rewrite") or [], text)
    messages = []
    if prompt.get("system"):
        messages.append({"role": "system", "content": prompt["system"]})
    messages.append({"role": "user", "content": str(prompt.get("template", "{input}")).format(input=text)})
    rendered = ref.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return list(ref.tok.encode(rendered, add_special_tokens=False))


def score_labels(
    logits_of: Callable[[list[int]], np.ndarray], head: list[int], conts: list[list[int]]
) -> int:
    """The index of the continuation with the highest summed log-probability after `head`."""
    scores = []
    for cont in conts:
        lp = log_softmax(logits_of(head + cont))
        scores.append(sum(float(lp[len(head) - 1 + i, t]) for i, t in enumerate(cont)))
    return int(np.argmax(scores))


def read_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def read_jsonl(path: Path, limit: int | None) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not valid JSON ({exc})") from None
    return out[:limit] if limit else out


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    """The gate's inputs, shared by this module's command line and exporters.slm.ladder's."""
    p.add_argument("--reference", type=Path, required=True, help="source HF causal-LM folder")
    p.add_argument("--out", type=Path, required=True, help="where to write the result JSON")
    p.add_argument("--eval-text", type=Path, help="held-out text, one line per sample")
    p.add_argument("--eval-set", type=Path, help="labelled JSONL for task accuracy")
    p.add_argument("--prompt-spec", type=Path, help="PromptSpec JSON (system, template, labels, ...)")
    p.add_argument("--limit", type=int, help="use only the first N lines / records")
    p.add_argument("--threads", type=int, default=1)


def prepare(args: argparse.Namespace) -> ReferenceSide:
    """Load the source model and compute its side of the gate from the command line's inputs."""
    import torch

    torch.set_num_threads(args.threads)
    texts = read_lines(args.eval_text) if args.eval_text else BUILTIN_TEXT
    records = read_jsonl(args.eval_set, args.limit) if args.eval_set else []
    prompt = json.loads(args.prompt_spec.read_text(encoding="utf-8")) if args.prompt_spec else None
    return reference_side(
        Reference(args.reference), texts[: args.limit] if args.limit else texts, records, prompt
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exporters.slm.gate")
    add_eval_arguments(p)
    p.add_argument("--candidate", type=Path, required=True, help="built onnxruntime-genai folder")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        result = compare(Candidate(args.candidate, args.threads), prepare(args))
    except ValueError as exc:
        print(f"{REFUSED} {exc}", flush=True)
        return 3
    result["seconds"] = round(time.perf_counter() - t0, 2)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
