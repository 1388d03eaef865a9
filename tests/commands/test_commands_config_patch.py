"""`set`: merge patch, validation against the real schema, atomic write, rollback when applying fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.commands.config_patch import (
    REMOTE_SETTABLE,
    apply_config_patch,
    merge_patch,
    remote_settable,
    scrub,
)
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
    with pytest.raises(CommandError, match=r"mqtt\.host cannot be changed remotely"):
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


COMMENTED = """\
# Kitchen camera. Edited by hand: keep these comments.
device: {id: dev1, state_dir: state}   # flow style on purpose
mqtt:
  host: 127.0.0.1     # the site broker
  port: 1883
stats_interval_s: 30  # seconds

pipelines:
  cam:
    source: {kind: video, path: clip.mp4}
    model:
      path: model.onnx
      trusted_keys: [keys/release.pub]  # only our release key
    postprocess:
      kind: classification
      top_k: 3      # three best classes
"""


def test_set_keeps_comments_and_layout(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(COMMENTED)
    patch = {"stats_interval_s": 5, "pipelines": {"cam": {"postprocess": {"top_k": 1}, "source": {"fps": 2}}}}
    apply_config_patch(cfg, patch, lambda c: {})
    expected = (
        COMMENTED.replace("stats_interval_s: 30  #", "stats_interval_s: 5   #")  # comment column kept
        .replace("top_k: 3      #", "top_k: 1      #")
        .replace("{kind: video, path: clip.mp4}", "{kind: video, path: clip.mp4, fps: 2}")
    )
    assert cfg.read_text() == expected
    apply_config_patch(cfg, {"pipelines": {"cam": {"source": {"fps": None}}}}, lambda c: {})  # null deletes
    assert "fps" not in cfg.read_text()
    assert "# only our release key" in cfg.read_text()


def _leaves() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    from schema_leaves import schema_leaves

    return schema_leaves()


def test_the_allow_list_holds_no_path_key_or_connection_setting() -> None:
    """Every schema key a remote `set` may change is tuning: no file path, key, TLS, broker, device
    identity, program or network setting. A new path-typed field fails here until it is judged."""
    trust_words = (
        "trusted_keys",
        "require_signed",
        "tls",
        "path",
        "file",
        "arecord",
        "providers",
        "host",
        "port",
    )
    allowed = [(p, s) for p, s in _leaves() if remote_settable(p)]
    assert len(allowed) > 30
    for path, schema in allowed:
        assert path[0] not in ("mqtt", "device", "version"), path
        assert path[:2] != ("fleet", "commands"), path
        assert '"format": "path"' not in json.dumps(schema), path
        assert not any(w in part for part in path for w in trust_words), path
    # and every allow-list entry names keys that exist (no stale entry that a future field could fill)
    for pattern in REMOTE_SETTABLE:
        assert any(remote_settable(p) and _matches(pattern, p) for p, _ in _leaves()), pattern


def _matches(pattern: str, path: tuple[str, ...]) -> bool:
    parts = pattern.split(".")
    if parts[-1] == "**":
        parts = parts[:-1]
        return len(path) >= len(parts) and all(a in ("*", b) for a, b in zip(parts, path, strict=False))
    return len(parts) == len(path) and all(a in ("*", b) for a, b in zip(parts, path, strict=True))


@pytest.mark.parametrize(
    "patch",
    [
        {"fleet": {"commands": {"trusted_keys": ["state/updates/chunks/t/000000.part"]}}},
        {"fleet": {"commands": {"require_signed": False}}},
        {"pipelines": {"cam": {"model": {"trusted_keys": ["/etc/passwd"]}}}},
        {"pipelines": {"cam": {"model": {"path": "state/updates/chunks/t/000000.part"}}}},
        {"mqtt": {"tls": {"ca_file": "/tmp/ca.pem"}}},
        {"device": {"state_dir": "/"}},
        {"outbox": {"path": "/dev/sda"}},
        {"pipelines": {"cam": {"postprocess": {"labels_file": "/etc/shadow"}}}},
    ],
)
def test_refusals_name_the_key_not_the_paths(cfg: Path, patch: dict[str, Any]) -> None:
    with pytest.raises(CommandError) as info:
        apply_config_patch(cfg, patch, lambda c: {})
    assert info.value.code == "refused"
    assert "cannot be changed remotely" in info.value.reason
    assert "/" not in info.value.reason  # neither the configured paths nor the ones in the patch
    assert cfg.read_text() == CONFIG


def test_validation_errors_name_the_key_not_the_value(cfg: Path) -> None:
    cfg.write_text(
        CONFIG.replace("source: {kind: video, path: clip.mp4}", "source: {kind: video, path: /srv/x}")
    )
    with pytest.raises(CommandError) as info:
        apply_config_patch(cfg, {"pipelines": {"cam": {"source": {"fps": "/srv/secret"}}}}, lambda c: {})
    assert info.value.code == "invalid_args"
    assert "pipelines.cam.source.fps" in info.value.reason
    assert "/srv" not in info.value.reason
    assert scrub("cannot open /srv/x/model.onnx: gone") == "cannot open <path> gone"
