"""Sensor sources: CSV/JSONL replay, a serial port, Linux IIO sysfs polling and an MQTT topic
(edge_agent.sources.mqtt_input, through the agent's own connection).

Each reader yields readings (a vector of `channels` numbers and a time); `SensorSource` turns them
into Frames, one per reading or, with `window:`, one per sliding window (raw or as features, see
edge_agent.features). A window's `ts` is its last reading's time (when it was complete);
`meta["start_ts"]` is its first.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.errors import SourceError
from edge_agent.features.windows import SlidingWindow, windowed
from edge_agent.sources.mqtt_input import MqttReader, Subscribe
from edge_agent.sources.readings import F32, Reader, Reading, number, values_of
from edge_agent.sources.sensor_config import (
    IioSensorConfig,
    ReplaySensorConfig,
    SensorSourceConfig,
    SerialSensorConfig,
)
from edge_agent.stages.types import Frame

log = logging.getLogger(__name__)


class ReplayReader:
    """CSV (header row) or JSONL records, paced by their time column divided by `speed`.

    Times are replayed as if recorded now: a reading's ts is the open time plus its offset from the
    first record, so results carry current Unix times while gaps and order stay as recorded.
    """

    live = False

    def __init__(self, cfg: ReplaySensorConfig) -> None:
        self.cfg = cfg
        self._rows: Iterator[dict[str, Any]] | None = None
        self._file: Any = None
        self._t_first: float | None = None
        self._wall0 = 0.0
        self._n = 0
        self.skipped = 0

    def open(self) -> None:
        path = Path(self.cfg.path)
        try:
            self._file = path.open(encoding="utf-8", newline="")
        except OSError as exc:
            raise SourceError(f"{self.cfg.kind} replay: cannot open {path}: {exc.strerror}") from exc
        if self.cfg.kind == "csv":
            self._rows = iter(csv.DictReader(self._file))
        else:
            self._rows = (json.loads(line) for line in self._file if line.strip())
        self._t_first, self._wall0, self._n = None, time.time(), 0

    def next(self) -> Reading | None:
        if self._rows is None:
            raise SourceError("source is not open")
        while True:
            try:
                rec = next(self._rows)
            except StopIteration:
                if self.cfg.loop and self._n:
                    self.close()
                    self.open()
                    continue
                return None
            except json.JSONDecodeError as exc:
                raise SourceError(f"{self.cfg.path}: bad JSON line: {exc}") from exc
            vals = values_of(rec, self.cfg.channels, self.cfg.time_key) if isinstance(rec, dict) else None
            if vals is None:
                self.skipped += 1  # a gap in a log is common; one bad line must not stop the replay
                continue
            self._n += 1
            return vals, self._time(rec)

    def _time(self, rec: dict[str, Any]) -> float:
        t = number(rec.get(self.cfg.time_key)) if self.cfg.time_key else None
        if t is None:
            t = float(self._n)  # no time column: one reading per second of "recording"
        if self._t_first is None:
            self._t_first = t
        offset = t - self._t_first
        if self.cfg.speed > 0:
            delay = self._wall0 + offset / self.cfg.speed - time.time()
            if delay > 0:
                time.sleep(delay)
        return self._wall0 + offset

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._rows = None


def parse_line(line: str, channels: Sequence[str]) -> F32 | None:
    """One text line: a JSON object (values picked by `channels`) or numbers separated by , ; or spaces."""
    line = line.strip()
    if not line:
        return None
    if line.startswith("{"):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            return None
        return values_of(rec, channels, None) if isinstance(rec, dict) else None
    vals = [number(p) for p in line.replace(",", " ").replace(";", " ").split()]
    if not vals or any(v is None for v in vals):
        return None
    return np.array(vals, dtype=np.float32)


class SerialReader:
    """Lines from a serial port (pyserial); the time is when the line arrived."""

    live = True

    def __init__(self, cfg: SerialSensorConfig) -> None:
        self.cfg = cfg
        self._port: Any = None
        self.skipped = 0

    def open(self) -> None:
        try:
            import serial  # the serial extra
        except ImportError as exc:
            raise SourceError(
                "serial sources need pyserial: pip install 'onnx-edge-agent[serial]' "
                "(from a clone: '.[serial]')"
            ) from exc
        try:
            self._port = serial.Serial(self.cfg.port, self.cfg.baud, timeout=1.0)
        except (serial.SerialException, OSError) as exc:
            raise SourceError(f"serial {self.cfg.port}: {exc}") from exc

    def next(self) -> Reading | None:
        if self._port is None:
            raise SourceError("source is not open")
        while self._port is not None:
            try:
                raw = self._port.readline()
            except Exception as exc:  # pyserial raises SerialException or OSError when a USB adapter goes
                raise SourceError(f"serial {self.cfg.port}: {exc}") from exc
            if not raw:
                continue  # read timeout: nothing sent yet
            vals = parse_line(raw.decode("utf-8", errors="replace"), self.cfg.channels)
            if vals is None:
                self.skipped += 1
                continue
            return vals, time.time()
        return None

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None


class IioReader:
    """Polls Linux IIO channels in sysfs: value = (raw + offset) * scale, per the IIO ABI."""

    live = True

    def __init__(self, cfg: IioSensorConfig) -> None:
        self.cfg = cfg
        self.dir = Path(cfg.device)
        self._raw: list[Path] = []
        self._scale = np.ones(0, dtype=np.float64)
        self._offset = np.zeros(0, dtype=np.float64)
        self._next_due = 0.0

    def _attr(self, channel: str, attr: str, default: float) -> float:
        # Per-channel attribute first (in_accel_x_scale), then the shared one (in_accel_scale).
        shared = channel.rsplit("_", 1)[0]
        for name in (f"{channel}_{attr}", f"{shared}_{attr}"):
            p = self.dir / name
            if p.is_file():
                v = number(p.read_text().strip())
                if v is None:
                    raise SourceError(f"iio {p}: expected a number, got {p.read_text().strip()!r}")
                return v
        return default

    def open(self) -> None:
        if not self.dir.is_dir():
            raise SourceError(f"iio device not found: {self.dir}")
        self._raw = []
        for ch in self.cfg.channels:
            p = self.dir / f"{ch}_raw"
            if not p.is_file():
                have = sorted(x.name[:-4] for x in self.dir.glob("*_raw"))
                raise SourceError(f"iio {self.dir}: no channel {ch}; it has {have}")
            self._raw.append(p)
        self._scale = np.array([self._attr(c, "scale", 1.0) for c in self.cfg.channels])
        self._offset = np.array([self._attr(c, "offset", 0.0) for c in self.cfg.channels])
        self._next_due = time.monotonic()

    def next(self) -> Reading | None:
        if not self._raw:
            raise SourceError("source is not open")
        delay = self._next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_due = max(self._next_due + 1.0 / self.cfg.rate_hz, time.monotonic())
        try:
            raw = np.array([float(p.read_text()) for p in self._raw])
        except (OSError, ValueError) as exc:
            raise SourceError(f"iio {self.dir}: {exc}") from exc
        return ((raw + self._offset) * self._scale).astype(np.float32), time.time()

    def close(self) -> None:
        self._raw = []


def open_reader(cfg: SensorSourceConfig, subscribe: Subscribe | None = None) -> tuple[Reader, str]:
    """The reader for a sensor config, and what it reads (the file, port, folder or topic)."""
    if isinstance(cfg, ReplaySensorConfig):
        return ReplayReader(cfg), cfg.path
    if isinstance(cfg, SerialSensorConfig):
        return SerialReader(cfg), cfg.port
    if isinstance(cfg, IioSensorConfig):
        return IioReader(cfg), cfg.device
    return MqttReader(cfg, subscribe), cfg.topic


class SensorSource:
    """Source (edge_agent.sources.base): readings in, one Frame per reading or per window out."""

    def __init__(self, cfg: SensorSourceConfig, name: str = "", subscribe: Subscribe | None = None) -> None:
        """`subscribe`: the agent's MQTT connection, which an `mqtt` input needs (mqtt_input.Subscribe)."""
        self.cfg = cfg
        self.reader, where = open_reader(cfg, subscribe)
        self.name = name or where
        self.live = self.reader.live
        w = cfg.window
        self.window = SlidingWindow(w.size, w.hop) if w is not None else None
        self._index = 0
        self._width: int | None = None

    def open(self) -> None:
        self.reader.open()
        if self.window is not None:
            self.window.reset()

    def read(self) -> Frame | None:
        while True:
            got = self.reader.next()
            if got is None:
                return None
            vals, ts = got
            if self._width is None:
                self._width = len(vals)
            elif len(vals) != self._width:
                log.warning(
                    "%s: reading with %d values, expected %d; skipped", self.name, len(vals), self._width
                )
                continue
            if self.window is None or self.cfg.window is None:
                return self._frame(vals, ts, ts)
            win = self.window.push(vals, ts)
            if win is not None:
                return self._frame(windowed(self.cfg.window, win[0]), win[2], win[1])

    def _frame(self, data: F32, ts: float, start_ts: float) -> Frame:
        f = Frame(data, ts=ts, index=self._index, source=self.name, meta={"start_ts": start_ts})
        self._index += 1
        return f

    def close(self) -> None:
        self.reader.close()
