"""Bundles: the signed model package the exporter writes and the agent verifies before use, and the
contract both sides share (the manifest, its pre/post settings, the image preprocessing they drive).
The package imports only leaf modules (tests/test_import_layers.py)."""

from edge_agent.bundle.manifest import Manifest
from edge_agent.bundle.verify import Bundle, is_bundle, load_public_key, verify_bundle

__all__ = ["Bundle", "Manifest", "is_bundle", "load_public_key", "verify_bundle"]
