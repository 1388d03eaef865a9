"""The device side never imports an export-side library (torch, optimum, transformers...)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "optimum", "transformers", "onnxscript", "skl2onnx", "tflite2onnx", "tensorflow", "sklearn")

PROBE = """
import importlib, pkgutil, sys
import edge_agent
for m in pkgutil.walk_packages(edge_agent.__path__, "edge_agent."):
    importlib.import_module(m.name)
heavy = sorted({n.split(".")[0] for n in sys.modules} & set(sys.argv[1:]))
print(",".join(heavy))
"""


def test_importing_every_edge_agent_module_pulls_no_export_library() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *HEAVY], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"edge_agent imported: {out.stdout.strip()}"
