"""The outbox's on-disk format: one SQLite (WAL) file holding compressed batches of messages.

One row per committed batch, not per message: a batch is the messages of one commit that share a
priority, length-prefixed and zlib-compressed. Results of one device look alike, so a batch of a
hundred compresses several times over, and one row plus one page write replaces a hundred row inserts
and deletes: the outbox writes a fraction of the bytes a row-per-message table would (flash wear).
Each batch row also records the last sequence number per pipeline it carries (`seqs`). The `seq`
table is written only when the newest batch carrying a pipeline's last number is deleted (delivered
or dropped), in that same transaction: so the last number is always on disk, in a batch or in
`seq`, numbers survive restarts and are never reused, and the usual commit writes one page less.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from edge_agent.stages.types import Outbound
from edge_agent.topics import pipeline_topic

SCHEMA_VERSION = 2
PAGE_SIZE = 1024
SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (
    id INTEGER PRIMARY KEY,
    priority INTEGER NOT NULL,
    created REAL NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL,
    seqs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seq (pipeline TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
"""
_HEAD = struct.Struct(">HI")

PAYLOAD_VERSION = 1
Message = tuple[str, bytes]  # (topic, payload)
Row = tuple[int, int, float, int, bytes, str]  # id, priority, created, n, data, seqs


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


def pack(
    pending: list[Outbound], last_seq: dict[str, int], next_id: int, device: str, prefix: str
) -> tuple[list[Row], dict[str, int], list[list[Message]]]:
    """Number messages (continuing `last_seq`) into final payloads and pack them into rows: one per
    run of equal priority, so order is kept and the drop order can still act per priority. Returns
    the rows, the new last numbers, and each row's messages unpacked."""
    seqs = dict(last_seq)
    now = time.time()
    rows: list[Row] = []
    run: list[Message] = []
    run_seqs: dict[str, int] = {}
    runs: list[list[Message]] = []
    for i, msg in enumerate(pending):
        seq = seqs[msg.pipeline] = run_seqs[msg.pipeline] = seqs.get(msg.pipeline, 0) + 1
        body = {"v": PAYLOAD_VERSION, "device": device, "pipeline": msg.pipeline, "seq": seq}
        body.update(msg.body)
        payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        run.append((pipeline_topic(prefix, device, msg.pipeline, msg.kind), payload))
        if i + 1 == len(pending) or pending[i + 1].priority != msg.priority:
            rows.append((next_id + len(rows), msg.priority, now, len(run), encode(run), json.dumps(run_seqs)))
            runs.append(run)
            run, run_seqs = [], {}
    return rows, seqs, runs


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) with WAL and the schema; raises sqlite3.Error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    # Small pages: a commit rewrites the pages it touches, and at camera rates a batch is a few
    # hundred compressed bytes; 1 KiB pages cut the bytes written per commit ~4x against 4 KiB.
    # Only takes effect when the file is created.
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")
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


def last_seqs(db: sqlite3.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """(last committed number per pipeline, id of the newest stored batch carrying it)."""
    last = dict(db.execute("SELECT pipeline, last FROM seq").fetchall())
    holder: dict[str, int] = {}
    for rid, seqs in db.execute("SELECT id, seqs FROM batch ORDER BY id"):
        for p, s in json.loads(seqs).items():
            last[p] = max(last.get(p, 0), s)
            holder[p] = rid
    return last, holder


def committed_seqs(path: Path) -> dict[str, int]:
    """The last number committed per pipeline in an outbox file (read-only; tests and tools)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return last_seqs(db)[0]
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
