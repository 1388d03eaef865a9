"""Prometheus /metrics on the device (optional: prometheus-client, in the `metrics` extra)."""
