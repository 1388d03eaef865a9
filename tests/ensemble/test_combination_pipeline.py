"""Cascade and ensemble through the pipeline runner: digits replayed as JSONL sensor readings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.config.models import PipelineConfig
from edge_agent.pipeline.runner import Pipeline
from edge_agent.stages.types import Outbound

CHANNELS = [f"p{i}" for i in range(64)]


def _replay(digits: tuple[np.ndarray, ...], tmp_path: Path) -> tuple[Path, np.ndarray]:
    _, _, x, y = digits
    path = tmp_path / "digits.jsonl"
    with path.open("w") as f:
        for row in x[:200]:
            f.write(json.dumps(dict(zip(CHANNELS, row.tolist(), strict=True))) + "\n")
    return path, y[:200]


def _run(cfg: dict[str, Any]) -> tuple[list[int], dict[str, Any]]:
    out: list[Outbound] = []
    pipe = Pipeline("digits", PipelineConfig.model_validate(cfg), out.append)
    pipe.start()
    assert pipe.finished.wait(60)
    pipe.stop()
    snap = pipe.snapshot()
    assert snap["failures"] == 0, snap["error"]
    return [int(o.body["output"]["top"][0]["label"]) for o in out if o.kind == "results"], snap


@pytest.mark.parametrize("kind", ["cascade", "ensemble"])
def test_combinations_in_a_pipeline(
    kind: str, digits: tuple[np.ndarray, ...], digit_models: dict[str, Path], tmp_path: Path
) -> None:
    path, truth = _replay(digits, tmp_path)
    cfg: dict[str, Any] = {
        "source": {"kind": "jsonl", "path": str(path), "speed": 0, "channels": CHANNELS, "time_key": None},
        "model": {"path": str(digit_models["small"])},
        "postprocess": {"kind": "classification", "labels": [str(i) for i in range(10)], "top_k": 1},
    }
    if kind == "cascade":
        cfg["cascade"] = {"large": {"model": {"path": str(digit_models["large"])}}, "band": [0.0, 0.8]}
    else:
        cfg["ensemble"] = {
            "members": [
                {"model": {"path": str(digit_models["large"])}, "weight": 2},
                {"model": {"path": str(digit_models["tree"])}, "weight": 0.5},
            ]
        }
    labels, snap = _run(cfg)
    assert len(labels) == 200
    assert float(np.mean(np.array(labels) == truth)) > 0.97
    combo = snap["combination"]
    if kind == "cascade":
        assert combo["cascade_inputs"] == 200
        assert 0 < combo["large_ratio"] < 0.4
    else:
        assert set(combo["member_runs"].values()) == {200}
