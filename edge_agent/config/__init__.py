"""Config: YAML → pydantic models, errors with key path and line, JSON Schema."""

from edge_agent.config.loader import LoadedConfig, load_config, parse_config, read_config
from edge_agent.config.models import AgentConfig, PipelineConfig

__all__ = ["AgentConfig", "LoadedConfig", "PipelineConfig", "load_config", "parse_config", "read_config"]
