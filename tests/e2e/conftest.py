"""Helpers to build agent configs for end-to-end runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_agent.config.models import AgentConfig

ORINET_PRE = {
    "resize": "letterbox",
    "pad_value": 255,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
}
LABELS = ["upright", "rotated_90_cw", "rotated_180", "rotated_270_cw"]


@pytest.fixture
def make_config(tmp_path: Path, orinet_path: Path, demo_video: tuple[Path, list[str]], device_id: str) -> Any:
    def make(port: int, mqtt: dict[str, Any] | None = None, **pipe: Any) -> AgentConfig:
        pipeline: dict[str, Any] = {
            "source": {"kind": "video", "path": str(demo_video[0])},
            "model": {"path": str(orinet_path)},
            "preprocess": ORINET_PRE,
            "postprocess": {"kind": "classification", "labels": LABELS, "top_k": 2},
        }
        pipeline.update(pipe)
        return AgentConfig.model_validate(
            {
                "device": {"id": device_id, "state_dir": str(tmp_path / "state")},
                "mqtt": {"host": "127.0.0.1", "port": port, **(mqtt or {})},
                "outbox": {"commit_interval_ms": 20},
                "pipelines": {"orient": pipeline},
            }
        )

    return make
