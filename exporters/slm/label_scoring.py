"""Label accuracy of a causal LM in torch, scored as the text pipeline's `classify` scores it
(docs/slm.md, "Fine-tuning"): after the chat-templated prompt and the answer prefix, each label's
score is the sum of the log-probabilities of the tokens of `label + label_suffix` (the suffix too:
the agent scores it, so a figure without it is not the device's); the prediction is the argmax,
its probability the softmax over the labels. Runs in .venv-slm (torch).

The forward passes are shared: a label's tokens are predicted from the context plus the label's own
earlier tokens, so the first token of every label is scored from one pass over the context.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from exporters.slm.finetune_data import Encoder, Example


@dataclass(slots=True)
class Accuracy:
    """Figures for one labelled set."""

    accuracy: float
    n: int
    per_label: dict[str, float]
    per_family: dict[str, float]
    mean_gold_probability: float
    predicted: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "n": self.n,
            "per_label": {k: round(v, 4) for k, v in self.per_label.items()},
            "per_family": {k: round(v, 4) for k, v in self.per_family.items()},
            "mean_gold_probability": round(self.mean_gold_probability, 4),
            "predicted": self.predicted,
        }


def score(model: Any, enc: Encoder, exs: list[Example], labels: list[str], batch_size: int = 8) -> Accuracy:
    """Score `labels` for every example with `model` (eval mode, no grad) and measure accuracy."""
    import torch

    prefix = enc.ids(enc.prompt["answer_prefix"]) if enc.prompt["answer_prefix"] else []
    label_ids = [enc.label_ids(lab) for lab in labels]  # label + suffix, as classify scores them
    # Each (example, label, token) reads the log-prob of `target` at the last position of `inputs`.
    uniq: dict[tuple[int, ...], int] = {}
    reads: list[list[list[tuple[int, int]]]] = []  # [example][label] -> [(input index, target)]
    for ex in exs:
        ctx = enc.prompt_ids(ex.text) + prefix
        per_label = []
        for ids in label_ids:
            toks = []
            for j, target in enumerate(ids):
                key = tuple(ctx + ids[:j])
                toks.append((uniq.setdefault(key, len(uniq)), target))
            per_label.append(toks)
        reads.append(per_label)
    inputs = sorted(uniq, key=uniq.__getitem__)
    logprobs: list[Any] = [None] * len(inputs)
    was_training = model.training
    model.eval()
    # Similar lengths together, left-padded: every input's last position is the batch's last, so
    # the output head runs on that one position only (logits_to_keep=1).
    by_len = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    with torch.inference_mode():
        for start in range(0, len(by_len), batch_size):
            picked = by_len[start : start + batch_size]
            width = max(len(inputs[i]) for i in picked)
            batch = torch.full((len(picked), width), enc.eos, dtype=torch.long)
            mask = torch.zeros((len(picked), width), dtype=torch.long)
            for row, i in enumerate(picked):
                batch[row, width - len(inputs[i]) :] = torch.tensor(inputs[i])
                mask[row, width - len(inputs[i]) :] = 1
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(input_ids=batch, attention_mask=mask, position_ids=pos, logits_to_keep=1).logits
            rows = logits[:, -1].float().log_softmax(-1)
            for row, i in enumerate(picked):
                logprobs[i] = rows[row]
    model.train(was_training)
    sums = [[sum(float(logprobs[k][t]) for k, t in toks) for toks in ex] for ex in reads]
    return _figures(exs, labels, sums)


def _figures(exs: list[Example], labels: list[str], scores: list[list[float]]) -> Accuracy:
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    fam_right: Counter[str] = Counter()
    fam_seen: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold_p = 0.0
    for ex, s in zip(exs, scores, strict=True):
        best = max(range(len(labels)), key=s.__getitem__)
        top = max(s)
        z = sum(math.exp(v - top) for v in s)
        if ex.label in labels:
            gold_p += math.exp(s[labels.index(ex.label)] - top) / z
        ok = labels[best] == ex.label
        predicted[labels[best]] += 1
        seen[ex.label] += 1
        right[ex.label] += ok
        fam = ex.family or "-"
        fam_seen[fam] += 1
        fam_right[fam] += ok
    n = len(exs)
    return Accuracy(
        accuracy=sum(right.values()) / n if n else 0.0,
        n=n,
        per_label={k: right[k] / seen[k] for k in sorted(seen)},
        per_family={k: fam_right[k] / fam_seen[k] for k in sorted(fam_seen)},
        mean_gold_probability=gold_p / n if n else 0.0,
        predicted=dict(sorted(predicted.items())),
    )
