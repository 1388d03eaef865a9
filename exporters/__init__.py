"""Workstation side: turn a small model into a measured, signed bundle for a hardware target.

The data path is load (sources/) → prepare → quantize → validate (gate + ladder) → measure →
bundle; `exporters.pipeline.export_model` runs it, `edge-export` (exporters.cli) is its command
line. Needs the `export` extra; the device side (edge_agent) never imports this package.
"""

from edge_agent import __version__

__all__ = ["__version__"]
