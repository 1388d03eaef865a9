"""Text pipelines: small language models on log lines, messages and event summaries."""
