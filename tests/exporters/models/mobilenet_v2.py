"""The exporter's MobileNetV2 (exporters/models/mobilenet_v2.py), at the path the tests and docs name."""

from exporters.models.mobilenet_v2 import mobilenet_v2

__all__ = ["mobilenet_v2"]
