"""Run in .venv-slm (transformers 5, as the fine-tune runs) by test_finetune_prefix.py, on the real
SmolLM2; prints one JSON line.

- `prefix HF`: one batch of log-triage label pairs through `answer_loss` whole and with the shared
  prefix cut off (`prepared`), the top layers trainable: the two losses, the largest gradient
  difference, the largest gradient and the prefix length.
- `scoring HF`: `label_logprobs` (shared prefix, cached contexts) against a plain full forward pass
  per (example, label) summing the log-probabilities of `label + label_suffix`: the largest
  difference, and whether the argmax agrees everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from exporters.slm.finetune import _batch, answer_loss, freeze_below, prepared
from exporters.slm.finetune_data import Encoder, examples
from exporters.slm.label_scoring import label_logprobs
from exporters.slm.tasks import logtriage


def _setup(hf: str) -> tuple[Any, Encoder, list[Any]]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(hf)
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    enc = Encoder(tok, logtriage.prompt_spec(), 96)
    return model, enc, examples(logtriage.split(0, 16, 4, n_breadth=8).train[:6], "severity")


def prefix(hf: str) -> dict[str, Any]:
    model, enc, exs = _setup(hf)
    freeze_below(model, 2)
    grads, losses, k = [], [], 0
    for share in (False, True):
        pairs, pre = prepared(enc, exs, argparse.Namespace(loss="label", share_prefix=share))
        loss = answer_loss(model, _batch(pairs, enc.eos, 1.0), pre)
        loss.backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.requires_grad])
        losses.append(float(loss.detach()))
        model.zero_grad()
        k = 0 if pre is None else int(pre.shape[1])
    diff = max(float((a - b).abs().max()) for a, b in zip(grads[0], grads[1], strict=True))
    top = max(float(g.abs().max()) for g in grads[0])
    return {"whole": losses[0], "shared": losses[1], "grad_diff": diff, "grad_max": top, "k": k}


def scoring(hf: str) -> dict[str, Any]:
    model, enc, exs = _setup(hf)
    model.eval()
    labels = ["ok", "warning", "fault", "unknown label"]  # a longer label: several tokens to score
    got = label_logprobs(model, enc, exs, labels, batch_size=4)  # two batches, the last one short
    want = []
    with torch.inference_mode():
        for ex in exs:
            ctx = enc.prompt_ids(ex.text) + enc.ids(enc.prompt["answer_prefix"])
            row = []
            for lab in labels:
                ids = enc.label_ids(lab)
                lp = model(input_ids=torch.tensor([ctx + ids])).logits[0].float().log_softmax(-1)
                row.append(sum(float(lp[len(ctx) - 1 + t, tok]) for t, tok in enumerate(ids)))
            want.append(row)
    diff = max(abs(a - b) for g, w in zip(got, want, strict=True) for a, b in zip(g, w, strict=True))
    same = all(g.index(max(g)) == w.index(max(w)) for g, w in zip(got, want, strict=True))
    spread = max(max(w) - min(w) for w in want)
    return {"max_diff": diff, "argmax_same": same, "n": len(got), "spread": spread}


if __name__ == "__main__":
    print(json.dumps({"prefix": prefix, "scoring": scoring}[sys.argv[1]](sys.argv[2])))
