"""OpenCV sources on real files: video, folder, a file that appears late, live keep-newest."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.errors import SourceError
from edge_agent.sources.base import END, Capture
from edge_agent.sources.video import FolderSource, VideoSource, open_source
from edge_agent.sources.video_config import SourceConfig
from edge_agent.stages.types import Frame


def drain(q: queue.Queue[object], timeout: float = 10.0) -> list[Frame]:
    out: list[Frame] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = q.get(timeout=deadline - time.monotonic())
        if item is END:
            return out
        assert isinstance(item, Frame)
        out.append(item)
    raise AssertionError("no end marker")


def test_video_file_delivers_every_frame_in_order(demo_video: tuple[Path, list[str]]) -> None:
    path, truth = demo_video
    q: queue.Queue[object] = queue.Queue(maxsize=2)  # tiny queue: a file source must block, not drop
    cap = Capture(VideoSource(SourceConfig(kind="video", path=str(path))), q)
    cap.start()
    time.sleep(0.3)  # let the queue fill up while nobody reads
    frames = drain(q)
    assert [f.index for f in frames] == list(range(len(truth)))
    assert frames[0].data.shape == (480, 640, 3)
    assert frames[0].data.dtype == np.uint8
    assert cap.status.dropped == 0
    assert cap.status.state == "ended"


def test_folder_in_name_order_skips_unreadable(tmp_path: Path) -> None:
    from skimage import data

    for i, img in enumerate([data.astronaut(), data.coffee(), data.chelsea()]):
        cv2.imwrite(str(tmp_path / f"{i:02d}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    (tmp_path / "01b.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    src = FolderSource(SourceConfig(kind="folder", path=str(tmp_path)))
    src.open()
    files = []
    while (f := src.read()) is not None:
        files.append(f.meta["file"])
    assert files == ["00.jpg", "01.jpg", "02.jpg"]
    assert src.skipped == 1


def test_missing_sources_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="video file not found"):
        VideoSource(SourceConfig(kind="video", path=str(tmp_path / "nope.mp4"))).open()
    with pytest.raises(SourceError, match="image folder not found"):
        FolderSource(SourceConfig(kind="folder", path=str(tmp_path / "nope"))).open()
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        open_source(SourceConfig(kind="folder", path=str(tmp_path / "empty")), "x").open()
    with pytest.raises(SourceError, match="cannot open stream"):
        VideoSource(SourceConfig(kind="stream", path="rtsp://127.0.0.1:1/none")).open()


def test_source_that_dies_comes_back_with_backoff(tmp_path: Path, demo_video: tuple[Path, list[str]]) -> None:
    """The file is absent at start (camera unplugged): the capture retries, then resumes when it appears."""
    target = tmp_path / "late.avi"
    q: queue.Queue[object] = queue.Queue(maxsize=4)
    cap = Capture(
        VideoSource(SourceConfig(kind="video", path=str(target))), q, retry_min_s=0.05, retry_max_s=0.4
    )
    cap.start()
    time.sleep(0.8)
    assert cap.status.state == "retrying"
    assert 2 <= cap.status.failures <= 8, cap.status.failures  # backoff: not a busy loop
    assert "not found" in (cap.status.last_error or "")
    shutil.copy(demo_video[0], target)
    frames = drain(q)
    assert len(frames) == len(demo_video[1])


class FlakyCamera:
    """A live source that fails after some frames, then recovers (fault injection)."""

    live = True
    name = "flaky"

    def __init__(self) -> None:
        self.n = 0
        self.opens = 0

    def open(self) -> None:
        self.opens += 1

    def read(self) -> Frame | None:
        self.n += 1
        if self.n == 5:
            raise SourceError("camera unplugged")
        if self.n > 40:
            return None
        time.sleep(0.002)
        return Frame(np.zeros((4, 4, 3), np.uint8), time.time(), self.n)

    def close(self) -> None:
        pass


def test_live_source_keeps_only_newest_and_reopens_after_failure() -> None:
    q: queue.Queue[object] = queue.Queue(maxsize=1)
    src = FlakyCamera()
    cap = Capture(src, q, retry_min_s=0.01)
    cap.start()
    cap.join(5)
    assert src.opens == 2
    assert cap.status.failures == 1
    assert cap.status.dropped > 0  # nobody read: old frames were replaced, not queued
    items = []
    while not q.empty():
        items.append(q.get_nowait())
    assert items[-1] is END


def test_stop_interrupts_a_blocked_file_capture(demo_video: tuple[Path, list[str]]) -> None:
    q: queue.Queue[object] = queue.Queue(maxsize=1)
    cap = Capture(VideoSource(SourceConfig(kind="video", path=str(demo_video[0]))), q)
    cap.start()
    time.sleep(0.2)
    cap.stop()
    threading.Thread(target=lambda: [q.get() for _ in range(3)], daemon=True).start()
    cap.join(60)  # without the stop, the capture stays blocked on the full queue for good
    assert not cap.is_alive()
    assert cap.status.state == "stopped"
