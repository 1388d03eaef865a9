"""Label accuracy of a causal LM in torch, scored as the text pipeline's `classify` scores it
(docs/slm.md, "Fine-tuning"): after the chat-templated prompt and the answer prefix, each label's
score is the sum of the log-probabilities of the tokens of `label + label_suffix` (the suffix too:
the agent scores it, so a figure without it is not the device's); the prediction is the argmax,
its probability the softmax over the labels. Runs in .venv-slm (torch).

The forward passes are shared: the prompt's common prefix runs once, each context once, and each
label's later tokens on the context's keys and values (`label_logprobs`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
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
    # [example][label] softmax over the labels, in `exs` order (not in as_dict: `rows` writes them)
    probs: list[list[float]] = field(default_factory=list)

    def rows(self, exs: list[Example], labels: list[str]) -> list[dict[str, Any]]:
        """One JSON-ready row per example: its input, gold label, family and each label's probability
        (what `benchmarks/slm_vote.py` combines across tuned models)."""
        return [
            {
                "input": ex.text,
                "label": ex.label,
                "family": ex.family,
                "probs": {lab: round(p, 6) for lab, p in zip(labels, ps, strict=True)},
            }
            for ex, ps in zip(exs, self.probs, strict=True)
        ]

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
    was_training = model.training
    model.eval()
    try:
        sums = label_logprobs(model, enc, exs, labels, batch_size)
    finally:
        model.train(was_training)
    return figures(exs, labels, sums)


def label_logprobs(
    model: Any, enc: Encoder, exs: list[Example], labels: list[str], batch_size: int = 8
) -> list[list[float]]:
    """[example][label] summed log-probabilities of `label + label_suffix` after the example's
    prompt and the answer prefix. The prompt's first K tokens, which every example shares (chat
    template, system turn, the template up to the input), run once; each batch's contexts run once
    with that prefix's keys and values; then every label's later tokens run on the contexts' cache.
    The same figures a full forward pass per label gives (tests/exporters/slm/test_label_scoring.py),
    in about a quarter of the tokens."""
    import torch

    from exporters.slm.finetune import shared_prefix

    prefix = enc.ids(enc.prompt["answer_prefix"]) if enc.prompt["answer_prefix"] else []
    label_ids = [enc.label_ids(lab) for lab in labels]  # label + suffix, as classify scores them
    ctxs = [enc.prompt_ids(ex.text) + prefix for ex in exs]
    if not ctxs:
        return []
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = core.get_decoder(), core.get_output_embeddings()
    k = shared_prefix(ctxs)
    n_lab, tail_w = len(labels), max(len(ids) for ids in label_ids) - 1
    out: list[list[float]] = []
    with torch.inference_mode():
        shared = decoder(input_ids=torch.tensor([ctxs[0][:k]]), use_cache=True).past_key_values if k else None
        for start in range(0, len(ctxs), batch_size):
            rows = [c[k:] for c in ctxs[start : start + batch_size]]
            b, width = len(rows), max(len(r) for r in rows)
            ids = torch.full((b, width), enc.eos, dtype=torch.long)
            mask = torch.zeros((b, k + width), dtype=torch.long)
            mask[:, :k] = 1
            for i, r in enumerate(rows):  # right-padded: each row's last context token at len - 1
                ids[i, : len(r)] = torch.tensor(r)
                mask[i, k : k + len(r)] = 1
            lens = torch.tensor([len(r) for r in rows])
            cache = _copied(shared, b)
            pos = (k + torch.arange(width)).unsqueeze(0).expand(b, -1)
            hidden = decoder(
                input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True
            ).last_hidden_state
            first = head(hidden[torch.arange(b), lens - 1]).float().log_softmax(-1)  # b x vocab
            scores = [[float(first[i, ids_[0]]) for ids_ in label_ids] for i in range(b)]
            if tail_w:
                # every label's tokens but its last, after each context: rows (example, label)
                cache.batch_repeat_interleave(n_lab)
                t_ids = torch.full((b * n_lab, tail_w), enc.eos, dtype=torch.long)
                t_mask = torch.zeros((b * n_lab, k + width + tail_w), dtype=torch.long)
                t_mask[:, : k + width] = mask.repeat_interleave(n_lab, 0)
                for i in range(b):
                    for j, lab in enumerate(label_ids):
                        row = i * n_lab + j
                        t_ids[row, : len(lab) - 1] = torch.tensor(lab[:-1])
                        t_mask[row, k + width : k + width + len(lab) - 1] = 1
                t_pos = (k + lens.repeat_interleave(n_lab)).unsqueeze(1) + torch.arange(tail_w).unsqueeze(0)
                h = decoder(
                    input_ids=t_ids, attention_mask=t_mask, position_ids=t_pos, past_key_values=cache
                ).last_hidden_state
                lp = head(h).float().log_softmax(-1)  # (b * n_lab) x tail_w x vocab
                for i in range(b):
                    for j, lab in enumerate(label_ids):
                        row = i * n_lab + j
                        scores[i][j] += sum(float(lp[row, t, lab[t + 1]]) for t in range(len(lab) - 1))
            out += scores
    return out


def _copied(cache: Any, rows: int) -> Any:
    """A fresh DynamicCache holding `cache`'s keys and values repeated for `rows` rows (None: empty)."""
    import copy

    from transformers import DynamicCache

    if cache is None:
        return DynamicCache()
    fresh = copy.deepcopy(cache)
    fresh.batch_repeat_interleave(rows)
    return fresh


def figures(exs: list[Example], labels: list[str], scores: list[list[float]]) -> Accuracy:
    """Accuracy of the argmax of `scores` ([example][label] log-scores; -inf allowed) against the
    examples' labels, per label and per family, with the softmax over the labels."""
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    fam_right: Counter[str] = Counter()
    fam_seen: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold_p = 0.0
    probs: list[list[float]] = []
    for ex, s in zip(exs, scores, strict=True):
        best = max(range(len(labels)), key=s.__getitem__)
        top = max(s)
        z = sum(math.exp(v - top) for v in s)
        probs.append([math.exp(v - top) / z for v in s])
        if ex.label in labels:
            gold_p += probs[-1][labels.index(ex.label)]
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
        probs=probs,
    )
