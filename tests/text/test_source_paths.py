"""A text pipeline's input files, as every other source's: relative to the config file's folder, and
`config validate` names the key and line of one that is missing or of the wrong kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.cli.main import main
from edge_agent.config import load_config
from edge_agent.text.source_config import JournaldConfig, LogFollowConfig, TextFileConfig


def _config(tmp_path: Path, source: str) -> Path:
    (tmp_path / "bundles" / "logtriage").mkdir(parents=True, exist_ok=True)  # the model's folder exists
    cfg = tmp_path / "conf" / "agent.yaml"
    cfg.parent.mkdir(exist_ok=True)
    cfg.write_text(
        "pipelines:\n"
        "  triage:\n"
        f"    source: {source}\n"
        f"    model: {{path: {tmp_path / 'bundles' / 'logtriage'}}}\n"
        "    postprocess: {kind: text}\n",
        encoding="utf-8",
    )
    return cfg


def test_text_input_paths_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "{kind: text_file, path: logs/in.jsonl, format: jsonl}")
    src = load_config(cfg).pipelines["triage"].source
    assert isinstance(src, TextFileConfig)
    assert Path(src.path) == tmp_path / "conf" / "logs" / "in.jsonl"

    cfg = _config(tmp_path, "{kind: log_follow, path: syslog}")
    follow = load_config(cfg).pipelines["triage"].source
    assert isinstance(follow, LogFollowConfig)
    assert Path(follow.path) == tmp_path / "conf" / "syslog"

    cfg = _config(tmp_path, "{kind: journald, directory: journal}")
    journal = load_config(cfg).pipelines["triage"].source
    assert isinstance(journal, JournaldConfig)
    assert journal.directory is not None
    assert Path(journal.directory) == tmp_path / "conf" / "journal"

    cfg = _config(tmp_path, "{kind: log_follow, path: /var/log/syslog}")
    absolute = load_config(cfg).pipelines["triage"].source
    assert isinstance(absolute, LogFollowConfig)
    assert absolute.path == "/var/log/syslog"


def _validate(cfg: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["config", "validate", str(cfg)])
    return rc, capsys.readouterr().err


def test_validate_names_a_missing_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, "{kind: text_file, path: logs/in.log}")
    rc, err = _validate(cfg, capsys)
    assert rc == 1
    assert "pipelines.triage.source.path (line 3): " in err
    assert f"{tmp_path / 'conf' / 'logs' / 'in.log'} does not exist; expected a readable file" in err
    (tmp_path / "conf" / "logs" / "in.log").mkdir(parents=True)
    rc, err = _validate(cfg, capsys)
    assert rc == 1
    assert "in.log is a folder; expected a readable file for a text_file source" in err
    (tmp_path / "conf" / "logs" / "in.log").rmdir()
    (tmp_path / "conf" / "logs" / "in.log").write_text("Started x.\n", encoding="utf-8")
    assert _validate(cfg, capsys)[0] == 0


def test_validate_lets_a_followed_log_be_absent_but_not_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, "{kind: log_follow, path: var/syslog}")
    rc, err = _validate(cfg, capsys)
    assert rc == 1
    assert "pipelines.triage.source.path (line 3): " in err
    assert "var does not exist; expected the folder of a log_follow source's log file" in err
    (tmp_path / "conf" / "var").mkdir()
    assert _validate(cfg, capsys)[0] == 0  # tail -F: the file may appear later
    (tmp_path / "conf" / "var" / "syslog").mkdir()
    rc, err = _validate(cfg, capsys)
    assert rc == 1
    assert "syslog is a folder; expected a readable log file" in err


def test_validate_names_a_missing_journal_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, "{kind: journald, directory: journal}")
    rc, err = _validate(cfg, capsys)
    assert rc == 1
    assert "pipelines.triage.source.directory (line 3): " in err
    assert "journal does not exist; expected a folder of journal files" in err
    (tmp_path / "conf" / "journal").mkdir()
    assert _validate(cfg, capsys)[0] == 0
