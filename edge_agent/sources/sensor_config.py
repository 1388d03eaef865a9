"""Config models of the sensor sources, one per kind, and the sliding-window block they share.

PipelineConfig's `source:` tells them apart by `kind` (registered in edge_agent.config.kinds):

| kind          | model                | where readings come from                                   |
|---------------|----------------------|------------------------------------------------------------|
| `csv`, `jsonl`| ReplaySensorConfig   | `path`: a recorded file, paced by its time column          |
| `serial`      | SerialSensorConfig   | `port`: a serial port (pyserial)                           |
| `iio`         | IioSensorConfig      | `device`: a Linux IIO device folder in sysfs, polled       |
| `mqtt`        | MqttSensorConfig     | `topic`: subscribed through the agent's own MQTT connection|

Older configs gave every kind one `path` (the file, the port, the folder or the topic) and the MQTT
input its own `host`/`port`. Those keys are still read: `path` of serial/iio/mqtt is taken as the new
name, and `host`/`port` of an mqtt input are accepted when they name the agent's own broker (the input
now rides the agent's connection, with its TLS, credentials and reconnects); `legacy_keys` lists them
so `config validate` and `run` can warn with their lines, and a `host`/`port` naming another broker is
an error (see edge_agent.config.names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.features.config import WindowConfig
from edge_agent.strict import Strict
from edge_agent.topics import filter_problem

SENSOR_KINDS = ("csv", "jsonl", "serial", "iio", "mqtt")
# Keys renamed when the one flat sensor model became one model per kind: {kind: {old: new}}.
RENAMED = {"serial": {"path": "port"}, "iio": {"path": "device"}, "mqtt": {"path": "topic"}}
# Keys of the mqtt input that are gone (it rides the agent's connection): accepted for the agent's broker.
BROKER_KEYS = ("host", "port")


class SensorBase(Strict):
    """What every sensor source has: the channels, the windows, and how the capture thread runs it."""

    channels: list[str] = Field(
        default_factory=list,
        description="Names of the values that make a reading, in order; empty: every numeric value.",
    )
    window: WindowConfig | None = Field(
        default=None, description="Sliding windows and features; None: one frame per reading."
    )
    fps: float | None = Field(
        default=None,
        gt=0,
        description="Cap on frames (readings, or windows with `window:`) per second handed to the model: "
        "a live source skips those above it, a replay waits. None: no cap (the readings set the pace).",
    )
    retry_min_s: float = Field(default=0.5, gt=0, description="First retry delay after a failure.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")
    queue: int = Field(default=64, ge=1, le=4096, description="Frames buffered between capture and worker.")


def _non_empty(what: str) -> Any:
    def check(v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            raise ValueError(f"expected {what}, got an empty string")
        return v

    return check


def _renamed(kind: str, data: Any) -> Any:
    """`data` with this kind's old key names replaced by the new ones (giving both is an error)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for old, new in RENAMED[kind].items():
        if old in out:
            if new in out:
                raise ValueError(f"`{old}` is the old name of `{new}`: give only `{new}`")
            out[new] = out.pop(old)
    return out


class ReplaySensorConfig(SensorBase):
    """csv/jsonl: recorded readings replayed, paced by their time column divided by `speed`."""

    kind: Literal["csv", "jsonl"] = Field(
        description="csv: a file with a header row; jsonl: one JSON object per line."
    )
    path: str = Field(description="The file; relative to the config file's folder.")
    channels: list[str] = Field(
        default_factory=list,
        description="Columns (csv) or keys (jsonl) to read, in order; empty: every numeric field except "
        "the time column.",
    )
    time_key: str | None = Field(
        default="ts", description="Column or key holding the reading's time (seconds); None: 1 s apart."
    )
    speed: float = Field(
        default=1.0, ge=0, description="Replay speed factor (2 = twice as fast; 0 = at once)."
    )
    loop: bool = Field(default=False, description="Start again at the end.")

    _path = field_validator("path", mode="before")(_non_empty("a file"))


