"""The `text_file` input: a text or JSONL file replayed, one input per line, optionally paced and looped.

A file never drops: `live` is False and the capture waits for the model. Lines are read in bounded
chunks (edge_agent.text.inputs.lines), so one enormous line costs at most the cap; a bad line is
counted and skipped, never the end of the replay.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import BinaryIO

from edge_agent.errors import SourceError
from edge_agent.stages.types import JSON, Frame
from edge_agent.text.frames import Boundary
from edge_agent.text.inputs.lines import Line, LineSplitter
from edge_agent.text.source_config import TextFileConfig

CHUNK = 64 * 1024


class TextFileSource:
    """Source: the file's lines (or JSONL records' `field`) in order; `meta["input"]` is `path:line`."""

    live = False

    def __init__(self, cfg: TextFileConfig, name: str = "") -> None:
        self.cfg = cfg
        self.name = name or cfg.path
        self.boundary = Boundary(self.name, cfg.max_bytes)
        jsonl = cfg.format == "jsonl"
        self._cap = self.boundary.json_cap if jsonl else cfg.max_bytes
        self._file: BinaryIO | None = None
        self._lines: list[Line] = []
        self._split = LineSplitter(self._cap)
        self._lineno = 0
        self._emitted = 0  # in this pass: a loop over a file with nothing to give would spin
        self._next_due = 0.0
        self._closed = threading.Event()

    def open(self) -> None:
        path = Path(self.cfg.path)
        try:
            self._file = path.open("rb")
        except OSError as exc:
            raise SourceError(f"text_file: cannot open {path}: {exc.strerror}") from exc
        self._lines, self._split, self._lineno, self._emitted = [], LineSplitter(self._cap), 0, 0
        self._next_due = time.monotonic()
        self._closed.clear()
        self.boundary.restart()

    def read(self) -> Frame | None:
        if self._file is None:
            raise SourceError("text_file: source is not open")
        while not self._closed.is_set():
            line = self._next_line()
            if line is None:
                if not (self.cfg.loop and self._emitted):
                    return None
                self.close()
                self.open()
                continue
            frame = self._frame(line)
            if frame is None:
                continue
            self._emitted += 1
            self._pace()
            return frame
        return None

    def _next_line(self) -> Line | None:
        while not self._lines:
            if self._file is None:
                return None
            try:
                chunk = self._file.read(CHUNK)
            except OSError as exc:
                raise SourceError(f"text_file: cannot read {self.cfg.path}: {exc.strerror}") from exc
            if not chunk:
                self._lines = self._split.flush()  # a last line without its newline is still a line
                if not self._lines:
                    return None
                break
            self._lines = self._split.feed(chunk)
        self._lineno += 1
        return self._lines.pop(0)

    def _frame(self, line: Line) -> Frame | None:
        raw, cut = line
        origin = f"{Path(self.cfg.path).name}:{self._lineno}"  # the name: short, and no folder leaves
        if self.cfg.format == "lines":
            return self.boundary.text(raw, time.time(), origin, cut=cut)
        if cut:
            self.boundary.refuse("too_long")  # a cut JSON line is no JSON
            return None
        if not raw.strip():
            return self.boundary.text(raw, time.time(), origin)  # counted as empty
        return self.boundary.record(raw, time.time(), origin, self.cfg.field)

    def _pace(self) -> None:
        if self.cfg.rate is None:
            return
        delay = self._next_due - time.monotonic()
        if delay > 0:
            self._closed.wait(delay)
        self._next_due = max(self._next_due + 1.0 / self.cfg.rate, time.monotonic())

    def counters(self) -> JSON:
        """What this input read, refused and truncated (the pipeline's stats, under `input`)."""
        return self.boundary.snapshot()

    def close(self) -> None:
        self._closed.set()
        if self._file is not None:
            self._file.close()
            self._file = None
