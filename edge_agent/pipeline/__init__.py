"""Pipelines: source → gate → preprocess → session → postprocess → events → outbox, built by a
pipeline kind (`kinds.py`) and joined by the runner (`runner.py`)."""
