"""`edge-export train sensor` on the vibration example (small slice): normal / bearing fault /
imbalance told apart far above chance on held-out runs of the motor, and a bundle whose input is
exactly the agent's window features."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from edge_agent.bundle.verify import load_public_key, verify_bundle
from edge_agent.features.windows import window_features
from exporters.train.examples import vibration
from tests.exporters.train.conftest import Built

CHANCE = 1 / 3
MARGIN = 0.45  # measured 0.95 on the full example and on this slice; chance is 0.33


def test_held_out_runs_are_classified_far_above_chance(vibration_built: Built) -> None:
    t = vibration_built.training
    assert t["chance"] == round(CHANCE, 4)
    assert t["classes"] == sorted(vibration.CLASSES)
    assert t["holdout_accuracy_fp32"] >= CHANCE + MARGIN, t
    assert t["holdout_accuracy_bundle"] >= CHANCE + MARGIN, t
    assert t["window"]["size"] == 250


def test_bundle_input_is_the_agents_window_features(vibration_built: Built) -> None:
    bundle = verify_bundle(vibration_built.result.bundle.root, [load_public_key(vibration_built.pub)])
    m = bundle.manifest
    assert m.preprocess is None
    features = 2 * (3 + 8)  # x and y: std, rms, ptp and 8 fft bands each
    assert m.inputs[0].shape == [1, features]
    # one held-out window, featurised by the agent's own code, gives the trainer's input row
    run = next((vibration_built.data["holdout"] / "bearing").iterdir())
    readings = np.loadtxt(run, delimiter=",", skiprows=1, dtype=np.float32)[:, 1:]
    row = window_features(readings[:250], ["std", "rms", "ptp", "fft"], 8)
    held = vibration_built.trained.holdout
    assert np.any(np.all(np.isclose(held, row[None, :], atol=1e-6), axis=1))
    sess = ort.InferenceSession(str(bundle.model_path), providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, {"input": row[None, :]})
    assert logits.shape == (1, 3)
