"""Small real slices for the compression tests: crops of the scikit-image / scikit-learn photos
(training and held-out crops of the same photos, different random cuts), ImageNet MobileNetV2 as
the teacher, and one distilled student built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from compress_helpers import PHOTOS, QUICK, TEACHER
from export_images import write_crops

from exporters.compress.distill import DistillOptions, DistillResult, distill


@pytest.fixture(scope="session")
def images(session_dir: Path) -> dict[str, Path]:
    root = session_dir / "compress-crops"
    return {
        "train": write_crops(root / "train", PHOTOS, 48, seed=0, size=128),
        "held": write_crops(root / "held", PHOTOS, 16, seed=1, size=128),
    }


@pytest.fixture(scope="session")
def distilled(
    session_dir: Path, images: dict[str, Path], mobilenet_weights: Path, keypair: tuple[Path, Path]
) -> DistillResult:
    return distill(
        DistillOptions(
            teacher=TEACHER,
            teacher_weights=mobilenet_weights,
            data=images["train"],
            holdout=images["held"],
            out=session_dir / "compress" / "student",
            classes=3,
            student="cnn:8",
            student_size=64,
            fit=QUICK,
            max_drop=0.25,  # 16 held-out crops and a 4-epoch student: the gate's wiring, not its budget
            key=keypair[0],
            archive=True,
            runs=5,
        )
    )
