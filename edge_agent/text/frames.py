"""Text inputs as Frames: UTF-8 bytes in a 1-D uint8 array, the input's other fields in meta.

Stand-in with the shared contract's two functions (h-textin owns the real module, with the input
validation and its counters); the text pipeline kind only relies on these signatures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_agent.stages.types import Frame


def text_frame(  # noqa: PLR0917 (the shared contract's signature)
    text: str,
    ts: float,
    index: int,
    source: str = "",
    fields: dict[str, Any] | None = None,
    origin: str = "",
) -> Frame:
    """One text input as a Frame: `data` the UTF-8 bytes, meta["fields"] / meta["input"] when given."""
    meta: dict[str, Any] = {"input": origin}
    if fields:
        meta["fields"] = fields
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
    return Frame(data=data, ts=ts, index=index, source=source, meta=meta)


def frame_text(frame: Frame) -> str:
    """The frame's text; raises UnicodeDecodeError for bytes that are not UTF-8."""
    return bytes(np.asarray(frame.data, dtype=np.uint8)).decode("utf-8")
