"""One config model per sensor kind: each kind's own keys, errors with key and line, and the old flat
keys (`path` for every kind, the mqtt input's `host`/`port`) still read, with a warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.cli.main import main
from edge_agent.config.loader import parse_config
from edge_agent.errors import ConfigError
from edge_agent.sources.sensor_config import (
    IioSensorConfig,
    MqttSensorConfig,
    ReplaySensorConfig,
    SerialSensorConfig,
)

HEAD = (
    "mqtt: {host: 10.0.0.5, port: 8883}\n"  # 1
    "pipelines:\n"  # 2
    "  s:\n"  # 3
    "    model: {path: m.onnx}\n"  # 4
    "    postprocess: {kind: raw}\n"  # 5
    "    source:\n"  # 6
)


def _issues(source: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as exc:
        parse_config(HEAD + source)
    return [(i.path, i.line, i.message) for i in exc.value.issues]


def _write(tmp_path: Path, source: str) -> Path:
    (tmp_path / "m.onnx").write_bytes(b"")
    f = tmp_path / "agent.yaml"
    f.write_text(HEAD + source, encoding="utf-8")
    return f


def test_each_kind_gets_its_own_model() -> None:
    srcs = {
        "csv": "      {kind: csv, path: log.csv, speed: 0}\n",
        "serial": "      {kind: serial, port: /dev/ttyUSB0, baud: 9600}\n",
        "iio": "      {kind: iio, device: /sys/bus/iio/devices/iio:device0, channels: [in_accel_x]}\n",
        "mqtt": "      {kind: mqtt, topic: sensors/+/accel, channels: [x]}\n",
    }
    types = {"csv": ReplaySensorConfig, "serial": SerialSensorConfig, "iio": IioSensorConfig}
    for kind, src in srcs.items():
        got = parse_config(HEAD + src).pipelines["s"].source
        assert type(got) is types.get(kind, MqttSensorConfig)
    assert not hasattr(got, "host")  # the mqtt input has no broker of its own: it uses `mqtt:`


def test_bad_sensor_keys_name_key_and_line() -> None:
    assert _issues("      kind: csv\n      path: log.csv\n      baud: 9600\n") == [
        ("pipelines.s.source.baud", 9, "unknown key (not in the schema; check spelling and indentation)")
    ]
    assert _issues("      kind: iio\n      device: /sys/bus/iio/devices/iio:device0\n") == [
        ("pipelines.s.source.channels", 6, "required key is missing")
    ]
    assert _issues("      kind: iio\n      device: /sys/x\n      channels: []\n") == [
        ("pipelines.s.source.channels", 9, "List should have at least 1 item after validation, not 0")
    ]
    assert _issues("      kind: serial\n      port: ''\n") == [
        ("pipelines.s.source.port", 8, "expected a serial port such as /dev/ttyUSB0, got an empty string")
    ]
    [(key, line, msg)] = _issues("      kind: mqtt\n      topic: a/#/b\n")
    assert (key, line) == ("pipelines.s.source.topic", 8)
    assert msg == "expected an MQTT topic filter: it has # before the last level"
    [(key, line, msg)] = _issues("      kind: mqtt\n      topic: sensors/pump+/x\n")
    assert (key, line) == ("pipelines.s.source.topic", 8)
    assert msg.startswith("expected an MQTT topic filter: it has a wildcard inside the level 'pump+'")
    assert _issues("      kind: serial\n      port: /dev/ttyS0\n      path: /dev/ttyS1\n") == [
        ("pipelines.s.source", 6, "`path` is the old name of `port`: give only `port`")
    ]


def test_old_flat_keys_still_run_with_a_deprecation_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serial = parse_config(HEAD + "      {kind: serial, path: /dev/ttyUSB0}\n").pipelines["s"].source
    assert isinstance(serial, SerialSensorConfig)
    assert serial.port == "/dev/ttyUSB0"
    iio = parse_config(HEAD + "      {kind: iio, path: /sys/x, channels: [in_temp]}\n").pipelines["s"].source
    assert isinstance(iio, IioSensorConfig)
    assert iio.device == "/sys/x"

    # host and port name the agent's own broker (HEAD's mqtt: block)
    old = "      kind: mqtt\n      path: sensors/a\n      host: 10.0.0.5\n      port: 8883\n"
    cfg_file = _write(tmp_path, old)
    assert main(["config", "validate", "--json", str(cfg_file)]) == 0
    warnings = {(w["path"], w["line"]): w["message"] for w in json.loads(capsys.readouterr().out)["warnings"]}
    assert warnings == {
        ("pipelines.s.source.path", 8): "deprecated: `path` of a mqtt source is now `topic`; rename it",
        ("pipelines.s.source.host", 9): "deprecated: the mqtt input rides the agent's connection "
        "(mqtt.host); remove `host`",
        ("pipelines.s.source.port", 10): "deprecated: the mqtt input rides the agent's connection "
        "(mqtt.port); remove `port`",
    }
    src = parse_config(HEAD + old).pipelines["s"].source
    assert isinstance(src, MqttSensorConfig)
    assert src.topic == "sensors/a"


def test_an_mqtt_input_on_another_broker_is_refused_with_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_file = _write(tmp_path, "      kind: mqtt\n      topic: sensors/a\n      host: 127.0.0.1\n")
    assert main(["config", "validate", str(cfg_file)]) == 1
    err = capsys.readouterr().err
    assert "pipelines.s.source.host (line 9): the mqtt input subscribes through the agent's own" in err
    assert "remove it, or point the mqtt: block at that broker" in err
