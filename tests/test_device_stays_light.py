"""The device side never imports an export-side library (torch, optimum, transformers...)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


WALKED = """
import pkgutil
import edge_agent
print("\\n".join(m.name for m in pkgutil.walk_packages(edge_agent.__path__, "edge_agent.")))
"""


def test_the_import_walk_reaches_every_module_on_disk() -> None:
    """A folder without `__init__.py` is skipped by the walk above: every module must be reached."""
    root = Path(__file__).resolve().parent.parent / "edge_agent"
    on_disk = {
        ".".join(("edge_agent", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for p in root.rglob("*.py")
    } - {"edge_agent"}
    out = subprocess.run([sys.executable, "-c", WALKED], capture_output=True, text=True, check=True)
    assert on_disk - set(out.stdout.split()) == set()


RUN_PATH = """
import sys
from edge_agent.cli.main import build_parser
build_parser(["run", "-c", "agent.yaml"])
import edge_agent.agent, edge_agent.pipeline.vision
print(",".join(sorted(n for n in sys.modules if n.split(".")[0] == "ruamel" or n in sys.argv[1:])))
"""
# Not needed to run a pipeline: the other commands' modules, and ruamel.yaml (only a remote `set`).
NOT_ON_RUN_PATH = ("edge_agent.cli.demo_cmd", "edge_agent.cli.fleet_cmd", "edge_agent.cli.config_cmd")


def test_edge_agent_run_imports_neither_other_commands_nor_ruamel() -> None:
    """Each module imported is RSS for the agent's whole life (benchmarks/pipeline.py's budget)."""
    out = subprocess.run(
        [sys.executable, "-c", RUN_PATH, *NOT_ON_RUN_PATH], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"the run path imported: {out.stdout.strip()}"
