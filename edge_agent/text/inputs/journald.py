"""The `journald` input: the systemd journal as it is written, through `journalctl -f -o json`.

journalctl runs as a child process; a reader thread parses its JSON lines (one entry each) into
frames: the entry's MESSAGE is the text, the configured journal fields go to the frame's fields, the
entry's own time (`__REALTIME_TIMESTAMP`) is the frame's ts. When journalctl exits, the failure (its
exit code and last stderr lines) is raised by `read()` and the capture restarts it with backoff; the
restart asks for the entries after the last cursor seen, so none is lost or repeated. No journalctl
on the machine is a clear SourceError (retried too: it may be installed later).

journalctl's JSON gives a MESSAGE that is not valid UTF-8 as a list of byte values; those bytes go
through the boundary like any input (refused `bad_encoding` when they are not UTF-8).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
from collections import deque
from typing import IO, Any

from edge_agent.errors import SourceError
from edge_agent.stages.types import JSON
from edge_agent.text.inputs.lines import LineSplitter
from edge_agent.text.inputs.live import LiveInput
from edge_agent.text.source_config import JournaldConfig

log = logging.getLogger(__name__)

# A journal entry carries many fields beside MESSAGE (unit, pid, boot id, cursor...): its JSON line may be
# this much longer than the JSON cap before it is refused.
ENTRY_OVERHEAD = 8 * 1024


class JournaldSource(LiveInput):
    """Source: one frame per journal entry; `meta["input"]` is the entry's unit or identifier."""

    def __init__(self, cfg: JournaldConfig, name: str = "") -> None:
        super().__init__(name or "journald", cfg.max_bytes, cfg.backlog)
        self.cfg = cfg
        self.cursor: str | None = None  # the last entry seen: a restart continues after it
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._errors: threading.Thread | None = None
        self._stderr: deque[str] = deque(maxlen=5)

    def command(self) -> list[str]:
        """The journalctl command line: follow, JSON, only new entries (or those after the cursor)."""
        cmd = [self.cfg.journalctl, "--follow", "--output=json", "--no-pager", "--quiet"]
        cmd += [f"--after-cursor={self.cursor}"] if self.cursor else ["--lines=0"]
        if self.cfg.directory:
            cmd.append(f"--directory={self.cfg.directory}")
        cmd += [f"--unit={u}" for u in self.cfg.units]
        cmd += [f"--identifier={i}" for i in self.cfg.identifiers]
        if self.cfg.priority is not None:
            cmd.append(f"--priority={self.cfg.priority}")
        return cmd

    def open(self) -> None:
        try:
            proc = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            raise SourceError(
                f"journald: cannot start {self.cfg.journalctl!r} ({exc.strerror}); it needs systemd's "
                "journalctl on PATH, or `journalctl:` naming it"
            ) from exc
        self.starts += 1
        self._proc = proc
        self._stderr.clear()
        self.backlog.open()
        assert proc.stderr is not None
        self._errors = threading.Thread(target=self._drain_stderr, args=(proc.stderr,), daemon=True)
        self._errors.start()
        self._reader = threading.Thread(
            target=self._read, args=(proc,), name=f"journal-{self.name}", daemon=True
        )
        self._reader.start()

    def close(self) -> None:
        self.backlog.close()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader, self._reader = self._reader, None
        if reader is not None and reader is not threading.current_thread():
            reader.join(5.0)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    def counters(self) -> JSON:
        out = super().counters()
        out["starts"] = self.starts
        return out

    # -- the reader thread ------------------------------------------------------------------------
    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        split = LineSplitter(self.boundary.json_cap + ENTRY_OVERHEAD)
        try:
            while True:
                chunk = os.read(proc.stdout.fileno(), 64 * 1024)  # what is there, not a full buffer
                if not chunk:
                    break
                for raw, cut in split.feed(chunk):
                    if cut:
                        self.boundary.refuse("too_long")
                    elif raw.strip():
                        self._entry(raw)
        except (OSError, ValueError):  # the pipe closed under us by close()
            return
        except Exception as exc:  # nothing escapes this thread: the capture retries
            log.exception("journald: reader failed")
            self.backlog.fail(f"journald: reader failed: {type(exc).__name__}: {exc}")
            return
        code = proc.wait()
        if self._errors is not None:
            self._errors.join(2.0)  # its last words come on stderr as it exits
        if not self.backlog.closed:
            said = "; ".join(self._stderr) or "no message"
            self.backlog.fail(f"journald: {self.cfg.journalctl} exited ({code}): {said}")

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        # Read as it comes, so a chatty journalctl never blocks on a full pipe; keep the last lines.
        with stream:
            while line := stream.readline(4096):  # bounded: a line without end cannot grow memory
                text = line.decode("utf-8", "replace").strip()
                if text:
                    self._stderr.append(text[:300])

    def _entry(self, raw: bytes) -> None:
        try:
            entry = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.boundary.refuse("bad_json")
            return
        if not isinstance(entry, dict):
            self.boundary.refuse("bad_json")
            return
        cursor = entry.get("__CURSOR")
        if isinstance(cursor, str):
            self.cursor = cursor
        message = _message(entry.get("MESSAGE"))
        if message is None:
            self.boundary.refuse("no_field")
            return
        fields = {k: entry[k] for k in self.cfg.fields if k in entry}
        origin = str(entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or "journald")
        frame = self.boundary.text(message, _entry_time(entry), origin, fields)
        if frame is not None:
            self.backlog.put(frame)


def _message(value: Any) -> str | bytes | None:
    """MESSAGE as journalctl writes it: a string, or the raw bytes as a list of numbers (not UTF-8)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value)
    return None  # absent, or null (journalctl's stand-in for a field too large to print)


def _entry_time(entry: JSON) -> float:
    """The entry's wall-clock time (journalctl: microseconds as a string); now when it has none."""
    try:
        return int(entry["__REALTIME_TIMESTAMP"]) / 1e6
    except (KeyError, TypeError, ValueError):
        return time.time()
