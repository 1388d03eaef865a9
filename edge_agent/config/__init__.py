"""Config: YAML → pydantic models, errors with key path and line, JSON Schema."""

from edge_agent.config.loader import load_config, parse_config
from edge_agent.config.models import AgentConfig, PipelineConfig

__all__ = ["AgentConfig", "PipelineConfig", "load_config", "parse_config"]
