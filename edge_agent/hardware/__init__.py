"""Hardware profiles shared by the exporter and the agent, and execution-provider selection from them."""

from edge_agent.hardware.profile import HardwareProfile, all_profiles, load_profile
from edge_agent.hardware.providers import check_active, resolve_providers

__all__ = ["HardwareProfile", "all_profiles", "check_active", "load_profile", "resolve_providers"]
