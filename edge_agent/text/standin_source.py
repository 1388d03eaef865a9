"""Stand-in `text_file` source (one text input per line of a file) until h-textin's inputs merge.

h-textin owns the text inputs (edge_agent/text/source_config.py, edge_agent/text/inputs/): this module
exists so the text kind can be configured and tested end to end meanwhile, and goes when theirs lands
(the kind's `source()` and the config union then name theirs). It hands each line's bytes over as they
are, so the model side's own defence against a malformed input is exercised too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from pydantic import Field

from edge_agent.config_base import Strict
from edge_agent.errors import SourceError
from edge_agent.stages.types import Frame


class TextFileConfig(Strict):
    """A file replayed, one text input per line (empty lines skipped)."""

    kind: Literal["text_file"] = "text_file"
    path: Path = Field(description="The file, one input per line.")
    fps: float | None = Field(default=None, gt=0, description="Lines per second; None: as fast as taken.")
    queue: int = Field(default=4, ge=1, le=1024, description="Lines buffered ahead of the model.")
    retry_min_s: float = Field(default=0.5, gt=0, description="First retry delay after a failure.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")


class TextFileSource:
    """Reads `cfg.path` line by line; never drops (a file waits for the model)."""

    live = False

    def __init__(self, cfg: TextFileConfig, name: str) -> None:
        self.cfg = cfg
        self.name = name
        self._fh: BinaryIO | None = None
        self._index = 0
        self._line = 0

    def open(self) -> None:
        try:
            self._fh = self.cfg.path.open("rb")
        except OSError as exc:
            raise SourceError(f"text_file {self.cfg.path}: cannot open ({exc.strerror})") from exc

    def read(self) -> Frame | None:
        if self._fh is None:
            raise SourceError(f"text_file {self.cfg.path}: not open")
        for raw in self._fh:
            self._line += 1
            data = raw.rstrip(b"\r\n")
            if not data.strip():
                continue
            meta: dict[str, Any] = {"input": f"{self.cfg.path.name}:{self._line}"}
            frame = Frame(
                np.frombuffer(data, dtype=np.uint8).copy(), time.time(), self._index, self.name, meta
            )
            self._index += 1
            return frame
        return None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
