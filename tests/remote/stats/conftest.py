"""The fault tests' tiny real ONNX model, small video and agent config, shared with the stats tests."""

from tests.faults.conftest import fast_config, tiny_model, video_2000

__all__ = ["fast_config", "tiny_model", "video_2000"]
