"""edge-agent: run small ONNX models where the data is and publish compact results over MQTT."""

__version__ = "0.1.0"
