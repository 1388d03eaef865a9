"""Service tests reuse the fault tests' fast pipeline (tiny real ONNX model, small video)."""

from tests.faults.conftest import agent_process, fast_config, tiny_model, video_2000

__all__ = ["agent_process", "fast_config", "tiny_model", "video_2000"]
