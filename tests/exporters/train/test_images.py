"""`edge-export train images` on the photos example (small slice): far above chance on held-out
crops from tiles never seen in training, a signed bundle that verifies, runs in ONNX Runtime and
records the agent's preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.bundle.archive import unpack
from edge_agent.bundle.verify import load_public_key, verify_bundle
from exporters.train import images
from exporters.train.data import Examples
from tests.exporters.train.conftest import IMAGE_SIZE, Built

CHANCE = 1 / 6  # six photos
MARGIN = 0.4  # measured 0.81 on this slice (1.0 on the full example); a head that learnt nothing: 0.17


def test_held_out_accuracy_beats_chance(photos_built: Built) -> None:
    t = photos_built.training
    assert t["chance"] == round(CHANCE, 4)
    assert t["holdout_n"] == 36
    assert t["holdout_accuracy_fp32"] >= CHANCE + MARGIN, t
    assert t["holdout_accuracy_bundle"] >= CHANCE + MARGIN, t
    assert t["epochs"] >= 1
    assert 0 < t["best_val_accuracy"] <= 1


def test_bundle_verifies_and_runs_in_onnxruntime(photos_built: Built, tmp_path: Path) -> None:
    key = load_public_key(photos_built.pub)
    bundle = verify_bundle(photos_built.result.bundle.root, [key])
    assert bundle.signed_by is not None
    assert photos_built.result.archive is not None
    verify_bundle(unpack(photos_built.result.archive, tmp_path / "unpacked"), [key])
    m = bundle.manifest
    assert m.task == "classification"
    assert m.postprocess.kind == "classification"
    assert m.postprocess.labels == sorted(["astronaut", "coffee", "chelsea", "rocket", "china", "flower"])
    assert m.report["training"]["classes"] == m.postprocess.labels
    # the agent's preprocessing, recorded: what the trainer fed the backbone
    assert m.preprocess is not None
    assert m.preprocess.resize == "stretch"
    assert tuple(m.preprocess.mean) == (0.485, 0.456, 0.406)
    assert tuple(m.preprocess.size or ()) == (IMAGE_SIZE, IMAGE_SIZE)
    sess = ort.InferenceSession(str(bundle.model_path), providers=["CPUExecutionProvider"])
    held = photos_built.trained.holdout
    logits = np.concatenate([sess.run(None, {"input": held[i : i + 1]})[0] for i in range(len(held))])
    assert logits.shape == (len(held), 6)
    right = float(np.mean(logits.argmax(1) == photos_built.trained.holdout_labels))
    assert right == pytest.approx(photos_built.training["holdout_accuracy_bundle"], abs=1e-4)


def test_training_inputs_are_the_agents_preprocessing(photos_built: Built) -> None:
    from edge_agent.bundle.preprocess import Preprocessor

    bundle = photos_built.result.bundle
    pre = Preprocessor(bundle.manifest.preprocess, [1, 3, IMAGE_SIZE, IMAGE_SIZE], "tensor(float)")
    first = sorted((photos_built.data["holdout"] / "astronaut").iterdir())[0]
    device, _ = pre(images.read_image(first))
    x, _ = images.tensors(Examples([first], np.zeros(1, np.int64), ["astronaut"]), IMAGE_SIZE)
    np.testing.assert_array_equal(device, x)
