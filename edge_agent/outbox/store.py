"""The durable outbox: every result is committed to SQLite (WAL) before it is published.

One thread owns the database connection. It batches inserts into one transaction (every
`commit_interval_ms` or `commit_batch` messages), assigns each message its per-pipeline sequence
number inside that transaction (so numbering survives restarts), hands committed rows to the
publisher in id order with at most `max_inflight` awaiting PUBACK, and deletes a row only when its
PUBACK reports success. Rows the broker refuses (e.g. ACL denial) move to a small dead-letter table.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.config.models import OutboxConfig
from edge_agent.errors import OutboxError
from edge_agent.pipeline.types import Outbound

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    priority INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seq (pipeline TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
"""
DEAD_KEEP = 1000
PAYLOAD_VERSION = 1

# publish(topic, payload) -> message token (paho mid) or None when it cannot take it now
SendFn = Callable[[str, bytes], "int | None"]


@dataclass(slots=True)
class OutboxStats:
    accepted: int = 0
    committed: int = 0
    delivered: int = 0
    rejected: int = 0
    dropped: int = 0
    commits: int = 0
    commit_errors: int = 0
    degraded: str | None = None
    last_seq: dict[str, int] = field(default_factory=dict)


class Outbox:
    """Durable, bounded, ordered queue between the pipelines and the MQTT publisher."""

    def __init__(self, cfg: OutboxConfig, path: Path, device: str, prefix: str, window: int = 64) -> None:
        self.cfg = cfg
        self.window = window
        self.path = path
        self.device = device
        self.prefix = prefix
        self.stats = OutboxStats()
        self._cmd: queue.Queue[tuple[str, object]] = queue.Queue()
        self._send: SendFn | None = None
        self._can_send: Callable[[], bool] = lambda: False
        self._inflight: dict[int, int] = {}  # mid -> row id
        self._sent_upto = 0  # highest row id handed to the publisher in this process
        self._pending: list[Outbound] = []
        self._acks: list[tuple[int, bool, str]] = []
        self._depth = 0
        self._bytes = 0
        self._stop = threading.Event()
        self._drained = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._db = self._open()

    # -- public API (any thread) -------------------------------------------------------------
    def put(self, msg: Outbound) -> None:
        """Accept a message; it is durable once the next batch commits."""
        self.stats.accepted += 1
        self._cmd.put(("put", msg))

    def ack(self, mid: int, ok: bool, reason: str = "") -> None:
        """Called from the MQTT thread when a PUBACK arrives."""
        self._cmd.put(("ack", (mid, ok, reason)))

    def wake(self) -> None:
        """The publisher (re)connected: try sending now."""
        self._cmd.put(("wake", None))

    @property
    def depth(self) -> int:
        """Messages accepted but not yet acknowledged by the broker."""
        return self._depth + len(self._pending) + self._cmd.qsize()

    def start(self, send: SendFn, can_send: Callable[[], bool]) -> None:
        self._send = send
        self._can_send = can_send
        self._thread.start()

    def close(self, drain_s: float = 0.0) -> None:
        """Commit what was accepted; wait up to `drain_s` for delivery; the rest stays for next start."""
        self._cmd.put(("flush", None))
        if drain_s > 0:
            self._drained.clear()
            self._cmd.put(("drain", None))
            self._drained.wait(drain_s)
        self._stop.set()
        self._cmd.put(("stop", None))
        if self._thread.is_alive():
            self._thread.join(5)
        else:
            self._commit()
        self._db.close()

    def snapshot(self) -> dict[str, object]:
        return {
            "depth": self.depth,
            "bytes": self._bytes,
            "inflight": len(self._inflight),
            "accepted": self.stats.accepted,
            "committed": self.stats.committed,
            "delivered": self.stats.delivered,
            "rejected": self.stats.rejected,
            "dropped": self.stats.dropped,
            "degraded": self.stats.degraded,
        }

    # -- database ------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a process crash; fewer fsyncs spare SD cards.
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            row = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
            self._depth, self._bytes = int(row[0]), int(row[1])
            self.stats.last_seq = dict(db.execute("SELECT pipeline, last FROM seq").fetchall())
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        if self._depth:
            log.info("outbox %s: %d messages kept from the last run", self.path, self._depth)
        return db

    def _commit(self) -> None:
        if not self._pending and not self._acks:
            return
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            seqs = dict(self.stats.last_seq)
            rows = []
            for msg in self._pending:
                seq = seqs.get(msg.pipeline, 0) + 1
                seqs[msg.pipeline] = seq
                body = {"v": PAYLOAD_VERSION, "device": self.device, "pipeline": msg.pipeline, "seq": seq}
                body.update(msg.body)
                payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
                topic = f"{self.prefix}/{self.device}/{msg.pipeline}/{msg.kind}"
                rows.append((msg.pipeline, topic, payload, msg.priority, time.time()))
            db.executemany(
                "INSERT INTO outbox (pipeline, topic, payload, priority, created) VALUES (?,?,?,?,?)", rows
            )
            db.executemany(
                "INSERT INTO seq (pipeline, last) VALUES (?, ?) "
                "ON CONFLICT(pipeline) DO UPDATE SET last=excluded.last",
                [(p, s) for p, s in seqs.items() if self.stats.last_seq.get(p) != s],
            )
            done = [(rid,) for rid, ok, _ in self._acks if ok]
            dead = [(rid, reason) for rid, ok, reason in self._acks if not ok]
            freed = self._delete(done, dead)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(exc)
            return
        self.stats.last_seq = seqs
        self.stats.committed += len(rows)
        self.stats.commits += 1
        self._depth += len(rows) - len(done) - len(dead)
        self._bytes += sum(len(r[2]) for r in rows) - freed
        self.stats.delivered += len(done)
        self.stats.rejected += len(dead)
        self._pending.clear()
        self._acks.clear()
        if self.stats.degraded:
            log.info("outbox writes work again")
            self.stats.degraded = None
        self._enforce_bounds()

    def _delete(self, done: list[tuple[int]], dead: list[tuple[int, str]]) -> int:
        db = self._db
        freed = 0
        ids = [d[0] for d in done] + [d[0] for d in dead]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            row = db.execute(
                f"SELECT COALESCE(SUM(LENGTH(payload)),0) FROM outbox WHERE id IN ({marks})", part
            )
            freed += int(row.fetchone()[0])
        if dead:
            db.executemany(
                "INSERT OR REPLACE INTO dead (id, topic, payload, reason, at) "
                "SELECT id, topic, payload, ?, ? FROM outbox WHERE id = ?",
                [(reason, time.time(), rid) for rid, reason in dead],
            )
            db.execute(
                "DELETE FROM dead WHERE id NOT IN (SELECT id FROM dead ORDER BY id DESC LIMIT ?)",
                (DEAD_KEEP,),
            )
        db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        return freed

    def _rollback(self, exc: sqlite3.Error) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            log.debug("rollback failed", exc_info=True)
        self.stats.commit_errors += 1
        if self.stats.degraded is None:
            log.error("outbox commit failed (%s); keeping %d messages in memory", exc, len(self._pending))
        self.stats.degraded = f"outbox writes failing: {exc}"
        # Bound memory while the disk refuses writes: keep events over results over detail.
        limit = max(self.cfg.commit_batch * 50, 1000)
        if len(self._pending) > limit:
            self._pending.sort(key=lambda m: -m.priority)
            self.stats.dropped += len(self._pending) - limit
            del self._pending[limit:]

    def _enforce_bounds(self) -> None:
        if self._depth <= self.cfg.max_rows and self._bytes <= self.cfg.max_bytes:
            return
        db = self._db
        cutoff = time.time() - self.cfg.retention_s
        target_rows = int(self.cfg.max_rows * 0.9)
        target_bytes = int(self.cfg.max_bytes * 0.9)
        inflight = set(self._inflight.values())
        # Drop order: detail first, then results past retention, then oldest results, events last.
        orders = [
            ("priority = 0", ()),
            ("priority = 1 AND created < ?", (cutoff,)),
            ("priority = 1", ()),
            ("priority >= 2", ()),
        ]
        try:
            for where, args in orders:
                while self._depth > target_rows or self._bytes > target_bytes:
                    rows = db.execute(
                        f"SELECT id, LENGTH(payload) FROM outbox WHERE {where} ORDER BY id LIMIT 500", args
                    ).fetchall()
                    rows = [r for r in rows if r[0] not in inflight]
                    if not rows:
                        break
                    db.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in rows])
                    self._depth -= len(rows)
                    self._bytes -= sum(int(r[1]) for r in rows)
                    self.stats.dropped += len(rows)
        except sqlite3.Error as exc:
            self._rollback(exc)
            return
        log.warning("outbox full: dropped messages by priority (total dropped %d)", self.stats.dropped)

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        interval = self.cfg.commit_interval_ms / 1000.0
        first_pending = 0.0
        draining = False
        while True:
            timeout = 0.05 if not self._pending else max(0.0, first_pending + interval - time.monotonic())
            try:
                cmd, arg = self._cmd.get(timeout=timeout)
            except queue.Empty:
                cmd, arg = "tick", None
            flush = False
            while True:
                if cmd == "put":
                    assert isinstance(arg, Outbound)
                    if not self._pending:
                        first_pending = time.monotonic()
                    self._pending.append(arg)
                elif cmd == "ack":
                    mid, ok, reason = arg  # type: ignore[misc]
                    self._on_ack(mid, ok, reason)
                elif cmd in ("flush", "stop"):
                    flush = True
                elif cmd == "drain":
                    draining = True
                if cmd == "stop" or len(self._pending) >= self.cfg.commit_batch:
                    break
                try:
                    cmd, arg = self._cmd.get_nowait()
                except queue.Empty:
                    break
            due = self._pending and time.monotonic() - first_pending >= interval
            if (
                flush
                or due
                or len(self._pending) >= self.cfg.commit_batch
                or (self._acks and not self._pending)
            ):
                self._commit()
            self._send_more()
            if draining and self._depth == 0 and not self._pending:
                self._drained.set()
            if cmd == "stop":
                self._commit()
                return

    def _on_ack(self, mid: int, ok: bool, reason: str) -> None:
        rid = self._inflight.pop(mid, None)
        if rid is None:
            return
        if not ok:
            log.warning("broker refused message %d: %s (counted as not delivered)", rid, reason)
        self._acks.append((rid, ok, reason))

    def _send_more(self) -> None:
        if self._send is None or not self._can_send():
            return
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        try:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (self._sent_upto, room),
            ).fetchall()
        except sqlite3.Error as exc:
            log.warning("outbox read failed: %s", exc)
            return
        for rid, topic, payload in rows:
            mid = self._send(topic, bytes(payload))
            if mid is None:
                return  # not connected any more: resume from here on wake
            self._inflight[mid] = rid
            self._sent_upto = rid
