"""The durable outbox between pipelines and the MQTT publisher."""

from edge_agent.outbox.store import Outbox

__all__ = ["Outbox"]
