"""The durable outbox: every result is committed to SQLite (WAL) before it is published.

One thread owns the database connection. It batches accepted messages into one transaction (every
`commit_interval_ms` or `commit_batch` messages), assigns each its per-pipeline sequence number inside
that transaction (so numbering survives restarts and is never reused), and stores the batch as one
compressed row (edge_agent/outbox/db.py). Committed batches are handed to the publisher in order with
at most `window` messages awaiting PUBACK; a batch row is deleted, in a later commit, once every
message in it has a PUBACK. A PUBACK with a failure reason code (e.g. ACL denial) moves that message
to a small dead-letter table. Messages handed to paho are never handed again in the same process
(paho re-sends its own in-flight messages after a reconnect); after a crash, batches not fully
acknowledged are sent again: at-least-once, duplicates possible, never a gap.

Bounds: `max_rows` messages and `max_bytes` stored; past them, whole batches are dropped by priority
(detail, then results past retention, then oldest results, events last) and counted in status. When
the disk refuses writes (ENOSPC, I/O error) the agent keeps running: new messages wait in memory
(bounded, dropped by the same priority), status says degraded, and what was committed stays.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.errors import OutboxError
from edge_agent.outbox.bounds import choose_victims, over, trim_pending
from edge_agent.outbox.config import OutboxConfig
from edge_agent.outbox.db import Message, Row, connect, decode, last_seqs, pack, thread_io
from edge_agent.stages.types import Outbound

log = logging.getLogger(__name__)

DEAD_KEEP = 1000
LOADED_MAX = 4  # batches held in memory for sending; the rest wait on disk
IDLE_TICK_S = 0.5  # loop at least this often: re-check can_send, refresh the heartbeat
RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0  # commit retry backoff while the disk refuses writes

# publish(topic, payload) -> message token (paho mid) or None when it cannot take it now
SendFn = Callable[[str, bytes], "int | None"]


@dataclass(slots=True)
class OutboxStats:
    accepted: int = 0
    committed: int = 0
    delivered: int = 0
    rejected: int = 0
    dropped: int = 0
    dropped_by_priority: dict[int, int] = field(default_factory=dict)
    commits: int = 0
    commit_errors: int = 0
    bytes_written: int = 0  # by the outbox thread since start (WAL, checkpoints)
    degraded: str | None = None
    last_seq: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Batch:
    """A committed batch being delivered: handed out in order, deleted once all are acknowledged."""

    id: int
    msgs: list[Message]
    size: int  # stored (compressed) bytes
    sent: int = 0
    done: int = 0


class Outbox:
    """Durable, bounded, ordered queue between the pipelines and the MQTT publisher."""

    def __init__(self, cfg: OutboxConfig, path: Path, device: str, prefix: str, window: int = 64) -> None:
        self.cfg = cfg
        self.window = window
        self.path = path
        self.device = device
        self.prefix = prefix
        self.stats = OutboxStats()
        # SimpleQueue: C-implemented, a fraction of queue.Queue's cost per put/get on the hot path.
        self._cmd: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._send: SendFn | None = None
        self._can_send: Callable[[], bool] = lambda: False
        self._pending: list[Outbound] = []  # accepted, not yet committed
        self._to_send: deque[_Batch] = deque()  # loaded batches with messages not yet handed out
        self._inflight: dict[int, tuple[_Batch, int]] = {}  # mid -> (batch, index)
        self._last_loaded = 0  # highest batch id loaded in this process
        self._finished: list[_Batch] = []  # fully acknowledged, deleted at the next commit
        self._dead: list[tuple[str, bytes, str]] = []
        self._rows = 0  # messages stored in the database
        self._bytes = 0  # stored (compressed) bytes
        self._acked = 0  # stored messages already acknowledged (their batch not yet deleted)
        self._next_id = 1
        self._holder: dict[str, int] = {}  # pipeline -> newest stored batch carrying its last number
        self._retry_at = 0.0
        self._retry_s = RETRY_MIN_S
        self._io0 = (0, 0)
        self._drained = threading.Event()
        self._count_lock = threading.Lock()
        self._taken = 0  # puts the outbox thread has taken off its queue (depth counts the rest)
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self.beat = time.monotonic()  # the outbox thread's last loop: proof of progress (watchdog)
        self._db = self._open()

    # -- public API (any thread) -------------------------------------------------------------
    def put(self, msg: Outbound) -> None:
        """Accept a message; it is durable once the next batch commits."""
        with self._count_lock:  # several pipelines' infer threads put concurrently
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
        queued = self.stats.accepted - self._taken  # puts not yet taken by the outbox thread
        return self._rows - self._acked + len(self._pending) + queued

    def start(self, send: SendFn, can_send: Callable[[], bool]) -> None:
        self._send = send
        self._can_send = can_send
        self._thread.start()

    def close(self, drain_s: float = 0.0) -> None:
        """Commit what was accepted; wait up to `drain_s` for delivery; the rest stays for next start."""
        self._cmd.put(("flush", None))
        if drain_s > 0 and self._thread.is_alive():
            self._drained.clear()
            self._cmd.put(("drain", None))
            self._drained.wait(drain_s)
        self._cmd.put(("stop", None))
        if self._thread.is_alive():
            self._thread.join(5)
        else:  # never started (or already gone): commit what was queued here
            while not self._cmd.empty():
                self._take_commands()
                self._commit()
        self._db.close()

    def snapshot(self) -> dict[str, object]:
        committed = self.stats.committed
        return {
            "depth": self.depth,
            "bytes": self._bytes,
            "inflight": len(self._inflight),
            "accepted": self.stats.accepted,
            "committed": committed,
            "delivered": self.stats.delivered,
            "rejected": self.stats.rejected,
            "dropped": self.stats.dropped,
            "dropped_by_priority": dict(self.stats.dropped_by_priority),
            "bytes_written_per_result": round(self.stats.bytes_written / committed, 1) if committed else None,
            "degraded": self.stats.degraded,
        }

    # -- database ------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        try:
            db = connect(self.path)
            row = db.execute("SELECT COALESCE(SUM(n), 0), COALESCE(SUM(LENGTH(data)), 0), MAX(id) FROM batch")
            self._rows, self._bytes, top = row.fetchone()
            self._next_id = (top or 0) + 1
            self.stats.last_seq, self._holder = last_seqs(db)
        except (sqlite3.Error, ValueError) as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        if self._rows:
            log.info("outbox %s: %d messages kept from the last run", self.path, self._rows)
        return db

    def _keep_seqs(
        self, holder: dict[str, int], deleted: set[int], seqs: dict[str, int]
    ) -> list[tuple[str, int]]:
        """Pipelines whose newest numbered batch is being deleted: their last number moves to the
        `seq` table in the same transaction (and `holder` forgets them)."""
        out = [(p, seqs[p]) for p, rid in holder.items() if rid in deleted]
        for p, _ in out:
            del holder[p]
        return out

    def _write(
        self,
        rows: list[Row],
        seqs: dict[str, int],
        finished: list[_Batch],
        dead: list[tuple[str, bytes, str]],
        dropped: list[int],
    ) -> dict[str, int]:
        """One transaction; returns the new holder map. Raises sqlite3.Error (rolled back by caller)."""
        holder = dict(self._holder)
        for rid, *_rest, row_seqs in rows:
            holder.update(dict.fromkeys(json.loads(row_seqs), rid))
        gone = {b.id for b in finished} | set(dropped)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO batch (id, priority, created, n, data, seqs) VALUES (?,?,?,?,?,?)", rows)
        db.executemany(
            "INSERT INTO seq (pipeline, last) VALUES (?, ?) "
            "ON CONFLICT(pipeline) DO UPDATE SET last=excluded.last",
            self._keep_seqs(holder, gone, seqs),
        )
        if dead:
            now = time.time()
            db.executemany(
                "INSERT INTO dead (topic, payload, reason, at) VALUES (?,?,?,?)",
                [(t, p, r, now) for t, p, r in dead],
            )
            db.execute("DELETE FROM dead WHERE id <= (SELECT MAX(id) FROM dead) - ?", (DEAD_KEEP,))
        db.executemany("DELETE FROM batch WHERE id = ?", [(i,) for i in sorted(gone)])
        db.execute("COMMIT")
        return holder

    def _commit(self) -> bool:
        """One transaction: new batches, their sequence numbers, deletions of delivered batches."""
        if not (self._pending or self._finished or self._dead):
            return True
        rows, seqs, runs = pack(self._pending, self.stats.last_seq, self._next_id, self.device, self.prefix)
        finished, dead = list(self._finished), list(self._dead)
        try:
            self._holder = self._write(rows, seqs, finished, dead, [])
        except sqlite3.Error as exc:
            self._rollback(exc)
            return False
        self.stats.last_seq = seqs
        self.stats.committed += len(self._pending)
        self.stats.commits += 1
        self._next_id += len(rows)
        if rows and self._last_loaded == rows[0][0] - 1 and len(self._to_send) < LOADED_MAX:
            # Nothing older waits on disk: hand these over from memory instead of reading them back.
            for row, msgs in zip(rows, runs, strict=True):
                self._to_send.append(_Batch(row[0], msgs, len(row[4])))
                self._last_loaded = row[0]
        self._rows += len(self._pending)
        self._bytes += sum(len(r[4]) for r in rows)
        self._pending.clear()
        self._forget(finished, dead)
        self._retry_s = RETRY_MIN_S
        if self.stats.degraded:
            log.info("outbox writes work again")
            self.stats.degraded = None
        if over(self.cfg, self._rows, self._bytes):
            self._enforce_bounds()
        self._count_io()
        return True

    def _forget(self, finished: list[_Batch], dead: list[tuple[str, bytes, str]]) -> None:
        n = sum(len(b.msgs) for b in finished)
        self._rows -= n
        self._acked -= n
        self._bytes -= sum(b.size for b in finished)
        del self._finished[: len(finished)]
        del self._dead[: len(dead)]

    def _rollback(self, exc: sqlite3.Error) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self.stats.commit_errors += 1
        if self.stats.degraded is None:
            log.error("outbox commit failed (%s); keeping %d messages in memory", exc, len(self._pending))
        self.stats.degraded = f"outbox writes failing: {exc}"
        self._retry_at = time.monotonic() + self._retry_s
        self._retry_s = min(self._retry_s * 2, RETRY_MAX_S)
        # Deleting delivered batches needs far less room than storing new ones: free what we can.
        if self._finished or self._dead:
            finished, dead = list(self._finished), list(self._dead)
            try:
                self._holder = self._write([], self.stats.last_seq, finished, dead, [])
                self._forget(finished, dead)
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
        self._pending, by = trim_pending(self._pending, max(self.cfg.commit_batch * 50, 1000))
        self._count_dropped(by)

    def _enforce_bounds(self) -> None:
        try:
            v = choose_victims(self._db, self.cfg, self._rows, self._bytes, self._last_loaded)
            if not v.ids:
                return  # only batches already on their way are left
            self._holder = self._write([], self.stats.last_seq, [], [], v.ids)
        except sqlite3.Error as exc:
            self._rollback(exc)
            return
        self._rows, self._bytes = v.rows_left, v.bytes_left
        self._count_dropped(v.by_priority)
        log.warning(
            "outbox full: dropped %d messages by priority (total %d)",
            sum(v.by_priority.values()),
            self.stats.dropped,
        )

    def _count_dropped(self, by_priority: dict[int, int]) -> None:
        for prio, n in by_priority.items():
            self.stats.dropped += n
            self.stats.dropped_by_priority[prio] = self.stats.dropped_by_priority.get(prio, 0) + n

    def _count_io(self) -> None:
        wb, wc = thread_io()
        self.stats.bytes_written = (wb - self._io0[0]) or (wc - self._io0[1])

    # -- the thread ----------------------------------------------------------------------------
    def _take_commands(self, block_s: float = 0.0) -> set[str]:
        """Apply queued puts/acks; return the control commands seen (flush, drain, stop)."""
        seen: set[str] = set()
        try:
            cmd, arg = self._cmd.get(timeout=block_s) if block_s > 0 else self._cmd.get_nowait()
        except queue.Empty:
            return seen
        while True:
            if cmd == "put":
                assert isinstance(arg, Outbound)
                self._pending.append(arg)
                self._taken += 1
            elif cmd == "ack":
                assert isinstance(arg, tuple)
                self._on_ack(*arg)
            else:
                seen.add(cmd)
            if cmd == "stop" or len(self._pending) >= self.cfg.commit_batch:
                return seen
            try:
                cmd, arg = self._cmd.get_nowait()
            except queue.Empty:
                return seen

    def _run(self) -> None:
        self._io0 = thread_io()
        interval = self.cfg.commit_interval_ms / 1000.0
        dirty_since = 0.0  # when the oldest uncommitted change arrived
        draining = False
        while True:
            self.beat = now = time.monotonic()
            dirty = bool(self._pending or self._finished or self._dead)
            wait = max(dirty_since + interval, self._retry_at) - now if dirty else IDLE_TICK_S
            # Never sleep past IDLE_TICK_S: the heartbeat above is what the watchdog trusts.
            seen = self._take_commands(min(max(wait, 0.0), IDLE_TICK_S))
            now = time.monotonic()
            if not dirty and (self._pending or self._finished or self._dead):
                dirty_since = now
            draining = draining or "drain" in seen
            forced = bool(seen & {"flush", "stop"})
            due = forced or (
                now >= self._retry_at
                and (len(self._pending) >= self.cfg.commit_batch or now - dirty_since >= interval)
            )
            if due and self._commit():
                dirty_since = now
            self._send_more()
            if draining and self.depth == 0:
                self._drained.set()
            if "stop" in seen:
                self._commit()
                return

    def _on_ack(self, mid: int, ok: bool, reason: str) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is None:
            return
        batch, index = entry
        batch.done += 1
        self._acked += 1
        if ok:
            self.stats.delivered += 1
        else:
            topic, payload = batch.msgs[index]
            log.warning("broker refused a message on %s: %s (counted as not delivered)", topic, reason)
            self.stats.rejected += 1
            self._dead.append((topic, payload, reason))
        if batch.done == len(batch.msgs):
            self._finished.append(batch)

    def _load(self) -> bool:
        try:
            rows = self._db.execute(
                "SELECT id, data FROM batch WHERE id > ? ORDER BY id LIMIT ?", (self._last_loaded, LOADED_MAX)
            ).fetchall()
        except sqlite3.Error as exc:
            log.warning("outbox read failed: %s", exc)
            return False
        for rid, data in rows:
            self._to_send.append(_Batch(rid, decode(data), len(data)))
            self._last_loaded = rid
        return bool(rows)

    def _send_more(self) -> None:
        if self._send is None or not self._can_send():
            return
        while len(self._inflight) < self.window:
            if not self._to_send and not self._load():
                return
            batch = self._to_send[0]
            topic, payload = batch.msgs[batch.sent]
            mid = self._send(topic, payload)
            if mid is None:
                return  # not connected any more: resume from here on wake
            self._inflight[mid] = (batch, batch.sent)
            batch.sent += 1
            if batch.sent == len(batch.msgs):
                self._to_send.popleft()
