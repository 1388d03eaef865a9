"""The outbox's on-disk format: one SQLite (WAL) file holding compressed batches of messages.

One row per committed batch, not per message: a batch is the messages of one commit that share a
priority, length-prefixed and zlib-compressed. Results of one device look alike, so a batch of a
hundred compresses several times over, and one row plus one page write replaces a hundred row inserts
and deletes: the outbox writes a fraction of the bytes a row-per-message table would (flash wear).
The `seq` table holds the last sequence number per pipeline; it is updated in the same transaction
that stores the batch, so numbers survive restarts and are never reused.
"""

from __future__ import annotations

import sqlite3
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (
    id INTEGER PRIMARY KEY,
    priority INTEGER NOT NULL,
    created REAL NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seq (pipeline TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
"""
_HEAD = struct.Struct(">HI")

Message = tuple[str, bytes]  # (topic, payload)


def encode(msgs: list[Message]) -> bytes:
    """Length-prefixed (topic, payload) pairs, compressed."""
    parts: list[bytes] = []
    for topic, payload in msgs:
        t = topic.encode()
        parts += (_HEAD.pack(len(t), len(payload)), t, payload)
    return zlib.compress(b"".join(parts), 6)


def decode(blob: bytes) -> list[Message]:
    raw = zlib.decompress(blob)
    out: list[Message] = []
    pos = 0
    while pos < len(raw):
        tl, pl = _HEAD.unpack_from(raw, pos)
        pos += _HEAD.size
        topic = raw[pos : pos + tl].decode()
        pos += tl
        out.append((topic, raw[pos : pos + pl]))
        pos += pl
    return out


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) with WAL and the schema; raises sqlite3.Error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a process crash (SIGKILL); only a power cut can lose the
    # last commits. FULL would fsync every batch, which is what wears SD cards out.
    db.execute("PRAGMA synchronous=NORMAL")
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version not in (0, SCHEMA_VERSION):
        db.close()
        raise sqlite3.DatabaseError(f"outbox schema version {version}, this agent reads {SCHEMA_VERSION}")
    db.executescript(SCHEMA)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return db


def stored_messages(path: Path) -> Iterator[Message]:
    """Every message still in an outbox file, in delivery order (read-only; for tests and tools)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for (blob,) in db.execute("SELECT data FROM batch ORDER BY id"):
            yield from decode(blob)
    finally:
        db.close()


def thread_io() -> tuple[int, int]:
    """(write_bytes, wchar) of the calling thread from Linux per-thread I/O accounting; (0, 0) if absent.

    `write_bytes` counts what reached the storage layer; on tmpfs nothing does, so callers fall back
    to `wchar` (bytes handed to write()). The outbox reads it on its own thread, the only one that
    writes to the database, so the figure is the outbox's own."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/io", encoding="ascii") as f:
            fields = dict(line.split(": ", 1) for line in f.read().splitlines())
        return int(fields.get("write_bytes", "0")), int(fields.get("wchar", "0"))
    except (OSError, ValueError):
        return 0, 0
