"""A keyword bundle trained for a few epochs on espeak-ng speech recognises voices it never heard."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from edge_agent.bundle.settings import ClassificationPost
from edge_agent.bundle.verify import load_public_key, verify_bundle
from exporters.train.kws.clips import SILENCE, UNKNOWN
from exporters.train.kws.speech import HOLDOUT_VARIANTS, TRAIN_VARIANTS, VAL_VARIANTS
from tests.exporters.train.kws.conftest import EPOCHS, Built

pytestmark = [pytest.mark.heavy, pytest.mark.export, pytest.mark.timeout(1800)]

# Held-out clips are 8 classes, the largest (`_unknown`) a third of them: a model that learnt
# nothing scores 1/8 by guessing or about 0.35 by always answering `_unknown`.
MARGIN = 0.15


def test_held_out_voices_beat_chance_and_the_majority_class(kws: Built) -> None:
    t = kws.training
    print(  # the figures the report quotes (pytest -rP shows them)
        {
            k: t[k]
            for k in (
                "holdout_accuracy_bundle",
                "holdout_accuracy_fp32",
                "chance",
                "majority_chance",
                "seconds",
            )
        }
    )
    assert t["chance"] == pytest.approx(1 / 8, abs=1e-3)
    assert t["holdout_accuracy_bundle"] >= t["majority_chance"] + MARGIN, t
    assert t["holdout_accuracy_bundle"] >= 3 * t["chance"], t
    per_class = t["holdout_per_class_fp32"]
    keywords = [v for k, v in per_class.items() if k not in (SILENCE, UNKNOWN)]
    assert np.mean(keywords) >= 3 * t["chance"], per_class  # the keywords themselves, not just silence
    # Quantization costs little against fp32 on the same clips (the gate's budget is agreement).
    assert t["holdout_accuracy_bundle"] >= t["holdout_accuracy_fp32"] - 0.05, t


def test_the_voices_of_the_splits_are_disjoint() -> None:
    assert not set(TRAIN_VARIANTS) & (set(VAL_VARIANTS) | set(HOLDOUT_VARIANTS))
    assert not set(VAL_VARIANTS) & set(HOLDOUT_VARIANTS)


def test_the_bundle_is_signed_and_says_how_to_feed_it(kws: Built) -> None:
    bundle = kws.result.bundle
    verified = verify_bundle(bundle.root, [load_public_key(kws.public_key)])
    assert verified.signed_by is not None
    m = verified.manifest
    assert m.task == "classification"
    assert isinstance(m.postprocess, ClassificationPost)
    assert m.postprocess.labels == kws.corpus.labels
    assert m.audio is not None
    assert (m.audio.sample_rate, m.audio.window, m.audio.context) == (16000, 4096, 16000 - 4096)
    assert m.inputs[0].shape == [1, 16000]
    training = m.report["training"]
    assert training["epochs"] == EPOCHS
    assert training["parameters"] < 100_000
    assert training["holdout_n"] == training["counts"]["holdout"] > 100


def test_the_log_mel_front_stays_float_in_the_quantized_graph(kws: Built) -> None:
    bundle = kws.result.bundle
    assert bundle.manifest.quantization.mode == "static-qdq"
    graph = onnx.load(str(bundle.model_path)).graph
    readers = [n.op_type for n in graph.node if bundle.manifest.inputs[0].name in n.input]
    assert readers
    assert "QuantizeLinear" not in readers
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)  # the CNN after it is int8
