"""`set`: merge patch, validation against the real schema, atomic write, rollback when applying fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.commands.config_patch import apply_config_patch, merge_patch
from edge_agent.config.models import AgentConfig
from edge_agent.errors import CommandError

CONFIG = """\
device: {id: dev1, state_dir: state}
mqtt: {host: 127.0.0.1, port: 1883}
stats_interval_s: 30
pipelines:
  cam:
    source: {kind: video, path: clip.mp4}
    model: {path: model.onnx}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "agent.yaml"
    p.write_text(CONFIG)
    return p


def test_merge_patch_rfc7396() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None, "e": 3}, "d": [1]}) == {
        "a": {"c": 2, "e": 3},
        "d": [1],
    }


def test_valid_patch_written_and_applied(cfg: Path) -> None:
    seen: list[AgentConfig] = []

    def apply(c: AgentConfig) -> dict[str, Any]:
        seen.append(c)
        return {"restarted": ["cam"]}

    out = apply_config_patch(
        cfg, {"stats_interval_s": 5, "pipelines": {"cam": {"source": {"fps": 2}}}}, apply
    )
    assert out == {"applied": True, "restarted": ["cam"]}
    assert seen[0].stats_interval_s == 5
    on_disk = yaml.safe_load(cfg.read_text())
    assert on_disk["pipelines"]["cam"]["source"] == {"kind": "video", "path": "clip.mp4", "fps": 2}
    assert not [p for p in cfg.parent.iterdir() if p.name.startswith(".agent.yaml")]  # no temp left


def test_invalid_patch_refused_file_untouched(cfg: Path) -> None:
    with pytest.raises(CommandError) as info:
        apply_config_patch(cfg, {"stats_interval_s": 0}, lambda c: {})
    assert info.value.code == "invalid_args"
    assert "stats_interval_s" in info.value.reason
    assert cfg.read_text() == CONFIG


def test_protected_keys(cfg: Path) -> None:
    with pytest.raises(CommandError, match="mqtt.host cannot be changed remotely"):
        apply_config_patch(cfg, {"mqtt": {"host": "evil"}}, lambda c: {})


def test_failed_apply_rolls_back(cfg: Path) -> None:
    applied: list[float] = []

    def apply(c: AgentConfig) -> dict[str, Any]:
        applied.append(c.stats_interval_s)
        if c.stats_interval_s == 7:
            raise OSError("camera busy")
        return {}

    with pytest.raises(CommandError, match="rolled back: camera busy") as info:
        apply_config_patch(cfg, {"stats_interval_s": 7}, apply)
    assert info.value.code == "failed"
    assert cfg.read_text() == CONFIG
    assert applied == [7, 30]
