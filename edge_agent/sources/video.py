"""OpenCV sources: a video file, a folder of images, a camera (index or /dev/videoN), an RTSP/HTTP stream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.errors import SourceError
from edge_agent.sources.video_config import SourceConfig
from edge_agent.stages.types import Frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


class VideoSource:
    """Video file, camera or stream through cv2.VideoCapture."""

    def __init__(self, cfg: SourceConfig, name: str = "") -> None:
        self.cfg = cfg
        self.name = name or cfg.path
        self.live = cfg.kind in ("camera", "stream")
        self._cap: Any = None
        self._index = 0

    def open(self) -> None:
        target: int | str = self.cfg.path
        if self.cfg.kind == "video" and not Path(self.cfg.path).is_file():
            raise SourceError(f"video file not found: {self.cfg.path}")
        if self.cfg.kind == "camera" and self.cfg.path.isdigit():
            target = int(self.cfg.path)
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.cfg.kind} {self.cfg.path!r}")
        if self.cfg.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.cfg.width)
        if self.cfg.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.cfg.height)
        self._cap = cap
        self._index = 0

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError("source is not open")
        ok, img = self._cap.read()
        if not ok or img is None:
            if self.cfg.kind == "video":
                if self.cfg.loop and self._index > 0:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    self._index = 0
                    ok, img = self._cap.read()
                    if ok and img is not None:
                        return self._frame(img)
                if self._index == 0:
                    raise SourceError(f"no frame could be decoded from {self.cfg.path}")
                return None
            raise SourceError(f"{self.cfg.kind} {self.cfg.path!r} stopped delivering frames")
        return self._frame(img)

    def _frame(self, img: np.ndarray[Any, Any]) -> Frame:
        f = Frame(data=img, ts=time.time(), index=self._index, source=self.name)
        self._index += 1
        return f

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FolderSource:
    """Images in a folder, in name order; unreadable files are skipped with a count, not fatal."""

    live = False

    def __init__(self, cfg: SourceConfig, name: str = "") -> None:
        self.cfg = cfg
        self.name = name or cfg.path
        self._files: list[Path] = []
        self._pos = 0
        self.skipped = 0

    def open(self) -> None:
        folder = Path(self.cfg.path)
        if not folder.is_dir():
            raise SourceError(f"image folder not found: {folder}")
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
        self._pos = 0

    def read(self) -> Frame | None:
        while True:
            if self._pos >= len(self._files):
                if not self.cfg.loop:
                    return None
                self._pos = 0
            path = self._files[self._pos]
            index = self._pos
            self._pos += 1
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                self.skipped += 1
                continue
            return Frame(data=img, ts=time.time(), index=index, source=self.name, meta={"file": path.name})

    def close(self) -> None:
        self._files = []


def open_source(cfg: SourceConfig, name: str) -> VideoSource | FolderSource:
    """The source for a pipeline's `source:` section."""
    if cfg.kind == "folder":
        return FolderSource(cfg, name)
    return VideoSource(cfg, name)
