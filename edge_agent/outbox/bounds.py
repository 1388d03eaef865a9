"""Staying within bounds: which stored batches go first when the outbox is full, and which accepted
messages go first when the disk refuses writes and they must wait in memory.

Drop order: detail (priority 0) first, then results (1) past retention, then the oldest results,
events (2) last. Batches already loaded for sending are about to leave and are never chosen.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field

from edge_agent.outbox.config import OutboxConfig
from edge_agent.stages.types import Outbound

HEADROOM = 0.9  # once over a bound, drop down to this share of it, so drops come in bursts, not per commit


@dataclass(slots=True)
class Victims:
    ids: list[int] = field(default_factory=list)
    rows_left: int = 0
    bytes_left: int = 0
    by_priority: dict[int, int] = field(default_factory=dict)  # priority -> messages


def over(cfg: OutboxConfig, rows: int, nbytes: int) -> bool:
    return rows > cfg.max_rows or nbytes > cfg.max_bytes


def choose_victims(
    db: sqlite3.Connection, cfg: OutboxConfig, rows: int, nbytes: int, after_id: int
) -> Victims:
    """Stored batches (id > after_id) to delete to get under HEADROOM of both bounds."""
    target_rows = int(cfg.max_rows * HEADROOM)
    target_bytes = int(cfg.max_bytes * HEADROOM)
    cutoff = time.time() - cfg.retention_s
    orders: list[tuple[str, tuple[float, ...]]] = [
        ("priority <= 0", ()),
        ("priority = 1 AND created < ?", (cutoff,)),
        ("priority = 1", ()),
        ("priority >= 2", ()),
    ]
    v = Victims(rows_left=rows, bytes_left=nbytes)
    chosen: set[int] = set()
    for where, args in orders:
        for rid, n, size, prio in db.execute(
            f"SELECT id, n, LENGTH(data), priority FROM batch WHERE {where} AND id > ? ORDER BY id",
            (*args, after_id),
        ).fetchall():
            if v.rows_left <= target_rows and v.bytes_left <= target_bytes:
                return v
            if rid in chosen:  # results past retention were already taken by the earlier pass
                continue
            chosen.add(rid)
            v.ids.append(rid)
            v.rows_left -= n
            v.bytes_left -= size
            v.by_priority[prio] = v.by_priority.get(prio, 0) + n
    return v


def trim_pending(pending: list[Outbound], limit: int) -> tuple[list[Outbound], dict[int, int]]:
    """Keep at most `limit` messages in order; drop detail, then results, events last, and within a
    priority the newest first (the oldest have waited longest and are nearest to delivery)."""
    excess = len(pending) - limit
    if excess <= 0:
        return pending, {}
    order = sorted(range(len(pending)), key=lambda i: (pending[i].priority, -i))
    drop = set(order[:excess])
    by: dict[int, int] = {}
    for i in drop:
        by[pending[i].priority] = by.get(pending[i].priority, 0) + 1
    return [m for i, m in enumerate(pending) if i not in drop], by
