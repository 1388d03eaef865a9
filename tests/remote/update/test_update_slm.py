"""An OTA update to an SLM bundle (task slm), with the real SmolLM2 genai model (tests/slm_models.py)
wrapped as the text tests wrap it: the canary probes it with the text engine (onnxruntime-genai, one
token), not an ONNX Runtime session; a broken SLM bundle is refused at `canary` with the reason and
the pipeline keeps running the old one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from bundle_factory import archive

from edge_agent.bundle.manifest import MANIFEST, Manifest
from edge_agent.bundle.sign import sign_bundle
from edge_agent.inference.config import ModelConfig
from edge_agent.remote.update import Slots, UpdatePolicy, UpdateService
from edge_agent.text.engine import Prompt, TextEngine
from edge_agent.text.model import open_bundle
from tests.text.slm_bundle import KEY, _entries, public_key_file, slm_bundle

pytestmark = pytest.mark.timeout(600)


class SlmControl:
    """The pipeline's side of update_model for a text pipeline: each bundle it is given is opened by
    the text engine and asked for one token, as the text kind runs it."""

    def __init__(self, cfg: ModelConfig) -> None:
        self.cfg = cfg
        self.version: str | None = None
        self.loaded: list[Path] = []
        self.load(cfg.path)

    def load(self, path: Path) -> None:
        bundle, spec = open_bundle(self.cfg.model_copy(update={"path": path}))
        engine = TextEngine(bundle, spec)
        reply = engine.generate(
            "Started x.", Prompt.of(spec.prompt), max_input_tokens=16, max_new_tokens=1, timeout_s=60
        )
        assert reply.outcome == "ok", reply
        self.version = bundle.manifest.version
        self.loaded.append(path)

    def status(self) -> dict[str, Any]:
        return {"pipelines": {"triage": {"state": "running", "failures": 0, "version": self.version}}}

    def pipelines(self) -> list[str]:
        return ["triage"]

    def update_model(self, pipeline: str, bundle_dir: Path) -> None:
        self.load(bundle_dir)


def _variant(dest: Path, version: str, break_model: bool = False) -> Path:
    """A copy of the cached SLM bundle at another version, re-signed by the trusted key; with
    `break_model`, its weights cut in half (listed with their new hash, so it passes `verify`)."""
    src = slm_bundle()
    shutil.copytree(src, dest)  # a copy: a bundle's files may not be hard links
    if break_model:
        data = dest / "model" / "model.onnx.data"
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    manifest = Manifest.model_validate_json((src / MANIFEST).read_text(encoding="utf-8"))
    manifest = manifest.model_copy(update={"version": version, "files": _entries(dest)})
    (dest / MANIFEST).write_text(json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=2))
    sign_bundle(dest, KEY)
    return dest


@pytest.fixture
def control(tmp_path: Path) -> SlmControl:
    # the pipeline runs the cached bundle (version 0.1.0) as it is
    return SlmControl(ModelConfig(path=slm_bundle(), trusted_keys=[public_key_file(tmp_path)]))


def _service(control: SlmControl, state: Path, reports: list[dict[str, Any]]) -> UpdateService:
    agent: Any = control  # the narrow AgentControl view: status, pipelines, update_model
    return UpdateService(
        agent,
        state,
        "dev1",
        model_config=lambda _p: control.cfg,
        report=reports.append,
        policy=UpdatePolicy(health_window_s=0.3),
    )


def test_an_slm_bundle_is_probed_by_the_text_engine(tmp_path: Path, control: SlmControl) -> None:
    reports: list[dict[str, Any]] = []
    tgz, sha = archive(_variant(tmp_path / "v2", "2.0"))
    final = _service(control, tmp_path / "state", reports).run(
        "triage", {"url": tgz.as_uri(), "sha256": sha}, "u1"
    )
    assert final["state"] == "ok", reports
    canary = next(r for r in reports if r["step"] == "canary")
    assert canary["state"] == "ok"
    assert canary["runtime"] == "onnxruntime-genai"
    assert canary["tokens_out"] == 1
    assert canary["tokens_in"] > 10  # the chat-templated probe line
    assert control.version == "2.0"
    current = Slots(tmp_path / "state", "triage").current
    assert current is not None
    assert json.loads((current / MANIFEST).read_text())["version"] == "2.0"


def test_a_broken_slm_bundle_is_refused_and_the_old_one_runs_on(tmp_path: Path, control: SlmControl) -> None:
    reports: list[dict[str, Any]] = []
    tgz, sha = archive(_variant(tmp_path / "v2", "2.0", break_model=True))
    final = _service(control, tmp_path / "state", reports).run(
        "triage", {"url": tgz.as_uri(), "sha256": sha}, "u2"
    )
    assert final["state"] == "failed", reports
    assert final["failed_step"] == "canary"
    assert "the SLM bundle does not load" in final["reason"]
    assert [r["step"] for r in reports if r["state"] == "ok"] == ["verify"]  # never swapped
    assert control.version == "0.1.0"
    assert control.loaded == [control.cfg.path]
    assert Slots(tmp_path / "state", "triage").current is None
