"""An AgentControl that really opens each bundle it is given with ONNX Runtime (the pipeline's side of
update_model), for the update tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import open_model


class ModelControl:
    """Runs the configured bundle; `bad_versions` marks bundles that fail once live (fault injection)."""

    def __init__(self, cfg: ModelConfig) -> None:
        self.cfg = cfg
        self.loaded: list[Path] = []
        self.version: str | None = None
        self.bad_versions: set[str] = set()
        self.failures = 0
        self.load(cfg.path)

    def load(self, path: Path) -> None:
        model = open_model(self.cfg.model_copy(update={"path": path}))
        out = model.run({"x": np.zeros((1, 4), np.float32)})
        assert out[0].shape == (1, 4)
        self.version = model.bundle.manifest.version if model.bundle else None
        self.loaded.append(path)
        if self.version in self.bad_versions:
            self.failures += 3

    def status(self) -> dict[str, Any]:
        return {
            "pipelines": {"cam": {"state": "running", "failures": self.failures, "version": self.version}}
        }

    def pipelines(self) -> list[str]:
        return ["cam"]

    def update_model(self, pipeline: str, bundle_dir: Path) -> None:
        self.load(bundle_dir)
