"""Model updates: fetch (URL or MQTT chunks), verify, canary, atomic swap, health window, rollback."""

from edge_agent.remote.update.service import UpdatePolicy, UpdateService, resolve_model_path
from edge_agent.remote.update.slots import Slots

__all__ = ["Slots", "UpdatePolicy", "UpdateService", "resolve_model_path"]
