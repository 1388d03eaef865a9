"""The shared prefix, in training and in scoring (exporters.slm.finetune.prepared and answer_loss;
exporters.slm.label_scoring.label_logprobs): the prompt before the input runs once and its keys and
values serve every row, which must leave the loss, the gradients and the label scores what running
each example whole gives. Real SmolLM2 in .venv-slm (transformers 5), by finetune_probe.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.slm_models import hf_dir, need_slm_env

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(600)


def _probe(mode: str) -> dict[str, Any]:
    python = need_slm_env()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(python), str(Path(__file__).with_name("finetune_probe.py")), mode, str(hf_dir())],
        capture_output=True, text=True, env=env, check=False, timeout=500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return got


def test_the_shared_prefix_gives_the_same_loss_and_gradients() -> None:
    got = _probe("prefix")
    assert got["k"] >= 30  # the chat template, the system turn and "Triage this device log line:"
    assert got["shared"] == pytest.approx(got["whole"], rel=1e-5)
    assert got["grad_max"] > 1e-3  # the gradients compared are not all zero
    assert got["grad_diff"] <= 1e-4 * got["grad_max"]


def test_cached_label_scores_are_a_full_pass_per_label() -> None:
    got = _probe("scoring")
    assert got["n"] == 6
    assert got["spread"] > 1.0  # the labels' scores differ: a mix-up of labels would show
    assert got["max_diff"] < 1e-3
    assert got["argmax_same"]
