"""Example training data made by the repository's own code, so `edge-export train` can be tried from
a clone: `photos` (crops of scikit-image and scikit-learn photos) and `vibration` (synthesised
motor vibration: normal, bearing fault, imbalance). `EXAMPLES` maps each name to its writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def _photos(root: Path) -> dict[str, Path]:
    from exporters.train.examples import photos

    dirs: dict[str, Path] = photos.write(root)
    return dirs


def _vibration(root: Path) -> dict[str, Path]:
    from exporters.train.examples import vibration

    dirs: dict[str, Path] = vibration.write(root)
    return dirs


# name -> writer of root/train and root/holdout (the generators import numpy, cv2, scikit-image lazily)
EXAMPLES: dict[str, Callable[[Path], dict[str, Path]]] = {"photos": _photos, "vibration": _vibration}
