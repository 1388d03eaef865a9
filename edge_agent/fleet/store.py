"""Where `fleet collect` keeps results and events: SQLite by default, PostgreSQL when given a DSN.

One row per (device, pipeline, seq): the primary key makes a QoS 1 redelivery, or a message two
collectors both saw, a no-op instead of a duplicate. Sequence numbers are per pipeline across all
kinds (results, events...), as the device's outbox assigns them, so gaps are computed per
(device, pipeline) with a window query that both SQLite (>= 3.25) and PostgreSQL run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge_agent.errors import FleetError


@dataclass(frozen=True, slots=True)
class Record:
    device: str
    pipeline: str
    seq: int
    kind: str
    ts: float | None
    received: float
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Gap:
    device: str
    pipeline: str
    first_missing: int
    last_missing: int

    @property
    def count(self) -> int:
        return self.last_missing - self.first_missing + 1


class Store(Protocol):
    def add(self, records: list[Record]) -> int:
        """Insert, ignoring rows already stored; return how many were new."""
        ...

    def count(self, device: str | None = None) -> int: ...

    def gaps(self, device: str | None = None) -> list[Gap]: ...

    def ranges(self) -> list[tuple[str, str, int, int, int]]:
        """(device, pipeline, first seq, last seq, rows) per stream."""
        ...

    def close(self) -> None: ...


_GAPS = """
SELECT device, pipeline, prev + 1, seq - 1 FROM (
    SELECT device, pipeline, seq,
           LAG(seq) OVER (PARTITION BY device, pipeline ORDER BY seq) AS prev
    FROM messages {where}
) AS t WHERE seq - prev > 1 ORDER BY device, pipeline, seq
"""
_RANGES = (
    "SELECT device, pipeline, MIN(seq), MAX(seq), COUNT(*) FROM messages "
    "GROUP BY device, pipeline ORDER BY device, pipeline"
)


class SQLiteStore:
    """WAL mode with a busy timeout, so several collector processes can share one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (device TEXT NOT NULL, pipeline TEXT NOT NULL, "
            "seq INTEGER NOT NULL, kind TEXT NOT NULL, ts REAL, received REAL NOT NULL, body TEXT NOT NULL, "
            "PRIMARY KEY (device, pipeline, seq))"
        )

    def add(self, records: list[Record]) -> int:
        rows = [
            (r.device, r.pipeline, r.seq, r.kind, r.ts, r.received, json.dumps(r.body, separators=(",", ":")))
            for r in records
        ]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO messages VALUES (?,?,?,?,?,?,?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            return self._db.total_changes - before

    def count(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
            q = "SELECT COUNT(*) FROM messages WHERE device = ?"
            return int(self._db.execute(q, (device,)).fetchone()[0])

    def gaps(self, device: str | None = None) -> list[Gap]:
        sql = _GAPS.format(where="WHERE device = ?" if device else "")
        with self._lock:
            rows = self._db.execute(sql, (device,) if device else ()).fetchall()
        return [Gap(*r) for r in rows]

    def ranges(self) -> list[tuple[str, str, int, int, int]]:
        with self._lock:
            return [tuple(r) for r in self._db.execute(_RANGES).fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresStore:
    """The same table in PostgreSQL (psycopg 3, `fleet` extra); body is JSONB for ad-hoc queries."""

    def __init__(self, dsn: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise FleetError(
                "PostgreSQL needs psycopg: pip install 'onnx-edge-agent[fleet]' (from a clone: '.[fleet]')"
            ) from exc
        try:
            self._db = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            raise FleetError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from exc
        self._lock = threading.Lock()
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (device TEXT NOT NULL, pipeline TEXT NOT NULL, "
            "seq BIGINT NOT NULL, kind TEXT NOT NULL, ts DOUBLE PRECISION, "
            "received DOUBLE PRECISION NOT NULL, body JSONB NOT NULL, PRIMARY KEY (device, pipeline, seq))"
        )

    def add(self, records: list[Record]) -> int:
        rows = [
            (r.device, r.pipeline, r.seq, r.kind, r.ts, r.received, json.dumps(r.body, separators=(",", ":")))
            for r in records
        ]
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO messages VALUES (%s,%s,%s,%s,%s,%s,%s::jsonb) ON CONFLICT DO NOTHING", rows
            )
            return max(cur.rowcount, 0)

    def count(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                row = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
            else:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM messages WHERE device = %s", (device,)
                ).fetchone()
        return int(row[0]) if row else 0

    def gaps(self, device: str | None = None) -> list[Gap]:
        sql = _GAPS.format(where="WHERE device = %s" if device else "")
        with self._lock:
            rows = self._db.execute(sql, (device,) if device else ()).fetchall()
        return [Gap(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    def ranges(self) -> list[tuple[str, str, int, int, int]]:
        with self._lock:
            rows = self._db.execute(_RANGES).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(target: str) -> Store:
    """`postgresql://...` / `postgres://...` / `host=... dbname=...` is a DSN; anything else a SQLite path."""
    if target.startswith(("postgresql://", "postgres://")) or "dbname=" in target:
        return PostgresStore(target)
    return SQLiteStore(Path(target))
