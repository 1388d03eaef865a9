"""What a hardware profile asks of memory reaches the ONNX Runtime session, and a camera-only agent
loads neither the text kind's model side nor the libraries only other features need."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort

from edge_agent.hardware.profile import load_profile
from edge_agent.inference.config import ModelConfig
from edge_agent.inference.session import low_memory_level, open_model

ROOT = Path(__file__).resolve().parents[2]


def test_a_low_memory_profile_reaches_the_session(orinet_path: Path) -> None:
    small = load_profile("rpi-zero-2w")
    assert small.low_memory
    opts = open_model(ModelConfig(path=orinet_path, intra_op_threads=2), small).session.get_session_options()
    assert (opts.enable_mem_pattern, opts.enable_cpu_mem_arena) == (False, False)
    assert opts.graph_optimization_level == low_memory_level(platform.machine())
    assert opts.intra_op_num_threads == 2
    usual = open_model(
        ModelConfig(path=orinet_path), load_profile("generic-x86")
    ).session.get_session_options()
    assert (usual.enable_mem_pattern, usual.enable_cpu_mem_arena) == (True, True)
    assert usual.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert usual.intra_op_num_threads == 1  # `auto` outside a pipeline's layout: one thread


def test_low_memory_sessions_stop_at_extended_only_where_nchwc_exists() -> None:
    extended, full = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert low_memory_level("x86_64") == extended  # `all` would add NCHWc copies of the weights
    assert low_memory_level("AMD64") == extended
    assert low_memory_level("aarch64") == full  # no NCHWc there; int8 convolutions go NHWC
    assert low_memory_level("armv7l") == full


def test_a_camera_only_agent_never_imports_the_text_model_side(orinet_path: Path, tmp_path: Path) -> None:
    video = tmp_path / "none.avi"
    code = f"""
import json, sys
from edge_agent.agent import Agent
from edge_agent.cli import main
from edge_agent.config.models import PipelineConfig
from edge_agent.pipeline.runner import Pipeline
cfg = PipelineConfig.model_validate({{
    "source": {{"kind": "video", "path": {str(video)!r}}},
    "model": {{"path": {str(orinet_path)!r}}},
    "postprocess": {{"kind": "classification"}},
}})
Pipeline("cam", cfg, lambda m: None).load()
print(json.dumps(sorted(sys.modules)))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "edge_agent.pipeline.vision" in loaded
    assert "onnxruntime" in loaded
    for never in ("onnxruntime_genai", "edge_agent.text.kind", "edge_agent.text.engine", "cryptography"):
        assert not any(m == never or m.startswith(never + ".") for m in loaded), never
