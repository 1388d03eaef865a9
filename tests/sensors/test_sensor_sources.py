"""Sensor sources on real OS plumbing: a pseudo-terminal pair, a sysfs-shaped tree, files, Mosquitto
(the MQTT input through the agent's own publisher connection)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.errors import SourceError
from edge_agent.features.config import WindowConfig
from edge_agent.publish.config import MqttConfig
from edge_agent.publish.mqtt import MqttPublisher
from edge_agent.sources.mqtt_input import SensorTopics
from edge_agent.sources.sensor_config import (
    IioSensorConfig,
    MqttSensorConfig,
    ReplaySensorConfig,
    SerialSensorConfig,
)
from edge_agent.sources.sensors import SensorSource, parse_line


def _drain(src: SensorSource, n: int | None = None) -> list[Any]:
    frames = []
    while n is None or len(frames) < n:
        f = src.read()
        if f is None:
            break
        frames.append(f)
    return frames


def test_serial_lines_through_a_pty_pair() -> None:
    pytest.importorskip("serial", reason="the serial extra (pyserial) is not installed")
    master, slave = os.openpty()
    src = SensorSource(SerialSensorConfig(kind="serial", port=os.ttyname(slave), baud=9600), "uart")
    src.open()
    try:
        assert src.live
        lines = [b"1.5,2.5,-3\r\n", b"garbage line\n", b'{"a": 4, "b": 5, "c": 6}\n', b"7 8 9\n"]
        threading.Thread(target=lambda: [os.write(master, ln) for ln in lines], daemon=True).start()
        frames = _drain(src, 3)
        assert [f.data.tolist() for f in frames] == [[1.5, 2.5, -3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
        assert src.reader.skipped == 1  # type: ignore[attr-defined]
        assert frames[0].ts == pytest.approx(time.time(), abs=5)
    finally:
        src.close()
        os.close(master)
        os.close(slave)


def test_serial_missing_port_is_a_source_error(tmp_path: Path) -> None:
    pytest.importorskip("serial")
    src = SensorSource(SerialSensorConfig(kind="serial", port=str(tmp_path / "ttyUSB9")))
    with pytest.raises(SourceError, match="ttyUSB9"):
        src.open()


def _fake_iio(root: Path) -> Path:
    dev = root / "sys/bus/iio/devices/iio:device0"
    dev.mkdir(parents=True)
    files = {
        "name": "lsm6dsx",
        "in_accel_x_raw": "100",
        "in_accel_y_raw": "-50",
        "in_accel_z_raw": "16384",
        "in_accel_scale": "0.000598",
        "in_accel_z_offset": "-16",  # shared scale, own offset
        "in_temp_raw": "250",
        "in_temp_scale": "0.1",
        "in_temp_offset": "200",
    }
    for name, text in files.items():
        (dev / name).write_text(text + "\n")
    return dev


def test_iio_polling_applies_scale_and_offset(tmp_path: Path) -> None:
    dev = _fake_iio(tmp_path)
    channels = ["in_accel_x", "in_accel_y", "in_accel_z", "in_temp"]
    cfg = IioSensorConfig(kind="iio", device=str(dev), rate_hz=50, channels=channels)
    src = SensorSource(cfg, "imu")
    src.open()
    t0 = time.monotonic()
    first = _drain(src, 5)
    assert time.monotonic() - t0 >= 4 / 50 * 0.9  # paced at rate_hz
    np.testing.assert_allclose(first[0].data, [0.0598, -0.0299, (16384 - 16) * 0.000598, 45.0], rtol=1e-5)
    (dev / "in_accel_x_raw").write_text("-200\n")  # the driver updates the value between polls
    assert src.read().data[0] == pytest.approx(-0.1196)  # type: ignore[union-attr]
    src.close()
    with pytest.raises(SourceError, match="no channel in_gyro_x"):
        SensorSource(cfg.model_copy(update={"channels": ["in_gyro_x"]})).open()


def test_csv_replay_paced_by_time_column_and_speed(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    rows = ["ts,x,y,note"] + [f"{100 + i * 0.1:.1f},{i},{-i},ok" for i in range(11)] + ["101.1,,3,gap"]
    path.write_text("\n".join(rows) + "\n")
    src = SensorSource(ReplaySensorConfig(kind="csv", path=str(path), speed=4.0))
    src.open()
    t0 = time.monotonic()
    frames = _drain(src)
    elapsed = time.monotonic() - t0
    src.close()
    assert len(frames) == 11  # the row with an empty x is skipped, the text column ignored
    assert elapsed == pytest.approx(1.0 / 4.0, abs=0.1)  # 1 s of recording at 4x
    assert frames[10].ts - frames[0].ts == pytest.approx(1.0)  # recorded spacing is kept
    assert frames[3].data.tolist() == [3.0, -3.0]


def test_jsonl_replay_into_feature_windows(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with path.open("w") as f:
        for i in range(20):
            f.write(json.dumps({"t": i * 0.5, "a": float(i), "b": 2.0}) + "\n")
    cfg = ReplaySensorConfig(
        kind="jsonl",
        path=str(path),
        time_key="t",
        speed=0,
        channels=["a", "b"],
        window=WindowConfig(size=8, hop=4, features=["mean", "max"]),
    )
    src = SensorSource(cfg)
    src.open()
    frames = _drain(src)
    assert len(frames) == 4  # windows end at readings 8, 12, 16, 20
    assert frames[0].data.tolist() == [3.5, 2.0, 7.0, 2.0]  # mean a, mean b, max a, max b
    assert frames[1].ts - frames[1].meta["start_ts"] == pytest.approx(3.5)


def test_parse_line_forms() -> None:
    assert parse_line("1;2;3", []).tolist() == [1, 2, 3]  # type: ignore[union-attr]
    assert parse_line('{"x": 1, "y": "a"}', ["x"]).tolist() == [1]  # type: ignore[union-attr]
    assert parse_line('{"x": 1}', ["x", "z"]) is None
    assert parse_line("nan,1", []) is None
    assert parse_line("", []) is None


def test_mqtt_topic_input(mosquitto: Any) -> None:
    topic = f"sensors/{os.getpid()}/vibration"
    agent_side = MqttPublisher(MqttConfig(host="127.0.0.1", port=mosquitto.port), f"t-{os.getpid()}", dict)
    agent_side.start()
    assert agent_side.wait_connected(10)
    cfg = MqttSensorConfig(kind="mqtt", topic=topic, channels=["x", "y"], window=WindowConfig(size=4, hop=4))
    src = SensorSource(cfg, "remote", SensorTopics(agent_side.subscribe))
    src.open()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        time.sleep(0.5)  # let the source's subscription land before publishing
        for i in range(9):
            pub.publish(topic, json.dumps({"ts": 1000.0 + i, "x": i, "y": 1}), qos=1).wait_for_publish(5)
        pub.publish(topic, b"not json", qos=1).wait_for_publish(5)
        frames = _drain(src, 2)
        assert [f.data.shape for f in frames] == [(4, 2), (4, 2)]  # raw windows
        assert frames[1].data[:, 0].tolist() == [4, 5, 6, 7]
        assert frames[1].ts == 1007.0  # the sender's time
    finally:
        pub.loop_stop()
        pub.disconnect()
        src.close()
        agent_side.stop()


def test_mqtt_inputs_share_a_topic_and_a_closed_one_stops_receiving() -> None:
    subscribed: list[tuple[str, Any]] = []
    topics = SensorTopics(lambda topic, fn: subscribed.append((topic, fn)))
    cfg = MqttSensorConfig(kind="mqtt", topic="sensors/+/temp", channels=["t"])
    a, b = SensorSource(cfg, "a", topics), SensorSource(cfg, "b", topics)
    a.open()
    b.open()
    assert [t for t, _ in subscribed] == ["sensors/+/temp"]  # one broker subscription for both

    class Msg:
        payload = b'{"ts": 5.0, "t": 21.5}'

    subscribed[0][1](Msg())
    assert a.read().data.tolist() == b.read().data.tolist() == [21.5]  # type: ignore[union-attr]
    b.close()
    subscribed[0][1](Msg())
    assert a.read().ts == 5.0  # type: ignore[union-attr]
    assert b.reader._q.empty()  # type: ignore[attr-defined]
    a.close()


def test_mqtt_input_without_the_agent_connection_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="through the agent's MQTT connection"):
        SensorSource(MqttSensorConfig(kind="mqtt", topic="sensors/x"))
