"""The `log_follow` input: a log file followed like `tail -F`, on a follower thread of its own.

- It starts at the end of the file (only new lines), or at its start with `from_start`.
- Appended lines are read every `poll_s`; a partial last line waits for its newline.
- Rotation by rename (logrotate's default, or `mv log log.1` and a new `log`): the old file is read to
  its end (its partial last line is handed on, it will get no newline), then the new file is followed
  from its start. Counted `rotations`.
- Rotation by copytruncate (the file shrinks under the reader): it starts again at offset 0, the
  partial line is dropped (its head went to the copy). Counted `truncations`. As with `tail -F`, lines
  written between the copy and the truncate, or a file refilled past the old offset between two
  polls, cannot be told apart from growth.
- An absent file is waited for (`absent` in the counters while it is); once it appears it is read from
  its start. A file that cannot be read (permissions) is a SourceError: the capture retries, and the
  follower takes up where it was when the file is still the same one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import BinaryIO

from edge_agent.stages.types import JSON
from edge_agent.text.inputs.lines import Line, LineSplitter
from edge_agent.text.inputs.live import LiveInput
from edge_agent.text.source_config import LogFollowConfig

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class LogFollowSource(LiveInput):
    """Source: one frame per line appended to the followed file; `meta["input"]` is its path."""

    def __init__(self, cfg: LogFollowConfig, name: str = "") -> None:
        super().__init__(name or cfg.path, cfg.max_bytes, cfg.backlog)
        self.cfg = cfg
        self.path = Path(cfg.path)
        self.rotations = 0
        self.truncations = 0
        self.absent = False
        self.following = False  # the file is open and read up to its end (tests and stats wait on it)
        # (device, inode, offset of the first byte not yet handed on), kept across a failed open, so a
        # retry resumes in the same file instead of skipping to its end.
        self._where: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        self.backlog.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name=f"follow-{self.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.backlog.close()
        t, self._thread = self._thread, None
        if t is not None and t is not threading.current_thread():
            t.join(self.cfg.poll_s + 5.0)

    def counters(self) -> JSON:
        out = super().counters()
        out.update(rotations=self.rotations, truncations=self.truncations)
        out.update(absent=self.absent, following=self.following)
        return out

    # -- the follower thread ----------------------------------------------------------------------
    def _follow(self) -> None:
        # Nothing may escape this thread: a failure goes on the backlog, read() raises it, the capture
        # retries with backoff.
        try:
            self._loop()
        except OSError as exc:
            self.backlog.fail(f"log_follow {self.path}: {exc.strerror or exc}")
        except Exception as exc:
            log.exception("log_follow %s: follower failed", self.path)
            self.backlog.fail(f"log_follow {self.path}: {type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        split = LineSplitter(self.cfg.max_bytes)
        fh: BinaryIO | None = None
        first = True
        try:
            while not self._stop.is_set():
                if fh is None:
                    fh = self._open_file(first)
                    first = False
                    self.absent = fh is None
                    self.following = False
                    if fh is None:
                        self._stop.wait(self.cfg.poll_s)
                        continue
                self._drain(fh, split)
                if self._rotated(fh, split):
                    fh.close()
                    fh = None
                    continue  # the new file, if there is one, at once
                self._stop.wait(self.cfg.poll_s)
        finally:
            self.following = False
            if fh is not None:
                fh.close()

    def _open_file(self, first: bool) -> BinaryIO | None:
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return None
        st = os.fstat(fh.fileno())
        where, self._where = self._where, None
        if not first:
            return fh  # appeared after an absence or a rotation: all of it is new
        if where is not None and where[:2] == (st.st_dev, st.st_ino) and st.st_size >= where[2]:
            fh.seek(where[2])  # a retry after a failure, same file: take up where it was
        elif where is None and not self.cfg.from_start:
            fh.seek(0, os.SEEK_END)
        return fh

    def _drain(self, fh: BinaryIO, split: LineSplitter) -> None:
        while not self._stop.is_set():
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            self._emit(split.feed(chunk))
        st = os.fstat(fh.fileno())
        self._where = (st.st_dev, st.st_ino, fh.tell() - split.pending)
        self.following = True

    def _rotated(self, fh: BinaryIO, split: LineSplitter) -> bool:
        """Whether the name now points elsewhere (the old file is finished); handles a truncation."""
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            named = None
        mine = os.fstat(fh.fileno())
        if named is None or (named.st_dev, named.st_ino) != (mine.st_dev, mine.st_ino):
            self._drain(fh, split)  # what was written before the rename
            self._emit(split.flush())
            self._where = None
            self.rotations += 1
            log.info("log_follow %s: rotated; following the new file", self.path)
            return True
        if mine.st_size < fh.tell():
            self.truncations += 1
            split.reset()
            fh.seek(0)
            log.info("log_follow %s: truncated (copytruncate); reading from its start", self.path)
        return False

    def _emit(self, lines: list[Line]) -> None:
        origin = str(self.path)
        for raw, cut in lines:
            frame = self.boundary.text(raw, time.time(), origin, cut=cut)
            if frame is not None:
                self.backlog.put(frame)
