"""The stage protocols are a leaf, and every source kind the config accepts has a pipeline kind."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import edge_agent.stages
from edge_agent.config.kinds import KINDS, SourceBlock, kind_for, source_kinds
from edge_agent.config.models import PipelineConfig
from edge_agent.pipeline.kinds import PipelineKind, kind_of, load_kind

STAGES = Path(edge_agent.stages.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_stages_package_imports_only_stdlib_numpy_and_itself() -> None:
    modules = sorted(STAGES.glob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "protocols.py", "types.py"}
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            allowed = top in sys.stdlib_module_names or top == "numpy" or name.startswith("edge_agent.stages")
            assert allowed, f"{path.name} imports {name}"


def test_importing_the_protocols_loads_no_other_module_of_the_project() -> None:
    probe = (
        "import sys, edge_agent.stages.protocols\n"
        "print(sorted(m for m in sys.modules if m.startswith('edge_agent.')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(
        ["edge_agent.stages", "edge_agent.stages.protocols", "edge_agent.stages.types"]
    )


def test_every_source_kind_the_config_accepts_has_a_pipeline_kind() -> None:
    accepted: set[str] = set()
    for model in typing.get_args(PipelineConfig.model_fields["source"].annotation):
        accepted |= set(typing.get_args(model.model_fields["kind"].annotation))
    assert accepted  # the union was read
    assert accepted == set(source_kinds())
    assert len(source_kinds()) == len(accepted)  # no source kind registered twice


def test_every_registered_kind_loads_and_has_the_hooks() -> None:
    for kind in KINDS:
        impl = load_kind(kind.factory)
        assert load_kind(kind.factory) is impl  # imported and instantiated once
        for hook in ("source", "gate", "stages"):
            assert callable(getattr(impl, hook, None)), f"{kind.factory} has no {hook}()"
        read = {k for k in vars(SourceBlock) if not k.startswith("_")}  # what the runner reads of them
        assert "queue" in read
        for cls in kind.source_classes:
            missing = {k for k in read if k not in cls.model_fields}
            assert missing == set(), f"{cls.__name__} lacks {sorted(missing)}"


def test_kind_of_picks_the_registered_implementation() -> None:
    cfg = PipelineConfig.model_validate(
        {"source": {"kind": "alsa"}, "model": {"path": "m.onnx"}, "postprocess": {"kind": "vad"}}
    )
    impl: PipelineKind[typing.Any] = kind_of(cfg)
    assert type(impl).__name__ == "Audio"
    assert kind_for("alsa").factory == "edge_agent.pipeline.signals:Audio"


def test_a_kind_is_imported_only_when_a_pipeline_of_it_starts() -> None:
    probe = (
        "import sys\n"
        "from edge_agent.config.models import PipelineConfig\n"
        "from edge_agent.pipeline.kinds import kind_of\n"
        "cfg = PipelineConfig.model_validate({'source': {'kind': 'alsa'}, 'model': {'path': 'm.onnx'}})\n"
        "before = 'edge_agent.pipeline.signals' in sys.modules\n"
        "kind_of(cfg)\n"
        "loaded = [m in sys.modules for m in ('edge_agent.pipeline.signals', 'edge_agent.pipeline.vision')]\n"
        "print(before, *loaded)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "False"]
