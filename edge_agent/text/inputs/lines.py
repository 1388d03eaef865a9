"""Bytes → lines with a cap: a line longer than the cap is handed on cut (and flagged) as soon as the
cap is reached, and the rest of it is skipped up to its newline, so no input can make a reader hold
more than the cap plus one read's worth of bytes. A partial last line waits for its newline."""

from __future__ import annotations

Line = tuple[bytes, bool]  # the line without its newline, and whether it was cut at the cap


class LineSplitter:
    """Splits a byte stream on `\\n`, each line at most `cap` bytes."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._buf = bytearray()
        self._skipping = False  # inside an over-long line already handed on: drop to its newline

    def feed(self, chunk: bytes) -> list[Line]:
        """The lines that `chunk` completes (or that reached the cap)."""
        out: list[Line] = []
        start = 0
        while (nl := chunk.find(b"\n", start)) >= 0:
            if self._skipping:
                self._skipping = False
            else:
                self._buf += chunk[start:nl]
                out.append(self._take())
            start = nl + 1
        if not self._skipping:
            self._buf += chunk[start:]
            if len(self._buf) > self.cap:
                out.append(self._take())
                self._skipping = True
        return out

    def _take(self) -> Line:
        cut = len(self._buf) > self.cap
        line = bytes(self._buf[: self.cap])
        self._buf.clear()
        return line, cut

    def flush(self) -> list[Line]:
        """The partial last line as a line (the stream ended), if there is one."""
        skipping, self._skipping = self._skipping, False
        if skipping or not self._buf:
            self._buf.clear()
            return []
        return [self._take()]

    def reset(self) -> None:
        """Forget the partial line (the file it came from was truncated under it)."""
        self._buf.clear()
        self._skipping = False

    @property
    def pending(self) -> int:
        """Bytes of a partial line waiting for their newline."""
        return len(self._buf)
