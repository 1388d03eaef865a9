"""Text pipelines: inputs, the SLM engine, its tasks and escalation (docs/slm.md)."""
