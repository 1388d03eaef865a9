"""Bundles: the signed model package the exporter writes and the agent verifies before use."""

from edge_agent.bundle.manifest import Manifest
from edge_agent.bundle.verify import Bundle, is_bundle, load_public_key, verify_bundle

__all__ = ["Bundle", "Manifest", "is_bundle", "load_public_key", "verify_bundle"]
