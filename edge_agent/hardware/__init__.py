"""Hardware profiles shared by the exporter and the agent."""

from edge_agent.hardware.profile import HardwareProfile, all_profiles, load_profile

__all__ = ["HardwareProfile", "all_profiles", "load_profile"]
