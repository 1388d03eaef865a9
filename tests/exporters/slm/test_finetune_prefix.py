"""The fine-tune's shared prefix (exporters.slm.finetune.prepared, answer_loss): the prompt before
the input runs once a batch and its keys and values serve every row, which must leave the loss and
the gradients what running each example whole gives. Real SmolLM2 in .venv-slm (transformers 5)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.slm_models import hf_dir, need_slm_env

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(600)


def test_the_shared_prefix_gives_the_same_loss_and_gradients() -> None:
    python = need_slm_env()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(python), str(Path(__file__).with_name("prefix_probe.py")), str(hf_dir())],
        capture_output=True, text=True, env=env, check=False, timeout=500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["k"] >= 30  # the chat template, the system turn and "Triage this device log line:"
    assert got["shared"] == pytest.approx(got["whole"], rel=1e-5)
    assert got["grad_max"] > 1e-3  # the gradients compared are not all zero
    assert got["grad_diff"] <= 1e-4 * got["grad_max"]
