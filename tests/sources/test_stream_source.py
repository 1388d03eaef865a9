"""A real HTTP video stream (OpenCV's FFmpeg reader): down at start, then up; ends, then reconnects."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from edge_agent.demo.broker import free_port
from edge_agent.sources.base import Capture
from edge_agent.sources.video import VideoSource
from edge_agent.sources.video_config import SourceConfig
from edge_agent.stages.types import Frame
from tests.helpers import serve


def test_stream_down_then_up_then_reconnects_after_it_ends(demo_video: tuple[Path, list[str]]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/{demo_video[0].name}"
    q: queue.Queue[object] = queue.Queue(maxsize=1)
    cap = Capture(VideoSource(SourceConfig(kind="stream", path=url)), q, retry_min_s=0.1, retry_max_s=0.5)
    cap.start()
    try:
        time.sleep(0.6)
        assert cap.status.state == "retrying"
        assert "cannot open stream" in (cap.status.last_error or "")
        srv = serve(demo_video[0].parent, port)
        try:
            got: list[Frame] = []
            deadline = time.monotonic() + 20
            # The stream ends after the file's frames; a live source treats that as a failure and reconnects,
            # so frames keep coming: more than one file's worth proves the reconnect.
            while len(got) <= len(demo_video[1]) + 2 and time.monotonic() < deadline:
                try:
                    item = q.get(timeout=0.5)
                except queue.Empty:
                    continue
                if isinstance(item, Frame):
                    got.append(item)
            assert len(got) > len(demo_video[1]) + 2
            assert cap.status.failures >= 2  # once down at start, at least once at the end of the stream
            assert got[0].data.shape == (480, 640, 3)
        finally:
            srv.shutdown()
            srv.server_close()
    finally:
        cap.stop()
        cap.join(3)
