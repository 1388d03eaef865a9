"""Fixtures for the text pipeline tests: the real SmolLM2 bundle and an engine on it (built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.bundle.verify import verify_bundle
from edge_agent.text.engine import Prompt, TextEngine
from tests.text.slm_bundle import slm_bundle


@pytest.fixture(scope="session")
def triage_bundle() -> Path:
    """SmolLM2-135M int4 as a signed SLM bundle with the log-triage prompt (skips without .venv-slm)."""
    return slm_bundle()


@pytest.fixture(scope="session")
def engine(triage_bundle: Path) -> TextEngine:
    bundle = verify_bundle(triage_bundle)
    assert bundle.manifest.slm is not None
    return TextEngine(bundle, bundle.manifest.slm, threads=1)


@pytest.fixture(scope="session")
def triage_prompt(engine: TextEngine) -> Prompt:
    return Prompt.of(engine.prompt_spec)
