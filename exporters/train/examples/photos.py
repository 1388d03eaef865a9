"""The `photos` example: which photo does a crop come from? Six real photos (scikit-image's
astronaut, coffee, chelsea the cat, rocket; scikit-learn's china and flower), each one class.

Each photo is cut into a checkerboard of square tiles (a third of its short side); training crops
come from the "black" tiles, held-out crops from the "white" ones, so no held-out pixel was ever
seen in training: the model has to recognise a new part of a scene, not a memorised patch. A crop
is 60-100 % of its tile, placed at random, resized to 160 px. Chance is 1/6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "china", "flower")
CROP_PX = 160


def photo(name: str) -> npt.NDArray[np.uint8]:
    """An RGB photo from scikit-image's or scikit-learn's bundled samples (no download)."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        rgb = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        rgb = getattr(skimage.data, name)()
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, -1)
    return np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)


def crops(
    rgb: npt.NDArray[np.uint8], n: int, *, parity: int, seed: int, size: int = CROP_PX
) -> list[npt.NDArray[np.uint8]]:
    """`n` BGR crops from the checkerboard tiles of `parity` (0: training tiles, 1: held-out)."""
    import cv2

    h, w = rgb.shape[:2]
    tile = min(h, w) // 3
    tiles = [
        (ty * tile, tx * tile)
        for ty in range(h // tile)
        for tx in range(w // tile)
        if (ty + tx) % 2 == parity
    ]
    rng = np.random.default_rng(seed)
    out: list[npt.NDArray[np.uint8]] = []
    for i in range(n):
        y0, x0 = tiles[i % len(tiles)]
        s = int(rng.uniform(0.6, 1.0) * tile)
        y, x = y0 + int(rng.integers(0, tile - s + 1)), x0 + int(rng.integers(0, tile - s + 1))
        crop = cv2.resize(rgb[y : y + s, x : x + s], (size, size), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(crop[..., ::-1], dtype=np.uint8))
    return out


def write(
    root: Path, *, train_per_class: int = 40, holdout_per_class: int = 20, seed: int = 0
) -> dict[str, Path]:
    """root/train/<photo>/*.png and root/holdout/<photo>/*.png; returns both folders."""
    import cv2

    out = {"train": root / "train", "holdout": root / "holdout"}
    for k, name in enumerate(PHOTOS):
        rgb = photo(name)
        for split, n, parity in (("train", train_per_class, 0), ("holdout", holdout_per_class, 1)):
            folder = out[split] / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, bgr in enumerate(crops(rgb, n, parity=parity, seed=seed + 100 * k + parity)):
                cv2.imwrite(str(folder / f"{i:04d}.png"), bgr)
    return out
