"""What commands need from the agent: the `AgentControl` protocol, and the update service hook.

The agent implements these; the command handler only ever talks to them, so it can be tested against
any implementation and wired to the MQTT client in a few lines (see edge_agent.remote.commands.mqtt).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol


class AgentControl(Protocol):
    """The agent's side of every command. Methods raise EdgeAgentError (or ValueError/KeyError) to refuse."""

    def status(self) -> dict[str, Any]:
        """The same content as the retained status message: state, version, pipelines, model ids."""
        ...

    def pipelines(self) -> Collection[str]:
        """Names of the configured pipelines (running or not)."""
        ...

    def reload(self) -> None:
        """Re-read the config file and restart what changed."""
        ...

    def apply_config_patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        """Merge, validate, write atomically and apply; roll back the file if applying fails.

        Returns a summary for the reply (e.g. which pipelines restarted). See commands.config_patch.
        """
        ...

    def start_pipeline(self, name: str) -> None: ...

    def stop_pipeline(self, name: str) -> None: ...

    def snapshot(self, name: str) -> bytes | None:
        """A JPEG of the newest frame, or None when the pipeline has not opted in (publish.include_frame)."""
        ...

    def update_model(self, pipeline: str, bundle_dir: Path) -> None:
        """Switch `pipeline` to the verified bundle at `bundle_dir` (reopen the session)."""
        ...


class UpdateService(Protocol):
    """Runs model updates in the background and reports each step (edge_agent.remote.update.service)."""

    def start(self, pipeline: str, source: dict[str, Any]) -> str:
        """Validate and queue an update; return its id. Raise CommandError to refuse at once."""
        ...

    def receive_chunk(self, transfer: str, index: int, count: int, data: bytes) -> dict[str, Any]:
        """Store one chunk of a bundle sent over MQTT; returns progress for the reply."""
        ...
