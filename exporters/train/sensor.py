"""Sensor-window classification: readings → the agent's windows and features → a small MLP.

Data: a folder with one sub-folder per class holding CSV recordings (a time column and one column
per channel), or one CSV of readings with a `label` column (each run of one label is a recording).
Windows are cut from each recording exactly as the agent's sliding window cuts them (size, hop) and
become features with the agent's own `edge_agent.features.windows.windowed`, so the bundle runs in
the existing sensor pipeline unchanged given the same `window:` block (the report prints it).

Windows of one recording overlap, so a random split would leak: validation (and, without a given
held-out set, held-out) windows come from the last part of every recording, cut before windowing.
The model standardises its input itself (the training features' mean and std are in the graph),
so the device feeds raw features.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from edge_agent.features.config import WindowConfig
from edge_agent.features.windows import windowed
from exporters.errors import DataError, UsageError
from exporters.train.data import read_examples
from exporters.train.export import Trained
from exporters.train.loop import accuracy, fit
from exporters.train.settings import FitSettings

F32 = npt.NDArray[np.float32]
LABEL = "label"


@dataclass(slots=True)
class SensorSettings:
    window: WindowConfig
    channels: list[str] | None = None  # None: every numeric column but the time and label columns
    time_column: str | None = "ts"
    hidden: int = 32


def settings_from_args(args: argparse.Namespace) -> SensorSettings:
    try:
        window = WindowConfig(
            size=args.window_size,
            hop=args.hop,
            features=[f.strip() for f in args.features.split(",") if f.strip()] or None,
            fft_bands=args.fft_bands,
        )
    except ValueError as exc:  # pydantic's ValidationError names the field
        raise UsageError(f"window: {exc}") from None
    channels = [c.strip() for c in args.channels.split(",")] if args.channels else None
    return SensorSettings(window=window, channels=channels, time_column=args.time_column or None)


@dataclass(slots=True)
class Recording:
    readings: F32  # (n, channels)
    label: str
    source: str  # file (and first line) it came from, for errors


def _read_csv(
    path: Path, s: SensorSettings, label_column: str | None
) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    if not rows:
        raise DataError(f"{path}: no readings")
    if label_column is not None and label_column not in columns:
        raise DataError(f"{path}: no column {label_column!r} (columns: {', '.join(columns)})")
    skip = {s.time_column, label_column}
    channels = s.channels or [c for c in columns if c not in skip and _numeric(rows[0].get(c))]
    missing = [c for c in channels if c not in columns]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} (columns: {', '.join(columns)})")
    if not channels:
        raise DataError(f"{path}: no numeric channel columns (columns: {', '.join(columns)})")
    return channels, rows


def _numeric(v: str | None) -> bool:
    try:
        float(v or "")
    except ValueError:
        return False
    return True


def _values(path: Path, rows: list[dict[str, str]], channels: list[str], first_line: int = 2) -> F32:
    out = np.empty((len(rows), len(channels)), np.float32)
    for i, row in enumerate(rows):
        for j, c in enumerate(channels):
            try:
                out[i, j] = float(row[c])
            except (TypeError, ValueError):
                raise DataError(
                    f"{path}:{first_line + i}: column {c!r}: expected a number, got {row[c]!r}"
                ) from None
    return out


def _folder(source: Path, s: SensorSettings) -> tuple[list[Recording], list[str], list[str]]:
    ex = read_examples(source, (".csv",))
    recs: list[Recording] = []
    channels: list[str] | None = None
    for path, label in zip(ex.paths, ex.labels, strict=True):
        chans, rows = _read_csv(path, s, None)
        channels = channels or chans
        if chans != channels:
            raise DataError(f"{path}: channels {chans} differ from the other recordings' {channels}")
        recs.append(Recording(_values(path, rows, chans), ex.classes[int(label)], str(path)))
    return recs, ex.classes, channels or []


def read_recordings(source: Path, s: SensorSettings) -> tuple[list[Recording], list[str], list[str]]:
    """(recordings, class names in order, channel names) from a class-folder tree or a labelled CSV."""
    if source.is_dir():
        return _folder(source, s)
    if source.suffix.lower() != ".csv" or not source.is_file():
        raise DataError(
            f"{source}: expected a folder with one sub-folder of CSVs per class, or a CSV with a label column"
        )
    channels, rows = _read_csv(source, s, LABEL)
    recs: list[Recording] = []
    classes: list[str] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][LABEL] != rows[start][LABEL]:
            label = rows[start][LABEL].strip()
            if not label:
                raise DataError(
                    f"{source}:{start + 2}: column {LABEL!r}: expected a class name, got an empty value"
                )
            classes += [label] if label not in classes else []
            recs.append(
                Recording(_values(source, rows[start:i], channels, start + 2), label, f"{source}:{start + 2}")
            )
            start = i
    if len(classes) < 2:
        raise DataError(
            f"{source}: expected at least 2 classes to tell apart, got {len(classes)} ({', '.join(classes)})"
        )
    return recs, classes, channels


def windows(rec: F32, cfg: WindowConfig) -> F32:
    """The model inputs of every window the agent's sliding window cuts from `rec` (size, hop)."""
    starts = range(0, len(rec) - cfg.size + 1, cfg.hop)
    if not starts:
        return np.empty((0, 0), np.float32)
    return np.stack([windowed(cfg, rec[a : a + cfg.size]).reshape(-1) for a in starts]).astype(np.float32)


