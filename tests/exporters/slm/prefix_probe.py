"""Run in .venv-slm by test_finetune_prefix.py: one batch of log-triage label pairs through
`answer_loss` whole and with the shared prefix cut off (`prepared`), on the real SmolLM2 with its
top layers trainable; prints the two losses, the largest gradient difference and the largest
gradient, and the prefix length, as JSON."""

from __future__ import annotations

import argparse
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from exporters.slm.finetune import _batch, answer_loss, freeze_below, prepared
from exporters.slm.finetune_data import Encoder, examples
from exporters.slm.tasks import logtriage


def main(hf: str) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(hf)  # type: ignore[no-untyped-call]
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    freeze_below(model, 2)
    enc = Encoder(tok, logtriage.prompt_spec(), 96)
    exs = examples(logtriage.split(0, 16, 4, n_breadth=8).train[:6], "severity")
    grads = []
    losses = []
    for share in (False, True):
        args = argparse.Namespace(loss="label", share_prefix=share)
        pairs, prefix = prepared(enc, exs, args)
        loss = answer_loss(model, _batch(pairs, enc.eos, 1.0), prefix)
        loss.backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.requires_grad])
        losses.append(float(loss.detach()))
        model.zero_grad()
        if share:
            k = 0 if prefix is None else int(prefix.shape[1])
    diff = max(float((a - b).abs().max()) for a, b in zip(grads[0], grads[1], strict=True))
    top = max(float(g.abs().max()) for g in grads[0])
    print(json.dumps({"whole": losses[0], "shared": losses[1], "grad_diff": diff, "grad_max": top, "k": k}))


if __name__ == "__main__":
    main(sys.argv[1])
