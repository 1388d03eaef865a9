"""An in-memory AgentControl (the agent's side of commands) for the handler tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MemoryControl:
    """A small but real AgentControl: pipelines that start/stop, a config dict, snapshot opt-in."""

    def __init__(self) -> None:
        self.running = {"cam": True, "mic": False}
        self.snapshots = {"cam": b"\xff\xd8jpeg\xff\xd9", "mic": None}
        self.patches: list[dict[str, Any]] = []
        self.reloads = 0
        self.models: dict[str, Path] = {}

    def status(self) -> dict[str, Any]:
        return {"state": "online", "pipelines": {k: {"running": v} for k, v in self.running.items()}}

    def pipelines(self) -> list[str]:
        return list(self.running)

    def reload(self) -> None:
        self.reloads += 1

    def apply_config_patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        if "boom" in patch:
            raise RuntimeError("unexpected bug")
        self.patches.append(patch)
        return {"restarted": []}

    def start_pipeline(self, name: str) -> None:
        self.running[name] = True

    def stop_pipeline(self, name: str) -> None:
        self.running[name] = False

    def snapshot(self, name: str) -> bytes | None:
        return self.snapshots[name]

    def update_model(self, pipeline: str, bundle_dir: Path) -> None:
        self.models[pipeline] = bundle_dir
