"""Home Assistant integration: device-based MQTT discovery and re-announcement."""

from edge_agent.ha.discovery import DiscoveryAnnouncer, PipelineInfo, build_discovery, discovery_topic

__all__ = ["DiscoveryAnnouncer", "PipelineInfo", "build_discovery", "discovery_topic"]
