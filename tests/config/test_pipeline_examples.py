"""Every config in docs/examples parses against the schema (they are documentation that must not rot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config.loader import load_config

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "examples").glob("*.yaml"))


def test_one_example_per_kind_of_pipeline() -> None:
    assert {p.stem for p in EXAMPLES} >= {"camera", "audio", "sensor", "ensemble", "cascade"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_parses(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.pipelines
    for pipe in cfg.pipelines.values():
        assert pipe.postprocess is not None
