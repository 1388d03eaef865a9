"""Real photos from scikit-image as OpenCV frames."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt


def skimage_bgr(name: str) -> npt.NDArray[np.uint8]:
    """A scikit-image sample photo as an OpenCV BGR frame."""
    import skimage.data

    img = getattr(skimage.data, name)()
    code = cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_RGB2BGR
    return np.ascontiguousarray(cv2.cvtColor(img, code))