class SerialSensorConfig(SensorBase):
    """serial: text lines from a serial port (`1,2,3`, `1 2 3`, `1;2;3` or a JSON object)."""

    kind: Literal["serial"] = Field(description="Lines from a serial port (pyserial, the `serial` extra).")
    port: str = Field(description="The serial port, e.g. /dev/ttyUSB0 (formerly `path`).")
    baud: int = Field(default=115200, ge=50, description="Baud rate.")
    channels: list[str] = Field(
        default_factory=list,
        description="Keys to pick when a line is a JSON object, in order; empty: every value on the line.",
    )

    _port = field_validator("port", mode="before")(_non_empty("a serial port such as /dev/ttyUSB0"))

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return _renamed("serial", data)


class IioSensorConfig(SensorBase):
    """iio: Linux IIO channels polled in sysfs; value = (raw + offset) * scale, per the IIO ABI."""

    kind: Literal["iio"] = Field(description="Poll Linux IIO sysfs channels.")
    device: str = Field(
        description="The IIO device folder, e.g. /sys/bus/iio/devices/iio:device0 (formerly `path`)."
    )
    channels: list[str] = Field(
        min_length=1,
        description="IIO channel names to read, in order, e.g. [in_accel_x, in_accel_y, in_accel_z].",
    )
    rate_hz: float = Field(default=100.0, gt=0, description="Polling rate, readings per second.")

    _device = field_validator("device", mode="before")(
        _non_empty("an IIO device folder such as /sys/bus/iio/devices/iio:device0")
    )

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return _renamed("iio", data)


class MqttSensorConfig(SensorBase):
    """mqtt: readings other local devices publish, received through the agent's own MQTT connection
    (the `mqtt:` block: same broker, TLS, credentials and reconnects)."""

    kind: Literal["mqtt"] = Field(description="Readings published on a topic of the agent's broker.")
    topic: str = Field(
        description="Topic filter to subscribe to (+ and # allowed), e.g. sensors/pump-4/accel "
        "(formerly `path`). Payloads: a JSON object (keys = channels), a list or a number."
    )
    channels: list[str] = Field(
        default_factory=list,
        description="Keys to read from a JSON object, in order; empty: every numeric key except `time_key`.",
    )
    time_key: str | None = Field(
        default="ts",
        description="Key holding the sender's time (seconds); absent or None: the arrival time.",
    )

    @field_validator("topic")
    @classmethod
    def _filter(cls, v: str) -> str:
        problem = filter_problem(v)
        if problem is not None:
            raise ValueError(f"expected an MQTT topic filter: it {problem}")
        return v

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        data = _renamed("mqtt", data)
        if isinstance(data, dict):  # checked against the agent's broker by legacy_keys' caller
            data = {k: v for k, v in data.items() if k not in BROKER_KEYS}
        return data


SensorSourceConfig = ReplaySensorConfig | SerialSensorConfig | IioSensorConfig | MqttSensorConfig


@dataclass(frozen=True, slots=True)
class LegacyKey:
    """An old key found in a sensor `source:` block: a deprecation warning, or an error."""

    key: str
    message: str
    error: bool = False


def legacy_keys(raw: object, broker_host: str, broker_port: int) -> list[LegacyKey]:
    """Old keys in one raw `source:` mapping, given the agent's broker (`mqtt.host`, `mqtt.port`)."""
    if not isinstance(raw, Mapping):
        return []
    kind = raw.get("kind")
    found = [
        LegacyKey(old, f"deprecated: `{old}` of a {kind} source is now `{new}`; rename it")
        for old, new in RENAMED.get(str(kind), {}).items()
        if old in raw
    ]
    if kind != "mqtt":
        return found
    agent = {"host": broker_host, "port": broker_port}
    for key in BROKER_KEYS:
        if key not in raw:
            continue
        given = raw[key]
        same = given == agent[key] or (key == "port" and str(given) == str(agent[key]))
        if same:
            note = f"deprecated: the mqtt input rides the agent's connection (mqtt.{key}); remove `{key}`"
            found.append(LegacyKey(key, note))
        else:
            note = (
                f"the mqtt input subscribes through the agent's own connection (mqtt.{key}: "
                f"{agent[key]!r}), so `{key}: {given!r}` cannot be honoured: remove it, or point the "
                f"mqtt: block at that broker"
            )
            found.append(LegacyKey(key, note, error=True))
    return found