def split_tail(recs: list[Recording], fraction: float) -> tuple[list[Recording], list[Recording]]:
    """Every recording cut in two before windowing: the first part, and its last `fraction` of readings."""
    head, tail = [], []
    for r in recs:
        cut = len(r.readings) - round(fraction * len(r.readings))
        head.append(Recording(r.readings[:cut], r.label, r.source))
        tail.append(Recording(r.readings[cut:], r.label, r.source))
    return head, tail


def arrays(
    recs: list[Recording], classes: list[str], cfg: WindowConfig, what: str
) -> tuple[F32, npt.NDArray[np.int64]]:
    """(window inputs, class indices) of `recs`; every class must get at least one window."""
    xs: list[F32] = []
    ys: list[int] = []
    for r in recs:
        if r.label not in classes:
            raise DataError(f"{r.source}: class {r.label!r} is not among the training classes {classes}")
        w = windows(r.readings, cfg)
        if len(w):
            xs.append(w)
            ys += [classes.index(r.label)] * len(w)
    y = np.asarray(ys, np.int64)
    lacking = [c for i, c in enumerate(classes) if not np.any(y == i)]
    if lacking:
        raise DataError(
            f"{what}: class(es) {lacking} have no window of {cfg.size} readings (recordings too short "
            "for the window size, or for the split)"
        )
    return np.concatenate(xs), y


class Standardised(nn.Module):
    """(x - mean) / std, then the MLP: the device feeds the raw window features."""

    mean: Tensor
    std: Tensor

    def __init__(self, mean: F32, std: F32, net: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(mean))
        self.register_buffer("std", torch.from_numpy(std))
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.net((x - self.mean) / self.std)
        return y


def train(
    data: Path, s: SensorSettings, fs: FitSettings, *, val: Path | None = None, holdout: Path | None = None
) -> Trained:
    """An MLP on the window features of `data`; the classifier and its build data. Without `holdout`
    (`val`), the last share of every recording is held out (validates)."""
    recs, classes, channels = read_recordings(data, s)
    s.channels = s.channels or channels
    if holdout is not None:
        held = read_recordings(holdout, s)[0]
    else:
        recs, held = split_tail(recs, fs.holdout_fraction)
    if val is not None:
        vals = read_recordings(val, s)[0]
    else:
        recs, vals = split_tail(recs, fs.val_fraction)
    x_tr, y_tr = arrays(recs, classes, s.window, f"{data} (training)")
    x_va, y_va = arrays(vals, classes, s.window, f"{val or data} (validation)")
    x_held, y_held = arrays(held, classes, s.window, f"{holdout or data} (held-out)")
    torch.manual_seed(fs.seed)
    net = nn.Sequential(
        nn.Linear(x_tr.shape[1], s.hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(s.hidden, len(classes))
    )
    model = Standardised(x_tr.mean(0), x_tr.std(0) + np.float32(1e-6), net)
    tr = (torch.from_numpy(x_tr), torch.from_numpy(y_tr))
    result = fit(model, tr, (torch.from_numpy(x_va), torch.from_numpy(y_va)), **fs.kwargs())
    return Trained(
        module=model,
        classes=classes,
        calib=x_tr,
        holdout=x_held,
        holdout_labels=y_held,
        fit=result,
        train_accuracy=accuracy(model, tr),
        notes={
            "modality": "sensor",
            "channels": s.channels,
            "window": s.window.model_dump(),
            "features": int(x_tr.shape[1]),
            "counts": {"train": len(y_tr), "val": len(y_va), "holdout": len(y_held)},
        },
    )
