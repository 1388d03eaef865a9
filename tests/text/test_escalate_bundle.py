"""Escalation to a local bundle: the `LocalClassifier` interface served by a real onnxruntime-genai
model (SmolLM2 int4, tests/slm_models.py), scoring the labels by their log-probabilities as the text
engine's `classify` does. Nothing leaves the device; the policy counts it like any escalation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edge_agent.text.escalate import BundleEscalator, EscalationPolicy
from edge_agent.text.escalate_config import EscalateConfig
from tests.slm_models import genai_dir

og = pytest.importorskip("onnxruntime_genai")

LABELS = ["ok", "warning", "fault"]


class GenaiClassifier:
    """A LocalClassifier on a genai model folder: softmax over the labels' summed log-probabilities
    after the ChatML prompt and the answer prefix."""

    def __init__(self, folder: Path) -> None:
        self.model = og.Model(str(folder))
        self.tok = og.Tokenizer(self.model)
        self.seen: list[str] = []

    def _logprob(self, prompt: str, continuation: str) -> float:
        ids = list(self.tok.encode(prompt))
        cont = list(self.tok.encode(prompt + continuation))[len(ids) :]
        params = og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(ids) + len(cont) + 1)
        gen = og.Generator(self.model, params)
        gen.append_tokens(ids)
        total = 0.0
        for t in cont:
            logits = np.asarray(gen.get_logits(), dtype=np.float64).reshape(-1)
            m = logits.max()
            total += float(logits[t] - m - math.log(np.exp(logits - m).sum()))
            gen.append_tokens([t])
        return total

    def classify(self, text: str) -> tuple[str, float]:
        self.seen.append(text)
        prompt = (
            "<|im_start|>system\nYou triage device log lines.<|im_end|>\n"
            f"<|im_start|>user\nTriage this device log line:\n{text}<|im_end|>\n"
            '<|im_start|>assistant\n{"severity": "'
        )
        scores = {lab: self._logprob(prompt, lab + '"') for lab in LABELS}
        m = max(scores.values())
        z = sum(math.exp(s - m) for s in scores.values())
        best = max(scores, key=lambda k: scores[k])
        return best, math.exp(scores[best] - m) / z


def test_local_bundle_answers_through_the_classifier_interface() -> None:
    clf = GenaiClassifier(genai_dir("int4"))
    block = EscalateConfig.model_validate({"below": 0.6, "to": {"bundle": "big"}, "send_fields": ["text"]})
    policy = EscalationPolicy(block, BundleEscalator(clf, LABELS))
    line = "kernel: Under-voltage detected! (0x00050005)"
    out = policy.apply("ok", 0.38, line, {"host": "cam-7.private.lan"})

    assert out.escalation is not None
    assert out.escalation["answered"] is True, out.escalation
    assert out.escalation["to"] == "bundle"
    assert out.label in LABELS
    assert out.prob is not None
    assert 1 / len(LABELS) <= out.prob <= 1  # the winner of a softmax over the labels
    assert clf.seen == [line]  # the sent field only, even to a model on the device
    s = policy.stats()
    assert (s["attempted"], s["answered"]) == (1, 1)
