"""YAML files read with the agent's limits (reader) and validated into pydantic models with every error
mapped to its key path and line (validate): the agent config, hardware profiles, fusion zones."""
