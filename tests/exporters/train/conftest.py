"""Small trained bundles, built once per session: the photos example at 96 px (10 training and 6
held-out crops per photo) and the vibration example (3 training and 2 held-out runs of 8 s per class).

Both build through the whole exporter (static int8 for generic-x86, gated, signed), without the
latency benchmark. The gate's budget is 0.1 here: with 36 held-out crops one flip is 0.028 of
agreement, so the default 0.03 would test the held-out set's size more than the quantizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="needs the export extra")
pytest.importorskip("onnxruntime.quantization", reason="needs the export extra")

from edge_agent.bundle.sign import write_keypair
from exporters.train.settings import BuildOptions, FitSettings

IMAGE_SIZE = 96
VIBRATION_S = 8.0


@dataclass
class Built:
    data: dict[str, Path]
    trained: Any  # exporters.train.export.Trained
    result: Any  # exporters.pipeline.ExportResult
    training: dict[str, Any]
    pub: Path


def quick_fit() -> FitSettings:
    return FitSettings(budget_s=120, max_epochs=30, patience=6, progress=False, threads=1)


@pytest.fixture(scope="session")
def train_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="session")
def train_keys(train_dir: Path) -> tuple[Path, Path]:
    return write_keypair(train_dir / "keys" / "release")


def _build(trained: Any, out: Path, key: Path) -> tuple[Any, dict[str, Any]]:
    from exporters.train.export import build_bundle

    opts = BuildOptions(out=out, key=key, archive=True, max_drop=0.1, measure=False, progress=False)
    return build_bundle(trained, opts)


@pytest.fixture(scope="session")
def photos_built(train_dir: Path, train_keys: tuple[Path, Path]) -> Built:
    from exporters.train import images
    from exporters.train.examples import photos

    try:
        images.default_weights()
    except Exception as exc:
        pytest.skip(str(exc))
    data = photos.write(train_dir / "photos-data", train_per_class=10, holdout_per_class=6)
    trained = images.train(
        data["train"], images.ImageSettings(size=IMAGE_SIZE, views=2), quick_fit(), holdout=data["holdout"]
    )
    result, training = _build(trained, train_dir / "photos", train_keys[0])
    return Built(data, trained, result, training, train_keys[1])


@pytest.fixture(scope="session")
def vibration_built(train_dir: Path, train_keys: tuple[Path, Path]) -> Built:
    from edge_agent.features.config import WindowConfig
    from exporters.train import sensor
    from exporters.train.examples import vibration

    data = vibration.write(
        train_dir / "vibration-data", train_per_class=3, holdout_per_class=2, seconds=VIBRATION_S
    )
    settings = sensor.SensorSettings(
        window=WindowConfig(size=250, hop=125, features=["std", "rms", "ptp", "fft"], fft_bands=8)
    )
    trained = sensor.train(data["train"], settings, quick_fit(), holdout=data["holdout"])
    result, training = _build(trained, train_dir / "vibration", train_keys[0])
    return Built(data, trained, result, training, train_keys[1])
