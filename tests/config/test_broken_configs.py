"""A corpus of broken configs: each error must name the key path, the YAML line and what was expected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from edge_agent.cli.main import main
from edge_agent.config import load_config, parse_config
from edge_agent.errors import ConfigError

GOOD_PIPE = """\
pipelines:
  door:
    source: {kind: video, path: clip.mp4}
    model: {path: model.onnx}
    postprocess: {kind: classification}
"""

# (yaml text, expected key path, expected line, words the message must contain)
CASES: list[tuple[str, str, int | None, str]] = [
    ("device:\n  idd: x\n" + GOOD_PIPE, "device.idd", 2, "unknown key"),
    ("mqtt:\n  port: 70000\n" + GOOD_PIPE, "mqtt.port", 2, "less than or equal to 65535"),
    ("mqtt:\n  port: eighty\n" + GOOD_PIPE, "mqtt.port", 2, "valid integer"),
    ("mqtt:\n  protocol: 4\n" + GOOD_PIPE, "mqtt.protocol", 2, "'5' or '3.1.1'"),
    ("mqtt:\n  prefix: 'a/#'\n" + GOOD_PIPE, "mqtt.prefix", 2, "without wildcards"),
    ("mqtt:\n  tls: {cert_file: c.pem}\n" + GOOD_PIPE, "mqtt.tls", 2, "cert_file and key_file go together"),
    ("mqtt:\n  reconnect_min_s: 10\n  reconnect_max_s: 1\n" + GOOD_PIPE, "mqtt", 1, "reconnect_max_s"),
    ("pipelines: {}\n", "pipelines", 1, "at least one pipeline"),
    ("device: {id: x}\n", "pipelines", 1, "required key is missing"),
    (
        "pipelines:\n  door:\n    source: {kind: webcam, path: 0}\n    model: {path: m.onnx}\n",
        "pipelines.door.source.kind",
        3,
        "'video', 'folder', 'camera', 'stream'",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n",
        "pipelines.door.model",
        2,
        "required key is missing",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n    model:\n      path: m.onnx\n"
        "      intra_op_threads: many\n",
        "pipelines.door.model.intra_op_threads",
        6,
        "valid integer",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n    model: {path: m.onnx}\n"
        "    postprocess:\n      kind: yolo\n      iou: 2\n",
        "pipelines.door.postprocess.iou",
        7,
        "less than or equal to 1",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n    model: {path: m.onnx}\n"
        "    postprocess: {kind: segmentation}\n",
        "pipelines.door.postprocess",
        5,
        "one of",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n    model: {path: m.onnx}\n"
        "    preprocess:\n      std: [1, 0, 1]\n",
        "pipelines.door.preprocess.std",
        6,
        "non-zero",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n    model: {path: m.onnx}\n"
        "    preprocess: {resize: crop}\n",
        "pipelines.door.preprocess.resize",
        5,
        "'stretch' or 'letterbox'",
    ),
    (
        "pipelines:\n  'bad name':\n    source: {kind: video, path: a.mp4}\n    model: {path: m.onnx}\n",
        "pipelines.bad name",
        2,
        "match pattern",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4, fps: -5}\n    model: {path: m.onnx}\n",
        "pipelines.door.source.fps",
        3,
        "greater than 0",
    ),
    (
        "pipelines:\n  door:\n    source: {kind: video, path: a.mp4}\n    model:\n      path: m.onnx\n"
        "      providers: [{name: CUDAExecutionProvider, opts: {}}]\n",
        "pipelines.door.model.providers[0].opts",
        6,
        "unknown key",
    ),
    ("log_level: verbose\n" + GOOD_PIPE, "log_level", 1, "'debug', 'info', 'warning' or 'error'"),
    ("device:\n  id: x\ndevice:\n  id: y\n" + GOOD_PIPE, "device", 3, "duplicate key"),
    ("pipelines:\n  door: [unclosed\n", "pipelines.door", 3, "not valid YAML"),
    ("- just\n- a list\n", "", 1, "expected a mapping"),
    ("version: 2\n" + GOOD_PIPE, "version", 1, "expected 1"),
]


@pytest.mark.parametrize(("text", "path", "line", "words"), CASES, ids=[c[1] or c[3] for c in CASES])
def test_broken_config_names_key_line_and_expectation(
    text: str, path: str, line: int | None, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "broken.yaml")
    issues = info.value.issues
    match = [i for i in issues if i.path == path]
    assert match, f"no issue for {path!r}; got {[str(i) for i in issues]}"
    assert match[0].line == line, str(match[0])
    assert words in match[0].message, str(match[0])


def test_every_error_is_reported_at_once() -> None:
    text = "device:\n  idd: x\nmqtt:\n  port: 0\n" + GOOD_PIPE
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert {i.path for i in info.value.issues} == {"device.idd", "mqtt.port"}


def test_good_config_and_relative_paths(tmp_path: Path) -> None:
    cfg_file = tmp_path / "agent.yaml"
    cfg_file.write_text(
        textwrap.dedent(
            """\
            device: {id: kitchen, state_dir: state}
            mqtt: {protocol: 5, username: cam}
            pipelines:
              door:
                source: {kind: camera, path: 0, fps: 5}
                model: {path: models/m.onnx, providers: [CPUExecutionProvider]}
                postprocess: {kind: classification, top_k: 1}
            """
        )
    )
    cfg = load_config(cfg_file)
    assert cfg.mqtt.protocol == "5"
    pipe = cfg.pipelines["door"]
    assert pipe.source.path == "0"  # a camera index stays an index, not a path
    assert pipe.model.path == tmp_path / "models" / "m.onnx"
    assert pipe.model.providers is not None
    assert pipe.model.providers[0].name == "CPUExecutionProvider"
    assert cfg.device.state_dir == tmp_path / "state"


def test_cli_validate_prints_every_error_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("device:\n  idd: x\n" + GOOD_PIPE)
    assert main(["config", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "device.idd (line 2): unknown key" in err
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_PIPE)
    assert main(["config", "validate", str(good)]) == 1  # valid, but clip.mp4 and model.onnx are not there
    err = capsys.readouterr().err
    assert "pipelines.door.model.path (line 4): " in err
    assert "pipelines.door.source.path (line 3): " in err
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "model.onnx").write_bytes(b"x")
    assert main(["config", "validate", str(good)]) == 0
    assert "OK" in capsys.readouterr().out


def test_cli_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["config", "validate"])
    assert info.value.code == 2


def test_secrets_come_from_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_agent.credentials import read_secret

    monkeypatch.setenv("MY_PW", "from-env")
    assert read_secret("mqtt-password", "MY_PW") == "from-env"
    (tmp_path / "mqtt-password").write_text("from-credentials\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_secret("mqtt-password", "MY_PW") == "from-credentials"
