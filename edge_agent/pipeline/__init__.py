"""Pipelines: source → gate → preprocess → session → postprocess → events → outbox."""
